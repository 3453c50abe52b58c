"""Data-analysis agent: Lagent + InternLM2-Chat-7B + a sandboxed Python kernel per session."""

from __future__ import annotations

import time

import streamlit as st

from demo_core.agent.actions import OFFLINE_PLUGINS
from demo_core.agent.agent import (
    DEFAULT_INTERPRETER_PROMPT,
    DEFAULT_META_PROMPT,
    DEFAULT_PLUGIN_PROMPT,
)
from demo_core.agent.online_plugins import ONLINE_HELP, ONLINE_PLUGINS
from demo_core.agent.react_agent import is_first_generation_key
from demo_core.agent.session import DEFAULT_MODEL, MAX_ZIP_BYTES, AgentSession, AgentSettings
from demo_core.agent.uploads import ALLOWED, MAX_UPLOAD_BYTES, MAX_UPLOAD_MB, UploadError
from demo_core.download.progress import fmt_bytes
from demo_core.i18n import N_, _, format_size
from demo_core.serving import served_label
from demo_core.specs import CHAT_MODELS, SPECS
from demo_ui import how_it_works
from demo_ui.agent_view import (
    needs_sandbox_consent,
    render_turn,
    sandbox_badge,
    sandbox_consent,
)
from demo_ui.agent_workspace import agent_session, history_panel, persist, restored_notice
from demo_ui.prefs import workspace_id
from demo_ui.resources import get_manager
from demo_ui.widgets import first_available, keep, model_label, open_engine, page_header, usable

P = "data_agent_"  # session_state prefix of this page

page_header(
    N_("Data-analysis agent"),
    "📊",
    N_(
        "Upload a table, ask in words. InternLM2 writes Python, runs it in your own sandboxed "
        "kernel (no network, limited memory and time), reads the result and answers."
    ),
)


def available(key: str) -> bool:
    """Served, weights present, or the tiny random model (generated on first use)."""
    return get_manager().is_loaded(key) or usable(key)


# -- per-session state ------------------------------------------------------------------
session: AgentSession = agent_session()  # the workspace's, transcript restored
persist(session)


def sync_uploads(session: AgentSession, uploads: list) -> None:
    """Mirror the uploader into the session: new files are checked and stored once; a file
    removed from the uploader before the model saw it is removed from the session too;
    a rejected file keeps its reason on screen while it stays in the uploader."""
    seen: dict[str, str | None] = st.session_state[P + "seen_uploads"]  # file_id -> saved name
    errors: dict[str, str] = st.session_state[P + "upload_errors"]
    current = {up.file_id for up in uploads}
    for file_id in [f for f in seen if f not in current]:
        name = seen.pop(file_id)
        errors.pop(file_id, None)
        if name and session.withdraw_pending(name):
            st.session_state[P + "messages"].append(
                ("info", _("{name} was removed.").format(name=name))
            )
    for up in uploads:
        if up.file_id in seen:
            continue
        try:
            info = session.add_upload(up.name, up.getvalue())
        except UploadError as exc:
            seen[up.file_id] = None
            errors[up.file_id] = str(exc)
            continue
        seen[up.file_id] = info.name
        st.session_state[P + "messages"].append(
            (
                "success",
                _("{name} is ready ({note}). Ask a question about it.").format(
                    name=info.name, note=info.note
                ),
            )
        )
    for file_id in current:
        if file_id in errors:
            st.error(errors[file_id])


