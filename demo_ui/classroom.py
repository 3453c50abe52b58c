"""Teacher tools in the browser: the Class view, the resets, presentation mode.

Layout lives in ``pages/6_Class.py``; what the server is doing comes from
:mod:`demo_core.classroom`. Two seams are meant for the workspace store (issue 12):

- :func:`live_session_count` asks Streamlit's runtime how many browser sessions are
  connected (a count, never who); the store may replace it with its list of live sessions.
- :func:`reset_this_browser` clears this session's state and runs
  ``demo_core.classroom.reset_workspace_data(workspace_id())``, where the store registers
  the deletion of a workspace's stored data.
"""

from __future__ import annotations

import functools
import io
import zipfile

import streamlit as st

from demo_core import classroom
from demo_core.download.jobs import REGISTRY as DOWNLOADS
from demo_core.download.progress import fmt_bytes, fmt_duration
from demo_core.i18n import _, ngettext
from demo_core.jobs import Job
from demo_core.specs import fmt_memory
from demo_ui.language import fragment
from demo_ui.prefs import get_pref, set_pref, workspace_id
from demo_ui.resources import get_manager

SEEN_EPOCH = "_class_reset_epoch"
PRESENTATION = "presentation_mode"
TEACHER = "class_teacher"  # pref: the teacher code's digest, once this browser gave it


# -- the teacher code -------------------------------------------------------------------
def is_teacher() -> bool:
    """Whether this workspace gave the teacher code (the cancel and reset levers act on
    every browser: students see the figures only)."""
    return classroom.is_teacher_token(get_pref(TEACHER))


def _unlock() -> None:
    code = st.session_state.get("class_code", "")
    st.session_state["class_code"] = ""
    if classroom.is_teacher_code(code):
        set_pref(TEACHER, classroom.teacher_token(code))
        st.session_state["class_flash"] = _("Teacher tools unlocked for this browser.")
    else:
        st.session_state["class_code_wrong"] = True


def teacher_section() -> None:
    """The code form for a student's browser, or a Lock button for the teacher's."""
    if is_teacher():
        if st.button(_("Lock teacher tools"), icon=":material/lock:", key="class_lock"):
            set_pref(TEACHER, None)
            st.rerun()
        return
    st.subheader(_("Teacher tools"))
    st.caption(
        _(
            "Cancelling other people's work and resetting everything need the teacher code: "
            "the server prints it when it starts (./start.sh), or it is set with {env}."
        ).format(env="DEMO_STUDIO_TEACHER_CODE")
    )
    with st.form("class_code_form", border=False):
        st.text_input(_("Teacher code"), type="password", key="class_code")
        st.form_submit_button(_("Unlock"), icon=":material/lock_open:", on_click=_unlock)
    if st.session_state.pop("class_code_wrong", False):
        st.error(_("That is not the teacher code."))


# -- sessions -----------------------------------------------------------------------
def live_session_count() -> int:
    """Browser sessions connected to this server now (tabs, not people)."""
    from streamlit.runtime import Runtime

    if not Runtime.exists():
        return 1
    try:
        return len(Runtime.instance()._session_mgr.list_active_sessions())  # noqa: SLF001
    except AttributeError:  # AppTest's stand-in runtime has no session manager
        return 1


# -- presentation mode ---------------------------------------------------------------
PRESENTATION_CSS = """
<style>
html { font-size: 22px !important; }
[data-testid="stMain"] p, [data-testid="stMain"] li, [data-testid="stMain"] label,
[data-testid="stMain"] textarea, [data-testid="stMain"] input,
[data-testid="stChatMessage"] { font-size: 1.3rem !important; line-height: 1.5 !important; }
[data-testid="stMain"] h1 { font-size: 3rem !important; }
[data-testid="stToolbar"], [data-testid="stDecoration"], [data-testid="stStatusWidget"] {
  display: none !important; }
[data-testid="stMainBlockContainer"] { padding-top: 1.5rem !important; max-width: 100% !important; }
</style>
"""


