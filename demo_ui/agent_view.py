"""Streamlit rendering for the data agent: a turn's steps, code, outputs, tables and plots.

Rendering is a pure function of a :class:`~demo_core.agent.transcript.Turn` snapshot,
so the page can redraw a running turn many times a second and a finished one on every
rerun without keeping widgets in sync. A running turn gets no widgets (keys would clash
on redraw); a finished one is drawn once per run under a ``key`` the page gives it, so a
long output can offer "Show all" and a download.

Long text output is capped: code that prints 200,000 characters made a page 436,000 px
tall. The first :data:`MAX_SHOWN_CHARS` go in a scrollable box of fixed height; the rest
is one click away.
"""

from __future__ import annotations

import streamlit as st

from demo_core.agent import sandbox
from demo_core.agent.kernel import ExecutionResult, KernelLimits, Output
from demo_core.agent.registry import KernelRegistry
from demo_core.agent.transcript import Step, Turn
from demo_core.i18n import N_, _, format_size

MAX_SHOWN_CHARS = 20_000
BOX_HEIGHT_PX = 360

STATUS_TEXT = {
    "thinking": N_("Thinking…"),
    "running": N_("Running the code…"),
}


@st.cache_resource(show_spinner=False)
def get_kernel_registry() -> KernelRegistry:
    """One registry for the process: it owns every session's kernel and reaps them."""
    return KernelRegistry(limits=KernelLimits())


def needs_sandbox_consent(session) -> bool:
    """No OS sandbox here and this session's user has not agreed to run code anyway."""
    return not sandbox.availability().ok and not session.registry.unsandboxed_allowed(
        session.session_id
    )


def sandbox_consent(session) -> None:
    """Say in plain words, before the first run, that code would not be isolated, and run
    code only once the user agrees."""
    reason = sandbox.availability().reason
    st.warning(
        _(
            "**No sandbox on this machine.** The Python code the model writes would run with "
            "the app's own rights: it could read and change files of the app and of other "
            "users' sessions, and reach the network. Reason: {reason}."
        ).format(reason=reason),
        icon="⚠️",
    )
    if st.button(_("I understand: run code without a sandbox"), key="data_agent_consent"):
        session.registry.allow_unsandboxed(session.session_id)
        st.rerun()


def sandbox_badge(session) -> None:
    """Sidebar line: is this session's code isolated, and how."""
    k = session.kernel
    if sandbox.availability().ok:
        extra = _(" · restarted {n}×").format(n=k.restarts) if k.restarts else ""
        st.caption(
            _(":material/shield: Sandboxed (bubblewrap){extra}").format(extra=extra),
            help=_(
                "Code runs in its own namespaces as an unprivileged user with a seccomp filter: "
                "no network, no files but this session's, limited memory, processes and time."
            ),
        )
    elif session.registry.unsandboxed_allowed(session.session_id):
        st.error(_("No sandbox: code runs with the app's rights"), icon=":material/gpp_bad:")
    else:
        st.warning(
            _("No sandbox available: code will not run until you agree"),
            icon=":material/gpp_maybe:",
        )


def render_text(text: str, key: str | None, language: str = "text") -> None:
    """Text output: in full when short; else its start in a fixed-height scrollable box,
    with "Show all" and a download when the turn is finished (``key`` given)."""
    if len(text) <= MAX_SHOWN_CHARS:
        st.code(text, language=language)
        return
    st.code(text[:MAX_SHOWN_CHARS], language=language, height=BOX_HEIGHT_PX)
    st.caption(
        _("Showing the first {shown:,} of {total:,} characters.").format(
            shown=MAX_SHOWN_CHARS, total=len(text)
        )
    )
    if key is None:
        return
    left, right = st.columns(2)
    show_all = left.toggle(_("Show all"), key=f"{key}_all")
    right.download_button(
        _("Download the whole output"),
        data=text.encode("utf-8"),
        file_name="output.txt",
        mime="text/plain",
        icon=":material/download:",
        on_click="ignore",
        key=f"{key}_dl",
    )
    if show_all:
        st.code(text, language=language, height=BOX_HEIGHT_PX * 2)


def render_output(o: Output, key: str | None = None) -> None:
    if o.kind == "image" and o.png:
        st.image(o.png, caption=o.path or None)
    elif o.kind == "table" and o.table is not None:
        import pandas as pd

        df = pd.DataFrame(o.table["data"], columns=o.table["columns"])
        if "index" in df.columns:
            df = df.set_index("index")
            df.index.name = None
        st.dataframe(df, width="stretch")
    elif o.kind == "error":
        lines = o.text.strip().splitlines()
        st.error(lines[-1] if lines else _("error"))
        with st.expander(_("Traceback")):
            render_text(o.text, key)
    elif o.text:
        render_text(o.text.rstrip("\n"), key)


def _sub(key: str | None, part: str) -> str | None:
    return None if key is None else f"{key}_{part}"


def render_result(res: ExecutionResult, key: str | None = None) -> None:
    for j, o in enumerate(res.outputs):
        render_output(o, _sub(key, f"o{j}"))
    if res.notice:
        (st.info if res.cancelled else st.warning)(res.notice)
    if res.ok and not res.outputs and not res.notice:
        st.caption(_("(no output)"))


def render_step(step: Step, live: bool, is_answer: bool, key: str | None = None) -> None:
    if step.thought.strip() and not is_answer:
        st.markdown(step.thought)
    if step.tool == "interpreter":
        running = live and step.status in ("thinking", "running")
        with st.expander(_("Code"), expanded=True):
            st.code(step.code or " ", language="python")
        if step.result is not None:
            render_result(step.result, key)
        elif running and step.status == "running":
            for o in list(step.live):
                render_output(o)
            st.caption(_(STATUS_TEXT["running"]))
        elif step.tool_output:
            st.warning(step.tool_output)
    elif step.tool == "plugin":
        with st.expander(_("Tool call"), expanded=False):
            st.code(step.code or " ", language="json")
        if step.tool_output:
            (st.success if step.tool_ok else st.warning)(step.tool_output)
    elif live and step.status == "thinking" and not step.thought:
        st.caption(_(STATUS_TEXT["thinking"]))


def render_turn(turn: Turn, live: bool = False, key: str | None = None) -> None:
    """``key``: a name unique to this turn on the page, for its widgets (finished turns
    only; a live turn is redrawn many times a run and gets none)."""
    key = None if live else key
    with st.chat_message("user"):
        st.markdown(turn.question)
        for f in turn.files:
            st.caption(f"📎 {f.name} ({format_size(f.size)}){' · ' + f.note if f.note else ''}")
    with st.chat_message("assistant"):
        last = len(turn.steps) - 1
        for i, step in enumerate(turn.steps):
            render_step(step, live, is_answer=(i == last and not step.tool), key=_sub(key, f"s{i}"))
        if turn.answer:
            st.markdown(turn.answer)
        elif turn.steps and not turn.steps[-1].tool and turn.steps[-1].thought:
            st.markdown(turn.steps[-1].thought + (" ▌" if live else ""))
        if turn.status == "stopped":
            st.info(_("Stopped."))
        if turn.error:
            (st.error if turn.status == "error" else st.warning)(turn.error)
        if live and not turn.steps:
            st.caption(_(STATUS_TEXT["thinking"]))
