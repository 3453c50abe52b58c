"""Everything one browser session owns on the data-agent page, and the run in progress.

A question is answered by a worker thread, not by the Streamlit script: a rerun (any
click) would otherwise abandon the answer half-way while the model and the kernel go on
working for nobody. The page re-attaches to the running :class:`AgentRun` (a
:class:`~demo_core.jobs.Job`, like every other background model call) on every rerun
and renders its :class:`Turn`; Stop cancels the generation and interrupts the kernel.
"""

from __future__ import annotations

import io
import json
import logging
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from lagent.actions import ActionExecutor

from demo_core.agent import safefs
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
from demo_core.agent.online_plugins import ONLINE_PLUGINS
from demo_core.agent.react_agent import build_react_agent, is_first_generation, python_interpreter
from demo_core.agent.registry import KernelRegistry
from demo_core.agent.transcript import Turn, UploadInfo, to_markdown
from demo_core.agent.uploads import MAX_UPLOAD_BYTES, UploadError, check_upload, unique_name
from demo_core.engine.base import ChatEngine, GenerationParams
from demo_core.i18n import _, format_size
from demo_core.jobs import JOBS, Job

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


class AgentRun(Job):
    """One question being answered in the background: a :class:`~demo_core.jobs.Job`
    (the app's one mechanism for model work outside the script run) that also holds the
    :class:`Turn` it fills, for the page to draw while it runs."""

    def __init__(
        self, turn: Turn, work: Callable[[Job], object], alive: Callable[[], bool] | None = None
    ) -> None:
        super().__init__("agent", "Answering", work, alive=alive)
        self.turn = turn


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
        """Validate and store an upload; raises :class:`UploadError` with the reason.
        The file is created without following links (the kernel may have planted one
        under the same name)."""
        checked = check_upload(filename, data, max_bytes)
        note = "; ".join(x for x in (checked.summary, checked.note) if x)
        try:
            same = safefs.read_file(self.work_dir, checked.name, len(checked.data) + 1)
        except OSError:
            same = None
        if same == checked.data:  # the same file again
            path = self.work_dir / checked.name
            return self._pending(UploadInfo(checked.name, str(path), len(checked.data), note))
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
        name = unique_name(lambda n: safefs.exists(self.work_dir, n), checked.name)
        try:
            self.kernel.write_file(name, checked.data)
        except FileExistsError:
            raise UploadError(
                f"{name} appeared in the session folder meanwhile; try again."
            ) from None
        except OSError as exc:
            raise UploadError(
                _("{name} could not be saved in the session folder ({error}).").format(
                    name=checked.name, error=exc.strerror or exc
                )
            ) from None
        path = self.work_dir / name
        return self._pending(UploadInfo(name, str(path), len(checked.data), note))

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
                try:
                    safefs.delete(self.work_dir, info.name)
                except OSError:
                    pass
                return True
        return False

    def file_entries(self) -> list[safefs.Entry]:
        """The session's plain files (links, special files and hard links are not listed:
        the app never reads them)."""
        return safefs.walk(self.work_dir)

    def files(self) -> list[Path]:
        return [self.work_dir / e.rel for e in self.file_entries()]

    def files_size(self) -> int:
        """All the kernel can write counts: work folder, its /tmp, its socket folder."""
        return folder_size(*self.kernel.quota_folders())

    def delete_file(self, relative: str) -> None:
        """Remove one file of the session (to get under the folder limit, or tidy up).
        Only paths inside the work folder, never through a link; a file already gone is
        fine."""
        try:
            safefs.delete(self.work_dir, relative)
        except IsADirectoryError:
            raise ValueError(f"{relative} is a folder, not a file") from None
        except safefs.UnsafePath:
            raise ValueError(f"{relative} is not a file of this session") from None
        target = self.work_dir / relative
        self.pending_files = [f for f in self.pending_files if Path(f.path) != target]

    def files_zip(self) -> bytes:
        """The work folder (uploads, plots, whatever the code wrote) plus the transcript.
        Each file is read through :mod:`safefs`: links, special files and hard links are
        left out, so the zip can only hold what the session itself wrote."""
        total = self.files_size()
        if total > MAX_ZIP_BYTES:
            raise ValueError(
                _("the session's files take {size}, more than the {limit} a download may hold").format(
                    size=format_size(total, binary=True), limit=format_size(MAX_ZIP_BYTES, binary=True)
                )
            )
        buf = io.BytesIO()
        left = MAX_ZIP_BYTES
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for e in self.file_entries():
                try:
                    data = safefs.read_file(self.work_dir, e.rel, left)
                except OSError:
                    continue  # replaced by a link or removed since the listing
                left -= len(data)
                zf.writestr(e.rel, data)
                if left <= 0:
                    break
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

    def ask(
        self,
        question: str,
        engine: ChatEngine,
        settings: AgentSettings,
        workspace: str | None = None,
    ) -> AgentRun:
        """Answer ``question`` in the background. With a ``workspace`` the run is one of
        its jobs (:data:`demo_core.jobs.JOBS`): it goes on while any tab of the
        workspace is connected, and a teacher's reset stops it."""
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
        # outside a workspace (scripts, tests) nothing else ends it: no watchdog verdict
        always = None if workspace is not None else (lambda: True)
        run = AgentRun(turn, lambda job: self._work(run, engine, settings, new), always)
        self.run = run
        if workspace is not None:
            return JOBS.start(workspace, f"agent:{self.session_id}", run)  # type: ignore[return-value]
        run.start()
        return run

    def _work(
        self, run: AgentRun, engine: ChatEngine, settings: AgentSettings, new: list[dict]
    ) -> None:
        turn = run.turn
        try:
            known = {**OFFLINE_PLUGINS, **ONLINE_PLUGINS}
            plugins = [known[name]() for name in settings.plugins if name in known]
            if is_first_generation(engine):  # InternLM (v1): lagent's ReAct protocol
                interp = None
                if settings.interpreter:
                    interp = python_interpreter(lambda: self.kernel, settings.timeout_s)
                agent = build_react_agent(
                    engine, settings.params, interp, plugins, run.cancel_token, settings.max_turns
                )
                llm = agent._llm
            else:
                llm = EngineLLM(engine, settings.params)
                llm.cancel = run.cancel_token
                interp_ex = None
                if settings.interpreter:
                    interp_ex = ActionExecutor(
                        actions=[
                            SandboxInterpreter(lambda: self.kernel, timeout_s=settings.timeout_s)
                        ]
                    )
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

    def _history_has(self, new: list[dict]) -> bool:
        return any(q[: len(new)] == new for q in self.history)

    def _fit_history(self, agent: DataAgent, llm: EngineLLM, new: list[dict]) -> list[dict]:
        """Leave out the oldest questions until the prompt leaves room for an answer.

        Raises :class:`PromptTooLongForAgent` when even the system prompts and the new
        question alone do not fit, saying which knob helps."""
        window = llm.engine.info.context_window
        reserve = min(llm.params.max_new_tokens, window // 2)

        def tokens(steps: list[dict]) -> int:
            return llm.engine.count_tokens(llm.render(agent.format_steps(steps)))

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