def presentation_mode() -> bool:
    return bool(get_pref(PRESENTATION, False))


def presentation_toggle() -> None:
    """The sidebar switch, remembered as this workspace's preference; when on, large
    type and a clean layout for a projector on every page."""

    def flip() -> None:
        set_pref(PRESENTATION, bool(st.session_state.get("_presentation_toggle")))

    st.session_state["_presentation_toggle"] = presentation_mode()
    st.sidebar.toggle(
        _("Presentation mode"),
        key="_presentation_toggle",
        on_change=flip,
        help=_("Large type and a clean layout for a projector. Remembered for this browser."),
    )
    if presentation_mode():
        st.html(PRESENTATION_CSS)


# -- resets ---------------------------------------------------------------------------
def follow_server_reset() -> None:
    """Called on every page run: after a teacher's server-wide reset, this session
    clears itself (in its own thread) and says so once."""
    epoch = classroom.reset_epoch()
    seen = st.session_state.get(SEEN_EPOCH)
    if seen is None:
        st.session_state[SEEN_EPOCH] = epoch
    elif seen < epoch:
        _clear_session_state()
        st.session_state[SEEN_EPOCH] = epoch
        st.toast(_("The teacher reset the app: everything starts afresh."), icon="🔄")


def _stop_session_work() -> None:
    """Stop what this session has running: its agent kernel (files deleted) and its
    background jobs (XComposer)."""
    for value in list(st.session_state.values()):
        if type(value).__name__ == "AgentSession":  # not imported: every page calls this
            value.stop()
            value.registry.release(value.session_id, delete_files=True)
        elif isinstance(value, Job):
            value.stop()


def _clear_session_state() -> None:
    _stop_session_work()
    for key in list(st.session_state.keys()):
        del st.session_state[key]


def _reset_stored_workspace(ws: str | None) -> None:
    """The workspace store's part of a reset: its running jobs stopped, then its rows and
    files deleted (``None``: every workspace)."""
    from demo_core.jobs import JOBS
    from demo_core.store import get_store

    store = get_store()
    for one in [ws] if ws is not None else [w["id"] for w in store.list_workspaces()]:
        JOBS.stop_workspace(one)
    if ws is None:
        store.reset_all()
    else:
        store.reset_workspace(ws)


classroom.register_workspace_resetter(_reset_stored_workspace)


def reset_this_browser() -> list[str]:
    """Clear this browser's workspace: its state in this session and its stored data
    (through the registered resetters). Returns problems met, as sentences."""
    problems = classroom.reset_workspace_data(workspace_id())
    epoch = classroom.reset_epoch()
    _clear_session_state()
    st.session_state[SEEN_EPOCH] = epoch
    return problems


def workspace_export(items: list[tuple[str, object]]) -> bytes:
    """This browser's work as one zip: every chat as Markdown, the agent's transcript and
    files, the XComposer article with its images. What "Reset" would delete.

    ``items``: the session state's items, taken while the page runs (the download's
    callable runs later, outside the script, where ``st.session_state`` is not this
    session's)."""
    from demo_core.agent.session import AgentSession
    from demo_core.conversation import Conversation
    from demo_core.conversation import to_markdown as conversation_markdown
    from demo_core.xcomposer.article import Article
    from demo_core.xcomposer.export import to_zip as article_zip

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        _stored_conversations(zf)
        for key, value in items:
            name = str(key).strip("_").replace("/", "_")
            if isinstance(value, Conversation) and value.turns:
                zf.writestr(f"chats/{name}.md", conversation_markdown(value, name))
            elif isinstance(value, AgentSession) and value.turns:
                zf.writestr("data-agent/transcript.md", value.transcript())
                try:
                    zf.writestr("data-agent/files.zip", value.files_zip())
                except (ValueError, OSError):
                    pass  # too big to zip: the transcript still goes
            elif isinstance(value, Article) and value.paragraphs:
                zf.writestr(f"xcomposer/{name}.zip", article_zip(value))
        zf.writestr(
            "README.txt",
            _("Exported from InternLM Demo Studio before a reset.") + "\n",
        )
    return buf.getvalue()


