"""The image Q&A tab: attach images, ask, follow up, regenerate, clear.

Nothing typed or attached is lost: a refused question (unreadable image, placeholder
mismatch) stays in its widgets with a message; an accepted one becomes a turn at once and
is answered by a background job owned by the browser session (``demo_core.xcomposer.
tasks.answer_job``), so a rerun -- any click, in either tab -- does not cut the answer
short. Only Stop, a new question or Regenerate (which replace it), Clear, or the session
going away cancel it; the turn then keeps its partial answer and says why it ended. A
failed answer keeps the turn with the error (Regenerate retries it).
"""

from __future__ import annotations

import streamlit as st

from demo_core.engine.base import GenerationParams
from demo_core.i18n import _
from demo_core.jobs import Job
from demo_core.specs import SPECS
from demo_core.xcomposer import tasks as T
from demo_core.xcomposer.images import read_pasted
from demo_core.xcomposer.prompt import QA_PLACEHOLDER, PromptFormatError
from demo_core.xcomposer.qa import QA_DEFAULTS, QATurn
from demo_ui import how_it_works
from demo_ui.paste import paste_box
from demo_ui.widgets import forget, kept, load_engine, show_images
from demo_ui.xcomposer_common import (
    JobSlot,
    forget_uploads,
    image_uploads,
    model_picker,
    read_uploads,
    sampling_controls,
    session_alive_probe,
)

P = "xc_qa"  # session-state prefix


def _state() -> dict:
    ss = st.session_state
    ss.setdefault(f"{P}_turns", [])
    ss.setdefault(f"{P}_uploads_gen", 0)
    ss.setdefault(f"{P}_pasted", [])  # ImageInputs pasted for the next question
    return ss


def _turns() -> list[QATurn]:
    return st.session_state[f"{P}_turns"]


def _show_turn(turn: QATurn) -> None:
    with st.chat_message("user"):
        show_images(turn.images, width=140)
        st.markdown(turn.question or "_" + _("(images only)") + "_")
    if turn.answer or turn.note or turn.error:
        with st.chat_message("assistant"):
            if turn.answer or not turn.error:
                st.markdown(turn.answer or "_" + _("(no text)") + "_")
            if turn.error:
                st.error(turn.error, icon="⚠️")  # once: here, not again above the input
            if turn.note:
                st.caption(turn.note)


def _collect(job: Job) -> None:
    """A failure outside the model call (a bug) still ends up on its turn."""
    turn = job.data.get("turn")
    how_it_works.remember(P, turn, trace=job.data.get("trace"))
    if job.error and turn is not None and not turn.error:
        turn.error = job.error


JOB = JobSlot(P, _collect)  # the answer being written (one at a time)


def _ask(key: str, turn: QATurn, params: GenerationParams, *, clear_inputs: bool) -> None:
    """Make ``turn`` part of the conversation at once and answer it in the background;
    the input widgets are emptied on the next run (they are already drawn in this one)."""
    ss = st.session_state
    engine = load_engine(key)
    if engine is None:  # shown as an error already; keep the question as a turn
        turn.error = _("The model could not be loaded; press Regenerate to retry.")
        _turns().append(turn)
    else:
        history = list(_turns())
        _turns().append(turn)
        JOB.start(T.answer_job(engine, history, turn, params, session_alive_probe()))
    if clear_inputs:
        ss[f"{P}_clear_question"] = True
        ss[f"{P}_uploads_gen"] += 1
        forget_uploads(f"{P}_files")
        ss[f"{P}_pasted"] = []
    st.rerun()


def _pasted_images() -> None:
    """The paste box and the images pasted so far (kept until the question is sent)."""
    ss = st.session_state
    got = paste_box(f"{P}_paste")
    if got:
        images, errors = read_pasted(got, already=len(ss[f"{P}_pasted"]))
        ss[f"{P}_pasted"] += images
        for msg in errors:
            st.error(
                _("{problem}. Copy an image (not text or a file link) and paste again.").format(
                    problem=msg
                )
            )
    pasted = ss[f"{P}_pasted"]
    if pasted:
        c1, c2 = st.columns([5, 1])
        show_images(pasted, width=90, where=c1)
        if c2.button(_("Remove pasted"), key=f"{P}_unpaste"):
            ss[f"{P}_pasted"] = []
            st.rerun()


def render_qa_tab() -> None:
    ss = _state()
    key = model_picker("xcomposer2-vl", P, _("Image Q&A model"))
    params = how_it_works.flag(sampling_controls(P, QA_DEFAULTS, max_beams=5))
    job = JOB.running()  # a finished answer is already on its turn

    turns = _turns()
    for turn in turns:
        if job is not None and turn is job.data.get("turn"):
            _show_turn(QATurn(turn.question, turn.images))
            with st.chat_message("assistant"):
                JOB.show(job)
        else:
            _show_turn(turn)
    how_it_works.qa_panel(P, turns, key, params)

    row = st.container(horizontal=True)  # buttons as wide as their labels (columns cut them)
    regenerate = row.button("🔄 " + _("Regenerate"), key=f"{P}_regen", disabled=not turns)
    if row.button("🗑 " + _("Clear conversation"), key=f"{P}_clear", disabled=not turns):
        JOB.discard()
        ss[f"{P}_turns"] = []
        st.rerun()

    if ss.pop(f"{P}_clear_question", False):
        forget(f"{P}_question")
    files = image_uploads(
        _("Images for your question (one or more)"),
        f"{P}_files_{ss[f'{P}_uploads_gen']}",
        f"{P}_files",
    )
    _pasted_images()
    question = st.text_area(
        _("Your question"),
        **kept(f"{P}_question", ""),
        height=90,
        placeholder=_(
            "What is in this picture? (write {placeholder} where an image belongs, "
            "or leave it out: the images then go in front of the question)"
        ).format(placeholder=QA_PLACEHOLDER),
    )
    asked = st.button(_("Ask"), type="primary", key=f"{P}_ask")

    if regenerate and _turns():
        JOB.stop()
        last = _turns().pop()
        _ask(key, QATurn(last.question, last.images), params, clear_inputs=False)
    elif asked:
        pasted = list(ss[f"{P}_pasted"])
        if not question.strip() and not files and not pasted:
            st.warning(_("Type a question, attach or paste images, or both."))
            return
        images, errors = read_uploads(files)
        images += pasted
        for msg in errors:
            st.error(_("{problem}. Remove it from the uploads and ask again.").format(problem=msg))
        if errors:
            return
        turn = QATurn(question.strip(), images)
        try:
            turn.prompt_question  # noqa: B018 -- placeholder check before loading anything
        except PromptFormatError as exc:
            st.error(str(exc))
            return
        JOB.stop()  # a new question replaces the one being answered (kept, marked)
        _ask(key, turn, params, clear_inputs=True)
    if SPECS[key].is_random and not _turns():
        st.caption(_("Tip: the tiny random model answers with noise; it is here to try the page."))
