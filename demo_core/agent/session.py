"""Everything one browser session owns on the data-agent page, and the run in progress.

A question is answered by a worker thread, not by the Streamlit script: a rerun (any
click) would otherwise abandon the answer half-way while the model and the kernel go on
working for nobody. The page re-attaches to the running :class:`AgentRun` on every rerun
and renders its :class:`Turn`; Stop cancels the generation and interrupts the kernel.
"""

from __future__ import annotations

import contextvars
import io
import json
import logging
import threading
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from lagent.actions import ActionExecutor

from demo_core.agent.actions import OFFLINE_PLUGINS, SandboxInterpreter
from demo_core.agent.agent import (
    DEFAULT_INTERPRETER_PROMPT,
    DEFAULT_META_PROMPT,
    DEFAULT_PLUGIN_PROMPT,
    DataAgent,
    make_protocol,
)
from demo_core.agent.kernel import SandboxKernel, folder_size
from demo_core.agent.llm import AGENT_PARAMS, EngineLLM, PromptTooLongForAgent
from demo_core.agent.registry import KernelRegistry
from demo_core.agent.transcript import Turn, UploadInfo, to_markdown
from demo_core.agent.uploads import MAX_UPLOAD_BYTES, UploadError, check_upload, unique_path
from demo_core.engine.base import CancelToken, ChatEngine, GenerationParams
from demo_core.i18n import _, format_size

log = logging.getLogger(__name__)

DEFAULT_MODEL = "internlm2-chat-7b"
MAX_ZIP_BYTES = 300 * 1024**2


@dataclass
class AgentSettings:
    model_key: str = DEFAULT_MODEL
    interpreter: bool = True
    plugins: tuple[str, ...] = ()
    meta_prompt: str = DEFAULT_META_PROMPT
    interpreter_prompt: str = DEFAULT_INTERPRETER_PROMPT
    plugin_prompt: str = DEFAULT_PLUGIN_PROMPT
    max_turns: int = 7
    timeout_s: float = 60.0
    params: GenerationParams = field(default_factory=lambda: replace(AGENT_PARAMS))


class AgentRun:
    """One question being answered in the background."""

    def __init__(self, turn: Turn) -> None:
        self.turn = turn
        self.cancel_token = CancelToken()
        self.thread: threading.Thread | None = None
        self._done = threading.Event()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def cancelled(self) -> bool:
        return self.cancel_token.cancelled

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)