def _stored_conversations(zf: zipfile.ZipFile) -> None:
    """This workspace's saved chats (every page and persona) as Markdown files."""
    from demo_core.conversation import Conversation
    from demo_core.conversation import to_markdown as conversation_markdown
    from demo_core.store import StoreError, get_store

    try:
        store = get_store()
        metas = store.workspace_conversations(workspace_id())
        for n, meta in enumerate(metas, 1):
            conv = Conversation.from_store(store, meta["id"])
            if conv.turns:
                title = meta.get("title") or _("Untitled")
                zf.writestr(f"chats/{n:03d}-{meta['slot']}.md".replace(":", "_"), conversation_markdown(conv, title))
    except StoreError:
        pass  # the store's own notice says what is wrong; the rest is still exported


def has_work() -> bool:
    from demo_core.agent.session import AgentSession
    from demo_core.conversation import Conversation
    from demo_core.xcomposer.article import Article

    return any(
        (isinstance(v, Conversation | AgentSession) and v.turns)
        or (isinstance(v, Article) and v.paragraphs)
        for v in list(st.session_state.values())
    )


def reset_browser_section() -> None:
    st.subheader(_("Reset for the next student"))
    st.caption(
        _(
            "Clears this browser's chats, agent session and files, article and preferences. "
            "Download them first if they are worth keeping."
        )
    )
    c1, c2 = st.columns(2)
    c1.download_button(
        _("Download this browser's work (.zip)"),
        data=functools.partial(workspace_export, list(st.session_state.items())),
        file_name="demo-studio-workspace.zip",
        mime="application/zip",
        icon=":material/download:",
        on_click="ignore",
        disabled=not has_work(),
        key="class_export",
    )
    if c2.button(_("Reset this browser"), icon=":material/restart_alt:", key="class_reset_me"):
        problems = reset_this_browser()
        st.session_state["class_flash"] = (
            _("This browser starts afresh.") if not problems else "; ".join(problems)
        )
        st.rerun()


def reset_server_section() -> None:
    st.subheader(_("Reset everything (the whole server)"))
    st.caption(
        _(
            "For the end of a class: stops every answer, agent kernel and download, deletes "
            "every browser's workspace, and every open tab starts afresh. Downloaded models "
            "and shared personas stay."
        )
    )
    with st.popover(_("Reset everything…"), icon=":material/warning:"):
        sure = st.checkbox(_("Yes, reset every browser's work"), key="class_reset_all_sure")
        if st.button(
            _("Reset everything now"), type="primary", disabled=not sure, key="class_reset_all"
        ):
            from demo_ui.agent_view import get_kernel_registry

            done = classroom.reset_everything(get_kernel_registry(), DOWNLOADS)
            token = get_pref(TEACHER)
            reset_this_browser()
            set_pref(TEACHER, token)  # the teacher's browser stays the teacher's
            st.session_state["class_flash"] = _(
                "Reset: {g} answer(s) stopped, {k} kernel(s) stopped, {d} download(s) cancelled."
            ).format(
                g=done.generations_cancelled, k=done.kernels_stopped, d=done.downloads_cancelled
            )
            st.rerun()


# -- the Class view -------------------------------------------------------------------
def sessions_section() -> None:
    n = live_session_count()
    st.metric(_("Connected browser sessions"), n)
    st.caption(_("Tabs open on this server now; a count, not who they are."))