# -- sidebar ----------------------------------------------------------------------------
with st.sidebar:
    keep(P + "model", first_available(CHAT_MODELS, DEFAULT_MODEL))
    model_key = st.selectbox(_("Model"), CHAT_MODELS, key=P + "model", format_func=model_label)
    if SPECS[model_key].is_random:
        st.warning(_("Tiny random test model: its answers are noise."), icon="🎲")
    elif served_label(model_key):
        st.caption(served_label(model_key))
    elif not available(model_key):
        st.info(
            _(
                "{model} is not on this machine. Download it on the Models page or set {env}."
            ).format(model=SPECS[model_key].label, env=SPECS[model_key].env_var),
            icon="📦",
        )
    keep(P + "interpreter", True)
    interpreter = st.toggle(_("Data analysis (Python interpreter)"), key=P + "interpreter")
    keep(P + "plugins", [])
    plugins = st.multiselect(
        _("Plugins (offline)"),
        list(OFFLINE_PLUGINS),
        key=P + "plugins",
        help=_("Work without internet."),
        placeholder=_("Choose plugins"),
    )
    keep(P + "online_plugins", [])
    plugins += st.multiselect(
        _("Plugins (online)"),
        list(ONLINE_PLUGINS),
        key=P + "online_plugins",
        help=_(ONLINE_HELP),
        placeholder=_("Choose plugins"),
    )
    if is_first_generation_key(model_key):
        st.caption(
            _(
                "First-generation InternLM: the agent speaks lagent's ReAct protocol "
                "(Thought / Action / Action Input / Final Answer), as the camp-1 demo did; the "
                "InternLM2 prompts below are not used."
            )
        )
    keep(P + "max_turns", 7)
    max_turns = st.slider(_("Max turns per question"), 1, 15, key=P + "max_turns")
    keep(P + "timeout", 60)
    timeout_s = st.slider(_("Time limit per code run (s)"), 5, 300, step=5, key=P + "timeout")
    with st.expander(_("System prompts")):
        for name, default in (
            ("meta_prompt", DEFAULT_META_PROMPT),
            ("interpreter_prompt", DEFAULT_INTERPRETER_PROMPT),
            ("plugin_prompt", DEFAULT_PLUGIN_PROMPT),
        ):
            keep(P + name, default)
        meta_prompt = st.text_area(_("System prompt"), key=P + "meta_prompt", height=80)
        interpreter_prompt = st.text_area(
            _("Interpreter prompt"), key=P + "interpreter_prompt", height=150
        )
        plugin_prompt = st.text_area(
            _("Plugin prompt ({prompt} = the tool list)"), key=P + "plugin_prompt", height=100
        )
        if st.button(_("Reset prompts"), key=P + "reset_prompts"):
            for name in ("meta_prompt", "interpreter_prompt", "plugin_prompt"):
                st.session_state.pop(P + name, None)
                st.session_state.pop("_kept_" + P + name, None)
            st.rerun()

    st.divider()
    uploads = st.file_uploader(
        _("Data files ({types}; up to {size} each)").format(
            types=", ".join(sorted(ALLOWED)), size=fmt_bytes(MAX_UPLOAD_BYTES)
        ),
        type=[e.lstrip(".") for e in ALLOWED] + ["xls"],
        accept_multiple_files=True,
        max_upload_size=MAX_UPLOAD_MB,
        key=P + "uploader",
    )
    sync_uploads(session, uploads or [])
    files = session.file_entries()  # plain files only: links the code planted are not shown
    used, quota = session.files_size(), session.registry.limits.folder_bytes
    if files:
        with st.expander(_("Session files ({n})").format(n=len(files)), expanded=used > quota):
            st.progress(
                min(1.0, used / quota),
                text=_("{used} of {quota} used").format(
                    used=format_size(used, binary=True, digits=1),
                    quota=format_size(quota, binary=True),
                ),
            )
            for i, f in enumerate(files):
                rel = f.rel
                name_col, del_col = st.columns([5, 1], vertical_alignment="center")
                name_col.caption(f"{rel} · {fmt_bytes(f.size)}")
                if del_col.button(
                    "", icon=":material/delete:", key=f"{P}del_{i}_{rel}", help=_("Delete {name}").format(name=rel)
                ):
                    try:
                        session.delete_file(rel)
                    except (OSError, ValueError) as exc:
                        st.session_state[P + "messages"].append(
                            ("error", _("Not deleted: {error}").format(error=exc))
                        )
                    st.rerun()
    col1, col2 = st.columns(2)
    too_big = used > MAX_ZIP_BYTES
    col1.download_button(
        _("Files"),
        icon=":material/download:",
        help=_("Everything in the session folder plus the transcript, as a .zip"),
        data=session.files_zip,  # built only when clicked
        file_name="data-agent-files.zip",
        mime="application/zip",
        disabled=not files or too_big,
        on_click="ignore",
        key=P + "zip",
    )
    col2.download_button(
        _("Transcript"),
        icon=":material/download:",
        help=_("The conversation with code and results, as Markdown"),
        data=session.transcript,
        file_name="data-agent-transcript.md",
        mime="text/markdown",
        disabled=not session.turns,
        on_click="ignore",
        key=P + "md",
    )
    if too_big:
        st.warning(
            _("The files are larger than {size}: too big to zip here.").format(
                size=format_size(MAX_ZIP_BYTES, binary=True)
            )
        )
    if st.button(_("Clear conversation"), key=P + "clear", disabled=session.running):
        session.clear()
        st.rerun()
    sandbox_badge(session)
    how_it_works.toggle()
    if interpreter and session.files() and not needs_sandbox_consent(session):
        session.warm_up()  # a file is here, so a question about it is coming
    history_panel(session)

# -- main area --------------------------------------------------------------------------
restored_notice(session)
for level, text in st.session_state[P + "messages"]:
    getattr(st, level)(text)
st.session_state[P + "messages"] = []
notice = session.take_notice()
if notice:
    st.info(_(notice))
for f in session.pending_files:
    st.caption(
        "📎 " + _("{name} will be given to the model with your next question.").format(name=f.name)
    )

for i, turn in enumerate(session.turns[:-1] if session.running else session.turns):
    render_turn(turn.snapshot(), key=f"{P}turn{i}")

settings = AgentSettings(
    model_key=model_key,
    interpreter=interpreter,
    plugins=tuple(plugins),
    meta_prompt=meta_prompt,
    interpreter_prompt=interpreter_prompt,
    plugin_prompt=plugin_prompt,
    max_turns=max_turns,
    timeout_s=float(timeout_s),
)
settings.params = how_it_works.flag(settings.params)
how_it_works.agent_panel(
    session.turns[:-1] if session.running else session.turns, model_key, settings
)

waiting_for_consent = interpreter and needs_sandbox_consent(session)
if waiting_for_consent:
    sandbox_consent(session)

if P + "unsent" in st.session_state:  # a question that could not be sent goes back in the box
    st.session_state[P + "input"] = st.session_state.pop(P + "unsent")
question = st.chat_input(
    _("Working… (Stop to interrupt)") if session.running else _("Ask about your data…"),
    disabled=session.running or waiting_for_consent,
    key=P + "input",
)
if question and not session.running:
    engine, problem = open_engine(model_key)
    if engine is None:
        st.session_state[P + "messages"] += [
            ("error", problem),
            ("info", _("Your question was not sent; it is back in the box below.")),
        ]
        st.session_state[P + "unsent"] = question
        st.rerun()
    else:
        session.ask(question, engine, settings, workspace_id())
        st.rerun()  # redraw with the input disabled and the upload notes gone

if session.running:
    run = session.run
    st.button("⏹ " + _("Stop"), key=P + "stop", on_click=session.stop)
    live = st.empty()
    while not run.done:
        run.beat()
        with live.container():
            render_turn(run.turn.snapshot(), live=True)
        time.sleep(0.25)
    st.rerun()