class AgentSession:
    def __init__(self, session_id: str, registry: KernelRegistry) -> None:
        self.session_id = session_id
        self.registry = registry
        self.turns: list[Turn] = []
        self.history: list[list[dict]] = []  # lagent inner steps, one list per question
        self.pending_files: list[UploadInfo] = []  # uploaded, not yet shown to the model
        self.run: AgentRun | None = None
        self.work_dir = registry.work_dir(session_id)

    # -- kernel ---------------------------------------------------------------------
    @property
    def kernel(self) -> SandboxKernel:
        return self.registry.kernel(self.session_id)

    def warm_up(self) -> None:
        """Start the kernel in the background so the first question does not wait."""
        k = self.kernel
        if k.started:
            return

        def start() -> None:
            try:
                k.start()
            except Exception as exc:  # reported again when the code actually runs
                log.warning("kernel warm-up failed: %s", exc)

        threading.Thread(target=start, daemon=True, name="kernel-warmup").start()

    def take_notice(self) -> str:
        return self.registry.notices.pop(self.session_id, "")

    # -- files ----------------------------------------------------------------------
    def add_upload(
        self, filename: str, data: bytes, max_bytes: int = MAX_UPLOAD_BYTES
    ) -> UploadInfo:
        """Validate and store an upload; raises :class:`UploadError` with the reason."""
        checked = check_upload(filename, data, max_bytes)
        note = "; ".join(x for x in (checked.summary, checked.note) if x)
        same = self.work_dir / checked.name
        if same.is_file() and same.read_bytes() == checked.data:  # the same file again
            return self._pending(UploadInfo(same.name, str(same), len(checked.data), note))
        quota = self.registry.limits.folder_bytes
        used = self.files_size()
        if used + len(checked.data) > quota:
            raise UploadError(
                _(
                    "{name} does not fit: the session's files would take {size}, more than the "
                    "{limit} limit. Delete files under Session files first."
                ).format(
                    name=checked.name,
                    size=format_size(used + len(checked.data), binary=True),
                    limit=format_size(quota, binary=True),
                )
            )
        path = unique_path(self.work_dir, checked.name)
        try:
            path.write_bytes(checked.data)
        except OSError as exc:
            path.unlink(missing_ok=True)
            raise UploadError(
                _("{name} could not be saved in the session folder ({error}).").format(
                    name=checked.name, error=exc.strerror or exc
                )
            ) from None
        if self.kernel.sandbox_uid is not None:
            self.kernel.grant(path)
        return self._pending(UploadInfo(path.name, str(path), len(checked.data), note))

    def _pending(self, info: UploadInfo) -> UploadInfo:
        if all(f.path != info.path for f in self.pending_files):
            self.pending_files.append(info)
        return info

    def withdraw_pending(self, name: str) -> bool:
        """Take back an upload the model has not seen yet (the user removed it from the
        uploader): the file goes too. Files already shown to the model stay, because code
        in later answers may read them. True when something was withdrawn."""
        for info in self.pending_files:
            if info.name == name:
                self.pending_files.remove(info)
                Path(info.path).unlink(missing_ok=True)
                return True
        return False

    def files(self) -> list[Path]:
        return sorted(p for p in self.work_dir.rglob("*") if p.is_file())

    def files_size(self) -> int:
        return folder_size(self.work_dir)

    def delete_file(self, relative: str) -> None:
        """Remove one file of the session (to get under the folder limit, or tidy up).
        Only paths inside the work folder; a file already gone is fine."""
        root = self.work_dir.resolve()
        target = (root / relative).resolve()
        if root not in target.parents:
            raise ValueError(f"{relative} is not a file of this session")
        if not target.exists():
            return
        if not target.is_file():
            raise ValueError(f"{relative} is a folder, not a file")
        target.unlink(missing_ok=True)
        self.pending_files = [f for f in self.pending_files if Path(f.path) != target]

    def files_zip(self) -> bytes:
        """The work folder (uploads, plots, whatever the code wrote) plus the transcript."""
        total = self.files_size()
        if total > MAX_ZIP_BYTES:
            raise ValueError(
                _("the session's files take {size}, more than the {limit} a download may hold").format(
                    size=format_size(total, binary=True), limit=format_size(MAX_ZIP_BYTES, binary=True)
                )
            )
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for p in self.files():
                zf.write(p, p.relative_to(self.work_dir).as_posix())
            zf.writestr("transcript.md", self.transcript())
        return buf.getvalue()

    def transcript(self) -> str:
        return to_markdown([t.snapshot() for t in self.turns])

    # -- conversation ---------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.run is not None and not self.run.done

    def clear(self) -> None:
        """Forget the conversation and the kernel's variables; keep the files."""
        self.stop()
        self.turns.clear()
        self.history.clear()
        if self.registry.has_kernel(self.session_id):
            self.registry.release(self.session_id)

    def stop(self, wait_s: float = 5.0) -> None:
        run = self.run
        if run is None or run.done:
            return
        run.cancel_token.cancel()
        if self.registry.has_kernel(self.session_id):
            self.kernel.interrupt()
        run.wait(wait_s)

    def ask(self, question: str, engine: ChatEngine, settings: AgentSettings) -> AgentRun:
        if self.running:
            raise RuntimeError("a question is still being answered; stop it first")
        files, self.pending_files = self.pending_files, []
        turn = Turn(question=question, files=files, model=engine.info.label)
        self.turns.append(turn)
        new = [dict(role="user", content=question)]
        for f in files:
            size = f"{f.size / 1024:.1f} KB" if f.size < 1024**2 else f"{f.size / 1024**2:.2f} MB"
            new.append(
                dict(role="user", name="file", content=json.dumps({"path": f.path, "size": size}))
            )
        run = AgentRun(turn)
        self.run = run
        run.thread = threading.Thread(  # in a copy of this context: messages keep its language
            target=contextvars.copy_context().run,
            args=(self._work, run, engine, settings, new),
            daemon=True,
            name="agent-run",
        )
        run.thread.start()
        return run

    def _work(
        self, run: AgentRun, engine: ChatEngine, settings: AgentSettings, new: list[dict]
    ) -> None:
        turn = run.turn
        try:
            llm = EngineLLM(engine, settings.params)
            llm.cancel = run.cancel_token
            interp_ex = None
            if settings.interpreter:
                interp_ex = ActionExecutor(
                    actions=[SandboxInterpreter(lambda: self.kernel, timeout_s=settings.timeout_s)]
                )
            plugins = [
                OFFLINE_PLUGINS[name]() for name in settings.plugins if name in OFFLINE_PLUGINS
            ]
            plugin_ex = ActionExecutor(actions=plugins) if plugins else None
            agent = DataAgent(
                llm,
                plugin_executor=plugin_ex,
                interpreter_executor=interp_ex,
                protocol=make_protocol(
                    settings.meta_prompt, settings.interpreter_prompt, settings.plugin_prompt
                ),
                max_turn=settings.max_turns,
            )
            history = self._fit_history(agent, llm, new)
            added = agent.run_turn(history, new, turn, lambda: run.cancel_token.cancelled)
            if turn.status == "running":
                turn.status = "done"
            self.history.append(new + added)
        except PromptTooLongForAgent as exc:
            turn.status = "error"
            turn.error = str(exc)[:1].upper() + str(exc)[1:]
        except Exception as exc:
            log.exception("agent run failed")
            turn.status = "error"
            turn.error = _("The agent failed: {error}").format(error=exc)
        finally:
            if run.cancel_token.cancelled and turn.status in ("running", "done"):
                turn.status = "stopped"
            if turn.status == "error" and turn.files and not self._history_has(new):
                # the model never saw this question, so it never saw its files either:
                # hand them to the next question instead of losing them
                self.pending_files = [*turn.files, *self.pending_files]
                turn.error += " The uploaded file(s) will go with your next question."
            run._done.set()

    def _history_has(self, new: list[dict]) -> bool:
        return any(q[: len(new)] == new for q in self.history)

    def _fit_history(self, agent: DataAgent, llm: EngineLLM, new: list[dict]) -> list[dict]:
        """Leave out the oldest questions until the prompt leaves room for an answer.

        Raises :class:`PromptTooLongForAgent` when even the system prompts and the new
        question alone do not fit, saying which knob helps."""
        window = llm.engine.info.context_window
        reserve = min(llm.params.max_new_tokens, window // 2)

        def tokens(steps: list[dict]) -> int:
            prompt = agent._protocol.format(
                inner_step=steps,
                plugin_executor=agent._action_executor,
                interpreter_executor=agent._interpreter_executor,
            )
            return llm.engine.count_tokens(llm.render(prompt))

        base = tokens(new)
        if base + min(64, reserve) > window:
            raise PromptTooLongForAgent(
                _(
                    "the system prompts and your question need {n} tokens, but this model reads "
                    "at most {window}. Shorten the prompts in the sidebar, turn off plugins, or "
                    "ask a shorter question."
                ).format(n=base, window=window)
            )
        kept = list(self.history)
        while kept:
            flat = [m for q in kept for m in q]
            if tokens(flat + new) + reserve <= window:
                return flat
            kept.pop(0)
        return []
