"""The image Q&A tab: attach images, ask, follow up, regenerate, clear.

Nothing typed or attached is lost: a refused question (unreadable image, placeholder
mismatch) stays in its widgets with a message; an accepted one becomes a turn at once --
the widgets are cleared on the next run, which then streams the answer -- so whatever
the user does while it streams (Stop, a new upload) the question and its images are
already safe. A failed answer keeps the turn with the error (Regenerate retries it); a
stopped one keeps its partial answer.
"""

from __future__ import annotations

import streamlit as st

from demo_core.engine.base import CancelToken, GenerationParams
from demo_core.specs import SPECS
from demo_core.xcomposer.images import ImageError, from_data_url
from demo_core.xcomposer.prompt import QA_PLACEHOLDER, PromptFormatError
from demo_core.xcomposer.qa import QA_DEFAULTS, QATurn, ask
from demo_ui.paste import paste_box
from demo_ui.widgets import load_engine, show_images
from demo_ui.xcomposer_common import (
    IMAGE_TYPES,
    drain,
    model_picker,
    read_uploads,
    sampling_controls,
    stats_caption,
    stream_to,
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
        st.markdown(turn.question or "_(images only)_")
    if turn.answer or turn.note:
        with st.chat_message("assistant"):
            st.markdown(turn.answer or "_(no text)_")
            if turn.note:
                st.caption(turn.note)


def _settle_pending() -> None:
    """Finish a generation the previous run left behind (Stop pressed, or a rerun)."""
    ss = st.session_state
    pending = ss.pop(f"{P}_pending", None)
    if pending is None:
        return
    gen = pending["gen"]
    gen.cancel()
    drain(gen)
    _record(pending, gen)


def _record(pending: dict, gen) -> None:
    """Store the finished turn -- always, so the question and its images stay visible
    even when the model failed (Regenerate then retries it)."""
    turn: QATurn = pending["turn"]
    turn.answer = gen.text
    if gen.error is not None:
        turn.note = f"⚠️ {gen.error}"
        st.session_state[f"{P}_flash"] = ("error", str(gen.error))
    elif gen.stats.finish_reason == "cancelled":
        turn.note = "stopped"
    elif gen.stats.finish_reason == "length":
        turn.note = f"cut at the max-new-tokens limit · {stats_caption(gen)}"
    else:
        turn.note = stats_caption(gen)
    dropped = getattr(gen, "dropped_messages", 0)
    if dropped:
        turn.note += f" · {dropped} oldest turn(s) left out to fit the context window"
    _turns().append(turn)


def _queue(turn: QATurn, *, clear_inputs: bool) -> None:
    """Take the question out of the input widgets at once (next run) and answer it there:
    whatever the user does while it streams, the question is already safe in the turn."""
    ss = st.session_state
    ss[f"{P}_queued"] = {"turn": turn}
    if clear_inputs:
        ss[f"{P}_clear_question"] = True
        ss[f"{P}_uploads_gen"] += 1
        ss[f"{P}_pasted"] = []
    st.rerun()


def _answer_queued(key: str, params: GenerationParams) -> None:
    queued = st.session_state.pop(f"{P}_queued", None)
    if queued is None:
        return
    turn: QATurn = queued["turn"]
    engine = load_engine(key)
    if engine is None:  # shown as an error already; keep the question as a turn
        turn.note = "⚠️ the model could not be loaded; press Regenerate to retry"
        _turns().append(turn)
        return
    cancel = CancelToken()
    gen = ask(engine, list(_turns()), turn, params, cancel)
    pending = {"turn": turn, "gen": gen}
    st.session_state[f"{P}_pending"] = pending
    _show_turn(QATurn(turn.question, turn.images))
    with st.chat_message("assistant"):
        st.button("⏹ Stop", key=f"{P}_stop", on_click=cancel.cancel)
        stream_to(st.empty(), gen)
    st.session_state.pop(f"{P}_pending", None)
    _record(pending, gen)
    st.rerun()


def _pasted_images() -> None:
    """The paste box and the images pasted so far (kept until the question is sent)."""
    ss = st.session_state
    got = paste_box(f"{P}_paste")
    if got:
        try:
            n = len(ss[f"{P}_pasted"]) + 1
            ss[f"{P}_pasted"].append(from_data_url(got.get("url"), f"pasted-{n}.png"))
        except ImageError as exc:
            st.error(f"{exc}. Copy an image (not text or a file link) and paste again.")
    pasted = ss[f"{P}_pasted"]
    if pasted:
        c1, c2 = st.columns([5, 1])
        show_images(pasted, width=90, where=c1)
        if c2.button("Remove pasted", key=f"{P}_unpaste"):
            ss[f"{P}_pasted"] = []
            st.rerun()


def render_qa_tab() -> None:
    ss = _state()
    key = model_picker("xcomposer2-vl", f"{P}_model", "Image Q&A model")
    params = sampling_controls(P, QA_DEFAULTS)
    _settle_pending()

    flash = ss.pop(f"{P}_flash", None)
    for turn in _turns():
        _show_turn(turn)
    _answer_queued(key, params)
    if flash:
        st.error(flash[1])

    c1, c2, _ = st.columns([1, 1, 4])
    regenerate = c1.button("🔄 Regenerate", key=f"{P}_regen", disabled=not _turns())
    if c2.button("🗑 Clear conversation", key=f"{P}_clear", disabled=not _turns()):
        ss[f"{P}_turns"] = []
        st.rerun()

    if ss.pop(f"{P}_clear_question", False):
        ss[f"{P}_question"] = ""
    files = st.file_uploader(
        "Images for your question (one or more)",
        type=IMAGE_TYPES,
        accept_multiple_files=True,
        key=f"{P}_files_{ss[f'{P}_uploads_gen']}",
    )
    _pasted_images()
    question = st.text_area(
        "Your question",
        key=f"{P}_question",
        height=90,
        placeholder=f"What is in this picture? (write {QA_PLACEHOLDER} where an image belongs, "
        "or leave it out: the images then go in front of the question)",
    )
    asked = st.button("Ask", type="primary", key=f"{P}_ask")

    if regenerate and _turns():
        last = _turns().pop()
        _queue(QATurn(last.question, last.images), clear_inputs=False)
    elif asked:
        pasted = list(ss[f"{P}_pasted"])
        if not question.strip() and not files and not pasted:
            st.warning("Type a question, attach or paste images, or both.")
            return
        images, errors = read_uploads(files)
        images += pasted
        for msg in errors:
            st.error(f"{msg}. Remove it from the uploads and ask again.")
        if errors:
            return
        turn = QATurn(question.strip(), images)
        try:
            turn.prompt_question  # noqa: B018 -- placeholder check before loading anything
        except PromptFormatError as exc:
            st.error(str(exc))
            return
        _queue(turn, clear_inputs=True)
    if SPECS[key].is_random and not _turns():
        st.caption("Tip: the tiny random model answers instantly, with noise.")
