"""The beam and meta controls in the pages (AppTest, tiny random models, real engines):
the story chat's Beams and the composition tab's Beam size / Text only / With meta, in
English and Chinese, saved for the workspace, and what they send to the model."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from demo_core.engine.base import GenerationParams
from demo_core.i18n import set_language
from demo_core.store import get_store
from tests.conftest import ROOT, open_page


@pytest.fixture(autouse=True)
def _english_afterwards():
    yield
    set_language("en")


def reopen(at: AppTest, page: str) -> AppTest:
    """A new browser session opening the same workspace link."""
    again = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    again.query_params["ws"] = at.query_params["ws"]
    again.run()
    again.switch_page(f"pages/{page}")
    again.run()
    assert not again.exception, again.exception
    return again


def test_story_chat_beams_reply_is_the_engines_beam_search_and_saved(studio_home):
    at = open_page("1_Story_Chat.py", timeout=120)
    beams = at.slider(key="story_num_beams")
    assert (beams.value, beams.min, beams.max, beams.label) == (1, 1, 5, "Beams")
    assert "beam search" in beams.help
    beams.set_value(2)
    at.slider(key="story_temperature").set_value(0.0)
    at.run()
    at.chat_input(key="story_input").set_value("Write a story").run()
    assert not at.exception, at.exception
    conv = at.session_state["story_conversation"]
    reply = conv.turns[1]
    assert reply.status == "done" and reply.content
    from demo_ui.resources import get_manager

    engine = get_manager().get("tiny-internlm2")
    messages = [{"role": "system", "content": conv.system_prompt}] if conv.system_prompt else []
    messages.append({"role": "user", "content": "Write a story"})
    params = GenerationParams(
        max_new_tokens=at.slider(key="story_max_new_tokens").value,
        temperature=0.0,
        do_sample=False,
        repetition_penalty=at.slider(key="story_repetition_penalty").value,
        num_beams=2,
    )
    assert reply.content == engine.stream_chat(messages, params).result()
    assert reply.content != engine.stream_chat(messages, GenerationParams(
        **{**params.to_dict(), "num_beams": 1}
    )).result()  # negative control: the page did not decode greedily
    ws = at.query_params["ws"]
    ws = ws[0] if isinstance(ws, list) else ws
    assert get_store().prefs(ws)["story_num_beams"] == 2
    assert reopen(at, "1_Story_Chat.py").slider(key="story_num_beams").value == 2


def _compose_tab(language: str) -> AppTest:
    from demo_ui.resources import get_manager

    get_manager.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["_language_choice"] = language
    at.run()
    at.switch_page("pages/4_XComposer2.py")
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.mark.parametrize(
    "language, labels",
    [
        ("en", ("Beam size", "Text only", "With meta")),
        ("zh_CN", ("集束大小", "只要文字", "使用 meta 指令")),
    ],
)
def test_composition_controls_in_both_languages(studio_home, monkeypatch, language, labels):
    monkeypatch.setenv("DEMO_STUDIO_DEVICE", "cpu")
    at = _compose_tab(language)
    beams = at.slider(key="xc_cmp_beams")
    meta = at.checkbox(key="xc_cmp_meta")
    text_only = at.checkbox(key="xc_cmp_text_only")
    assert (beams.min, beams.max, beams.value) == (1, 6, 1)  # the original's 1-6, default 1
    assert meta.value is False  # off by default, as the original
    assert (beams.label, text_only.label, meta.label) == labels
    assert at.slider(key="xc_qa_beams").max == 5  # the original chat demo's 1-5


def test_compose_with_beams_meta_and_text_only_is_saved_and_sent(studio_home, monkeypatch):
    monkeypatch.setenv("DEMO_STUDIO_DEVICE", "cpu")
    at = _compose_tab("en")
    at.slider(key="xc_cmp_beams").set_value(2)
    at.checkbox(key="xc_cmp_meta").set_value(True)
    at.checkbox(key="xc_cmp_text_only").set_value(True)
    at.text_area(key="xc_cmp_instruction").set_value("写一篇关于水墨画的文章")
    at.number_input(key="xc_cmp_max_new").set_value(24)
    at.checkbox(key="xc_cmp_sample").set_value(False)
    at.run()
    at.button(key="xc_cmp_go").click().run()
    job = at.session_state["xc_cmp_job"]
    assert job.wait(120)
    at.run()
    assert not at.exception, at.exception
    article = at.session_state["xc_cmp_article"]
    assert article.paragraphs and not article.slots  # text only: no image slot
    # what the page sent: the article as the composer writes it with beams 2 and the meta
    from demo_core.xcomposer import compose as C
    from demo_core.xcomposer.composer import Composer
    from demo_ui.resources import get_manager

    engine = get_manager().get("tiny-xcomposer2")
    params = GenerationParams(
        max_new_tokens=24,
        temperature=C.ARTICLE_DEFAULTS.temperature,
        top_p=C.ARTICLE_DEFAULTS.top_p,
        top_k=C.ARTICLE_DEFAULTS.top_k,
        do_sample=False,
        seed=C.DEFAULT_SEED,
        num_beams=2,
    )
    text = Composer(engine, with_meta=True).write("写一篇关于水墨画的文章", [], params).result()
    assert article.texts == C.split_paragraphs(text)
    plain = Composer(engine).write("写一篇关于水墨画的文章", [], params).result()
    assert C.split_paragraphs(plain) != article.texts  # negative control: the meta was used
    ws = at.query_params["ws"]
    ws = ws[0] if isinstance(ws, list) else ws
    prefs = get_store().prefs(ws)
    assert prefs["xc_cmp_beams"] == 2 and prefs["xc_cmp_meta"] is True
    again = reopen(at, "4_XComposer2.py")
    assert again.slider(key="xc_cmp_beams").value == 2
    assert again.checkbox(key="xc_cmp_meta").value is True
