"""What the user sees of a conversation: turns made of steps, and their Markdown export.

The agent's worker thread fills these in while the page re-renders them, so they are
plain data; :meth:`Turn.snapshot` gives the page a consistent copy.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field

from demo_core.agent.kernel import ExecutionResult, Output
from demo_core.i18n import _, format_size


@dataclass
class Step:
    """One model call and what came of it: thoughts, then a tool call and its result, or
    the final answer."""

    thought: str = ""
    tool: str = ""  # "" (answer) | "interpreter" | "plugin"
    code: str = ""  # interpreter: the Python; plugin: the JSON call
    result: ExecutionResult | None = None  # interpreter output
    tool_output: str = ""  # plugin output / error, or why the call could not run
    tool_ok: bool = True
    live: list[Output] = field(default_factory=list)  # outputs so far, while code runs
    status: str = "thinking"  # thinking | running | done | stopped | error
    # for the "How it works" loop diagram: the model call's size and both durations
    prompt_tokens: int = 0
    new_tokens: int = 0
    model_s: float = 0.0
    tool_s: float = 0.0


@dataclass
class UploadInfo:
    name: str
    path: str
    size: int
    note: str = ""


@dataclass
class Turn:
    question: str
    files: list[UploadInfo] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    answer: str = ""
    status: str = "running"  # running | done | stopped | error
    error: str = ""
    model: str = ""
    # step index -> demo_core.engine.trace.Trace of its model call, recorded while the
    # "How it works" panel is open; not copied by snapshot() (it refers to the engine)
    traces: dict = field(default_factory=dict, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def snapshot(self) -> Turn:
        with self._lock:
            steps = copy.deepcopy(self.steps)
            files = list(self.files)
        t = Turn(self.question, files, steps, self.answer, self.status, self.error, self.model)
        return t

    def new_step(self) -> Step:
        with self._lock:
            s = Step()
            self.steps.append(s)
            return s

    def __deepcopy__(self, memo: dict) -> Turn:
        return self.snapshot()

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_lock", None)
        state.pop("traces", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.traces = {}
        self._lock = threading.Lock()


def _fence(text: str, lang: str = "") -> str:
    ticks = "```"
    while ticks in text:
        ticks += "`"
    return f"{ticks}{lang}\n{text.rstrip()}\n{ticks}"


def to_markdown(turns: list[Turn], title: str | None = None) -> str:
    """A self-contained record: questions, each step's code and output, answers. Images
    are linked by their path in the session's file archive (``figures/...``)."""
    heading = title or _("Data-analysis agent transcript")  # not in an f-string: unseen there
    out = [f"# {heading}", ""]
    for i, turn in enumerate(turns, 1):
        out += [f"## {i}. " + _("Question"), "", turn.question.strip(), ""]
        for f in turn.files:
            out.append(
                "- "
                + _("attached file: `{name}` ({size})").format(
                    name=f.name, size=format_size(f.size)
                )
                + (" - " + f.note if f.note else "")
            )
        if turn.files:
            out.append("")
        for j, step in enumerate(turn.steps, 1):
            if step.thought.strip() and (step.tool or turn.answer != step.thought):
                out += ["**" + _("Step {n}.").format(n=j) + f"** {step.thought.strip()}", ""]
            if step.tool == "interpreter":
                out += [_fence(step.code, "python"), ""]
                if step.result is not None:
                    text = step.result.text()
                    if text:
                        out += [_("Output:"), "", _fence(text), ""]
                    for img in step.result.images:
                        if img.path:
                            out += [f"![{img.path}]({img.path})", ""]
            elif step.tool == "plugin":
                out += [
                    _fence(step.code, "json"),
                    "",
                    _("Result:"),
                    "",
                    _fence(step.tool_output),
                    "",
                ]
            elif step.tool_output:
                out += [f"> {step.tool_output}", ""]
        if turn.answer.strip():
            out += ["**" + _("Answer:") + "**", "", turn.answer.strip(), ""]
        if turn.status in ("stopped", "error"):
            status = _("stopped") if turn.status == "stopped" else _("error")
            out += [f"_({status}{': ' + turn.error if turn.error else ''})_", ""]
    return "\n".join(out).rstrip() + "\n"
