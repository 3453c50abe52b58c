"""The XComposer2 page with the tiny random models, through Streamlit's AppTest."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from tests.conftest import open_page


def png_bytes(color="red", size=(32, 24)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def app(studio_home, monkeypatch):
    monkeypatch.setenv("DEMO_STUDIO_DEVICE", "cpu")
    at = open_page("4_XComposer2.py", timeout=120)
    assert not at.exception, at.exception
    return at


def _qa_ask(at: AppTest, question: str, files=None) -> AppTest:
    if files is not None:
        at.file_uploader(key="xc_qa_files_0").set_value(files)
    at.text_area(key="xc_qa_question").set_value(question)
    at.number_input(key="xc_qa_max_new").set_value(6)
    at.button(key="xc_qa_ask").click()
    return at.run()


def test_page_opens_with_random_models_labelled(app):
    assert app.selectbox(key="xc_qa_model").value == "tiny-xcomposer2-vl"
    warnings = " ".join(w.value for w in app.warning)
    assert "random weights" in warnings and "noise" in warnings


def test_qa_answers_follow_up_regenerate_and_clear(app):
    at = _qa_ask(app, "What colour is it?", [("red.png", png_bytes(), "image/png")])
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    turns = at.session_state["xc_qa_turns"]
    assert len(turns) == 1 and turns[0].images[0].name == "red.png" and turns[0].answer
    assert at.text_area(key="xc_qa_question").value == ""  # cleared after success
    at = _qa_ask(at, "And the shape?")  # follow-up without new images
    assert len(at.session_state["xc_qa_turns"]) == 2
    first_answer = at.session_state["xc_qa_turns"][1].answer
    at.button(key="xc_qa_regen").click()
    at.run()
    turns = at.session_state["xc_qa_turns"]
    assert len(turns) == 2 and turns[1].question == "And the shape?"
    assert isinstance(first_answer, str)
    at.button(key="xc_qa_clear").click()
    at.run()
    assert at.session_state["xc_qa_turns"] == []


def test_corrupt_upload_is_refused_and_nothing_is_lost(app):
    at = _qa_ask(app, "Describe this", [("broken.jpg", b"\xff\xd8 not really", "image/jpeg")])
    assert not at.exception
    assert any("broken.jpg" in e.value for e in at.error)
    assert at.text_area(key="xc_qa_question").value == "Describe this"
    assert at.session_state["xc_qa_turns"] == []


def test_placeholder_mismatch_is_explained(app):
    at = _qa_ask(app, "<ImageHere> vs <ImageHere>?", [("a.png", png_bytes(), "image/png")])
    assert any("placeholder" in e.value for e in at.error)
    assert at.text_area(key="xc_qa_question").value == "<ImageHere> vs <ImageHere>?"


def _compose(at: AppTest, files=None, text_only=False, num=2, instruction="写一篇关于水墨画的文章"):
    at.text_area(key="xc_cmp_instruction").set_value(instruction)
    if files is not None:
        at.file_uploader(key="xc_cmp_files").set_value(files)
    at.selectbox(key="xc_cmp_num").set_value(num)
    at.checkbox(key="xc_cmp_text_only").set_value(text_only)
    at.number_input(key="xc_cmp_max_new").set_value(60)
    at.button(key="xc_cmp_go").click()
    return at.run()


def test_compose_with_uploaded_images_then_export(app):
    files = [(f"{c}.png", png_bytes(c), "image/png") for c in ("red", "green", "blue")]
    at = _compose(app, files)
    assert not at.exception, at.exception
    article = at.session_state["xc_cmp_article"]
    assert article.paragraphs and article.instruction == "写一篇关于水墨画的文章"
    chosen = {img.name for img in article.chosen_images()}
    assert chosen and chosen <= {"red.png", "green.png", "blue.png"}
    labels = [b.label for b in at.get("download_button")]
    assert any("zip" in lbl for lbl in labels) and any("HTML" in lbl for lbl in labels)


def test_compose_text_only_and_paragraph_edits(app):
    at = _compose(app, text_only=True)
    article = at.session_state["xc_cmp_article"]
    assert article.paragraphs and not article.slots
    uid = article.paragraphs[0].uid
    at.radio(key=f"xc_cmp_kind_{uid}").set_value("expand")
    at.text_input(key=f"xc_cmp_instr_{uid}").set_value("more about ink")
    at.button(key=f"xc_cmp_run_{uid}").click()
    at.run()
    assert not at.exception, at.exception
    proposal = at.text_area(key=f"xc_cmp_prop_{uid}").value
    assert proposal
    at.text_area(key=f"xc_cmp_prop_{uid}").set_value("Edited by hand.")
    at.button(key=f"xc_cmp_accept_{uid}").click()
    at.run()
    assert at.session_state["xc_cmp_article"].paragraphs[0].text == "Edited by hand."
    # inserting needs an outline: refused with a message, nothing changes
    n = len(at.session_state["xc_cmp_article"].paragraphs)
    at.radio(key=f"xc_cmp_kind_{uid}").set_value("insert_after")
    at.text_input(key=f"xc_cmp_instr_{uid}").set_value("  ")
    at.button(key=f"xc_cmp_run_{uid}").click()
    at.run()
    assert any("outline" in w.value for w in at.warning)
    assert len(at.session_state["xc_cmp_article"].paragraphs) == n


def test_image_edits_pick_use_and_delete(app):
    files = [(f"{c}.png", png_bytes(c), "image/png") for c in ("red", "green", "blue")]
    at = _compose(app, files, num=1)
    article = at.session_state["xc_cmp_article"]
    (i,) = article.slots
    p = article.paragraphs[i]
    other = next(k for k in range(len(p.image.candidates)) if k != p.image.chosen)
    at.button(key=f"xc_cmp_use_{p.uid}_{other}").click()
    at.run()
    assert at.session_state["xc_cmp_article"].paragraphs[i].image.chosen == other
    at.button(key=f"xc_cmp_delimg_{p.uid}").click()
    at.run()
    assert at.session_state["xc_cmp_article"].slots == []


def test_compose_refuses_bad_input_without_losing_it(app):
    at = _compose(app, instruction="   ")
    assert any("instruction" in w.value for w in at.warning)
    at = _compose(at, files=[("bad.png", b"garbage", "image/png")], instruction="My outline")
    assert any("bad.png" in e.value for e in at.error)
    assert at.text_area(key="xc_cmp_instruction").value == "My outline"
    assert (
        at.session_state["xc_cmp_article"] is None if "xc_cmp_article" in at.session_state else True
    )


def test_failed_answer_keeps_the_question_as_a_turn(app):
    at = _qa_ask(app, "word " * 3000, [("red.png", png_bytes(), "image/png")])
    assert not at.exception, at.exception
    (turn,) = at.session_state["xc_qa_turns"]
    assert turn.question.startswith("word") and turn.images[0].name == "red.png"
    assert "context window" in turn.note
    assert any("context window" in e.value for e in at.error)


def test_stopped_generation_is_settled_with_its_partial_answer(app):
    """Stop (or any rerun) while streaming: the next run keeps the turn, marked stopped."""
    from demo_core.engine.base import Generation
    from demo_core.xcomposer.qa import QATurn

    gen = Generation()
    gen.started()
    gen.emit("half an ans")
    gen.cancel()
    gen.finish("cancelled")
    app.session_state["xc_qa_pending"] = {"turn": QATurn("q?", []), "gen": gen}
    at = app.run()
    (turn,) = at.session_state["xc_qa_turns"]
    assert turn.answer == "half an ans" and turn.note == "stopped"


def test_add_image_repick_and_replace_by_upload(app):
    at = _compose(app, text_only=True)
    p = at.session_state["xc_cmp_article"].paragraphs[0]
    at.checkbox(key="xc_cmp_text_only").set_value(False)
    at.button(key=f"xc_cmp_addimg_{p.uid}").click()
    at.run()
    assert not at.exception, at.exception
    slot = at.session_state["xc_cmp_article"].paragraphs[0].image
    assert slot is not None and slot.caption and slot.image is None  # no uploads, no library
    assert any("No image matched" in i.value for i in at.info)
    at.text_input(key=f"xc_cmp_cap_{p.uid}").set_value("a red square")
    at.button(key=f"xc_cmp_repick_{p.uid}").click()
    at.run()
    assert at.session_state["xc_cmp_article"].paragraphs[0].image.caption == "a red square"
    at.file_uploader(key=f"xc_cmp_rep_{p.uid}").set_value(
        ("mine.png", png_bytes("red"), "image/png")
    )
    at.run()
    at.button(key=f"xc_cmp_userep_{p.uid}").click()
    at.run()
    assert at.session_state["xc_cmp_article"].paragraphs[0].image.image.name == "mine.png"


def test_stopped_article_keeps_what_was_written(app):
    from demo_core.engine.base import Generation

    gen = Generation()
    gen.started()
    gen.emit("First paragraph.\nSecond, cut off mid")
    gen.cancel()
    gen.finish("cancelled")
    app.session_state["xc_cmp_pending"] = {"kind": "write", "gen": gen, "instruction": "x"}
    at = app.run()
    article = at.session_state["xc_cmp_article"]
    assert article.texts == ["First paragraph.", "Second, cut off mid"]
    assert any("Stopped" in w.value for w in at.warning)


def _gray16_png() -> bytes:
    import numpy as np

    img = Image.fromarray(np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (16, 1)))
    assert img.mode == "I;16"
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def test_16_bit_upload_is_shown_and_does_not_lock_the_session(app):
    """st.image could not encode I;16 as JPEG: the turn crashed, and every rerun after."""
    at = _qa_ask(app, "grey?", [("gray16.png", _gray16_png(), "image/png")])
    assert not at.exception, at.exception
    (turn,) = at.session_state["xc_qa_turns"]
    assert Image.open(io.BytesIO(turn.images[0].data)).mode == "RGB"
    at.run()
    assert not at.exception, at.exception


def test_a_stored_unshowable_image_becomes_a_caption_not_a_crash(app):
    """An image kept before normalisation existed (or any other surprise) must never
    make every rerun of the session fail."""
    from demo_core.xcomposer.images import ImageInput
    from demo_core.xcomposer.qa import QATurn

    raw = ImageInput("old.png", _gray16_png())  # raw I;16 bytes, as stored before the fix
    app.session_state["xc_qa_turns"] = [QATurn("q", [raw], "a", "note")]
    at = app.run()
    assert not at.exception, at.exception
    assert any("old.png" in c.value and "cannot be shown" in c.value for c in at.caption)
