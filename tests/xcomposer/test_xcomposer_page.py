"""The XComposer2 page with the tiny random models, through Streamlit's AppTest."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "4_XComposer2.py")


def png_bytes(color="red", size=(32, 24)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def app(studio_home, monkeypatch):
    monkeypatch.setenv("DEMO_STUDIO_DEVICE", "cpu")
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.run()
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
