"""The data agent's files in the sidebar: the uploader, the session folder's files with
its quota and a delete button each, and the two downloads (the folder as a zip, the
transcript as Markdown)."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from demo_core.agent import safefs
from demo_core.agent.session import MAX_ZIP_BYTES, AgentSession
from demo_core.agent.upload_mirror import mirror_uploads
from demo_core.agent.uploads import ALLOWED, MAX_UPLOAD_BYTES, MAX_UPLOAD_MB
from demo_core.download.progress import fmt_bytes
from demo_core.i18n import _, format_size
from demo_ui.agent_workspace import P, note


def upload_box(session: AgentSession) -> None:
    """The uploader, mirrored into the session (see :func:`mirror_uploads`); the limit
    is given in the browser's own unit (MB), so both sides say the same number."""
    uploads = st.file_uploader(
        _("Data files ({types}; up to {size} each)").format(
            types=", ".join(sorted(ALLOWED)), size=fmt_bytes(MAX_UPLOAD_BYTES)
        ),
        type=[e.lstrip(".") for e in ALLOWED] + ["xls"],
        accept_multiple_files=True,
        max_upload_size=MAX_UPLOAD_MB,
        key=P + "uploader",
    )
    ss = st.session_state
    synced = mirror_uploads(session, uploads or [], ss[P + "seen_uploads"], ss[P + "upload_errors"])
    for level, text in synced.notes:
        note(level, text)
    for error in synced.errors:
        st.error(error)


def session_files(
    session: AgentSession, files: Sequence[safefs.Entry], used: int, quota: int
) -> None:
    """The session folder's plain ``files`` (not links the code planted), opened by
    itself when the folder is over its quota, with a delete button per file."""
    if not files:
        return
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
                "",
                icon=":material/delete:",
                key=f"{P}del_{i}_{rel}",
                help=_("Delete {name}").format(name=rel),
            ):
                try:
                    session.delete_file(rel)
                except (OSError, ValueError) as exc:
                    note("error", _("Not deleted: {error}").format(error=exc))
                st.rerun()


def download_buttons(session: AgentSession, any_files: bool, used: int) -> None:
    """Files (zip, built only when clicked; refused above :data:`MAX_ZIP_BYTES`) and
    Transcript (Markdown)."""
    col1, col2 = st.columns(2)
    too_big = used > MAX_ZIP_BYTES
    col1.download_button(
        _("Files"),
        icon=":material/download:",
        help=_("Everything in the session folder plus the transcript, as a .zip"),
        data=session.files_zip,  # built only when clicked
        file_name="data-agent-files.zip",
        mime="application/zip",
        disabled=not any_files or too_big,
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


def files_panel(session: AgentSession) -> None:
    """Uploader, session files and downloads, in that order."""
    upload_box(session)
    files = session.file_entries()  # plain files only: links the code planted are not shown
    used, quota = session.files_size(), session.registry.limits.folder_bytes
    session_files(session, files, used, quota)
    download_buttons(session, bool(files), used)