def models_section(teacher: bool) -> None:
    st.subheader(_("Models"))
    lines = classroom.model_lines(get_manager())
    if not lines:
        st.caption(_("No model is loaded or served yet. Pages load theirs on first use."))
    for line in lines:
        with st.container(border=True):
            left, right = st.columns([4, 1], vertical_alignment="center")
            speed = _("{v:.1f} tok/s").format(v=line.tokens_per_s) if line.tokens_per_s else "—"
            left.markdown(f"**{line.label}** · {line.where}")
            left.caption(
                " · ".join(
                    [
                        ngettext("{n} answering", "{n} answering", line.running).format(
                            n=line.running
                        ),
                        ngettext("{n} waiting", "{n} waiting", line.waiting).format(n=line.waiting),
                        _("recent speed {s}").format(s=speed),
                        _("memory {m}").format(m=fmt_memory(line.memory_bytes))
                        if line.memory_bytes
                        else _("served elsewhere"),
                    ]
                    + (
                        [_("oldest request {t}").format(t=fmt_duration(line.oldest_s))]
                        if line.oldest_s is not None
                        else []
                    )
                )
            )
            if teacher and right.button(
                _("Cancel all"),
                key=f"class_cancel_{line.key}",
                disabled=not (line.running or line.waiting),
                help=_("Stop every answer of this model (a stuck one too)."),
            ):
                n = classroom.ACTIVITY.cancel(line.key)
                st.session_state["class_flash"] = _("{n} request(s) cancelled.").format(n=n)
                st.rerun()


def kernels_section(teacher: bool) -> None:
    from demo_ui.agent_view import get_kernel_registry

    st.subheader(_("Agent kernels"))
    registry = get_kernel_registry()
    lines = classroom.kernel_lines(registry)
    if not lines:
        st.caption(_("No agent kernel is running."))
    for i, k in enumerate(lines):
        left, mid, right = st.columns([4, 1, 1], vertical_alignment="center")
        state = _("running code") if k.busy else _("idle {t}").format(t=fmt_duration(k.idle_s))
        parts = [_("kernel {n}").format(n=i + 1), state]
        if k.cpu_s is not None:
            parts.append(_("CPU {s:.1f} s").format(s=k.cpu_s))
        if k.rss_bytes is not None:
            parts.append(_("memory {m}").format(m=fmt_bytes(k.rss_bytes)))
        parts.append(_("files {m}").format(m=fmt_bytes(k.folder_bytes)))
        if k.restarts:
            parts.append(_("restarted {n}×").format(n=k.restarts))
        left.markdown(" · ".join(parts))
        if not teacher:
            continue
        if mid.button(_("Interrupt"), key=f"class_int_{k.session}", disabled=not k.busy):
            for sid, kernel in registry.sessions():
                if sid == k.session:
                    kernel.interrupt()
            st.rerun()
        if right.button(_("Stop kernel"), key=f"class_stop_{k.session}"):
            registry.release(k.session)
            st.session_state["class_flash"] = _("Kernel stopped; its files were kept.")
            st.rerun()


def downloads_section(teacher: bool) -> None:
    st.subheader(_("Downloads"))
    running = DOWNLOADS.running()
    if not running:
        st.caption(_("No download is running."))
    for job in running:
        view = job.view()
        left, right = st.columns([5, 1], vertical_alignment="center")
        snap = view.progress
        left.markdown(
            f"#{view.id} · {view.request.repo_id} · {fmt_bytes(snap.done)} / "
            f"{fmt_bytes(snap.total)} · {fmt_bytes(snap.speed)}/s"
        )
        if teacher and right.button(_("Cancel"), key=f"class_dl_{view.id}"):
            job.cancel()
            st.rerun()


def render_class_view() -> None:
    flash = st.session_state.pop("class_flash", None)
    if flash:
        st.success(flash)

    @fragment(run_every=5.0)
    def live() -> None:
        teacher = is_teacher()
        sessions_section()
        models_section(teacher)
        kernels_section(teacher)
        downloads_section(teacher)

    classroom.teacher_code()  # made (and printed on the console) on the first visit
    live()
    st.divider()
    reset_browser_section()
    if is_teacher():
        reset_server_section()
    teacher_section()
