"""Streamlit rendering for the data agent: a turn's steps, code, outputs, tables and plots.

Rendering is a pure function of a :class:`~demo_core.agent.transcript.Turn` snapshot,
so the page can redraw a running turn many times a second and a finished one on every
rerun without keeping widgets in sync. No widgets here (keys would clash on redraw).
"""

from __future__ import annotations

import streamlit as st

from demo_core.agent.kernel import ExecutionResult, KernelLimits, Output
from demo_core.agent.registry import KernelRegistry
from demo_core.agent.transcript import Step, Turn
from demo_core.i18n import N_, _, format_size

STATUS_TEXT = {
    "thinking": N_("Thinking…"),
    "running": N_("Running the code…"),
}


@st.cache_resource(show_spinner=False)
def get_kernel_registry() -> KernelRegistry:
    """One registry for the process: it owns every session's kernel and reaps them."""
    return KernelRegistry(limits=KernelLimits())


def render_output(o: Output) -> None:
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
            st.code(o.text, language="text")
    elif o.text:
        st.code(o.text.rstrip("\n"), language="text")


def render_result(res: ExecutionResult) -> None:
    for o in res.outputs:
        render_output(o)
    if res.notice:
        (st.info if res.cancelled else st.warning)(res.notice)
    if res.ok and not res.outputs and not res.notice:
        st.caption(_("(no output)"))


def render_step(step: Step, live: bool, is_answer: bool) -> None:
    if step.thought.strip() and not is_answer:
        st.markdown(step.thought)
    if step.tool == "interpreter":
        running = live and step.status in ("thinking", "running")
        with st.expander(_("Code"), expanded=True):
            st.code(step.code or " ", language="python")
        if step.result is not None:
            render_result(step.result)
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


def render_turn(turn: Turn, live: bool = False) -> None:
    with st.chat_message("user"):
        st.markdown(turn.question)
        for f in turn.files:
            st.caption(f"📎 {f.name} ({format_size(f.size)}){' · ' + f.note if f.note else ''}")
    with st.chat_message("assistant"):
        last = len(turn.steps) - 1
        for i, step in enumerate(turn.steps):
            render_step(step, live, is_answer=(i == last and not step.tool))
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
