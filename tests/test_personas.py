"""Personas: shipped set, user personas on disk, bad files, and the exact prompt sent."""

from __future__ import annotations

import json

import pytest

from demo_core.internlm2.loader import load_tokenizer
from demo_core.internlm2.template import render_chat
from demo_core.personas import (
    PersonaError,
    delete_user_persona,
    load_all,
    load_builtin,
    save_user_persona,
    user_dir,
    validate,
)
from tests.conftest import open_page

BAJIE_START = (
    "你是猪八戒，猪八戒说话幽默风趣，说话方式通常表现为直率、幽默，有时带有一点自嘲和调侃。"
)


def test_builtin_personas_are_valid():
    personas = load_builtin()
    ids = [p.id for p in personas]
    assert ids[0] == "bajie" and {"wukong", "teacher"} <= set(ids)
    bajie = personas[0]
    assert bajie.system_prompt.startswith(BAJIE_START)
    assert "书生·浦语是你的好朋友，是你的AI助手" in bajie.system_prompt
    assert bajie.preferred_model == "bajie-chat-mini" and bajie.avatar == "🐷"


def test_user_persona_round_trip(studio_home):
    p = save_user_persona(
        {"id": "tangseng", "name": "唐僧", "system_prompt": "你是唐僧。", "avatar": "🙏"}
    )
    assert (user_dir() / "tangseng.json").is_file()
    loaded = load_all()
    assert loaded.get("tangseng") == p and not loaded.problems
    assert delete_user_persona("tangseng") and load_all().get("tangseng") is None


@pytest.mark.parametrize(
    "data,problem",
    [
        ({"id": "x", "name": "X"}, "missing system_prompt"),
        ({"id": "Bad Id", "name": "X", "system_prompt": "s"}, "lowercase"),
        (
            {"id": "x", "name": "X", "system_prompt": "s", "preferred_model": "gpt-9"},
            "not a known model",
        ),
        (
            {"id": "x", "name": "X", "system_prompt": "s", "sampling": {"temperature": "hot"}},
            "bad sampling",
        ),
        (
            {"id": "x", "name": "X", "system_prompt": "s", "sampling": {"beam": 3}},
            "sampling may only",
        ),
        ({"id": "x", "name": "X", "system_prompt": "s", "colour": "red"}, "unknown field"),
        (
            {"id": "x", "name": "X", "system_prompt": "s", "sampling": {"repetition_penalty": 1.8}},
            r"repetition_penalty 1\.8 is outside 1\.0–1\.5",
        ),
        (
            {"id": "x", "name": "X", "system_prompt": "s", "sampling": {"max_new_tokens": 999999}},
            "outside 16–4096",
        ),
        (
            {"id": "x", "name": "X", "system_prompt": "s", "sampling": {"temperature": -3}},
            "temperature -3 is outside",
        ),
        (
            {"id": "x", "name": "X", "system_prompt": "s", "sampling": {"top_k": 2.5}},
            "whole number",
        ),
        (
            {"id": "x", "name": "X", "system_prompt": "s", "sampling": {"top_p": "nan"}},
            "outside",
        ),
        (
            {"id": "x", "name": "X", "system_prompt": "s", "sampling": {"temperature": True}},
            "must be a number",
        ),
        (["not", "an", "object"], "JSON object"),
        ({"id": "x", "name": "X", "system_prompt": "s", "avatar": "八戒"}, "one emoji"),
        ({"id": "x", "name": "X", "system_prompt": "s", "avatar": "🐷🐷"}, "one emoji"),
        ({"id": "x", "name": "X", "system_prompt": "s", "avatar": "pig.png"}, "one emoji"),
    ],
)
def test_validation_messages(data, problem):
    with pytest.raises(PersonaError, match=problem):
        validate(data)


@pytest.mark.parametrize("avatar", ["🐷", "👩‍🏫", "🇨🇳", "1️⃣", "👍🏽", "❤️", " 🙏 "])
def test_one_emoji_is_an_avatar(avatar):
    assert validate({"id": "x", "name": "X", "system_prompt": "s", "avatar": avatar}).avatar == (
        avatar.strip()
    )


def test_every_emoji_streamlit_draws_is_one_emoji():
    from streamlit.emojis import ALL_EMOJIS

    from demo_core.personas import emoji_count

    assert [e for e in ALL_EMOJIS if emoji_count(e) != 1] == []


def test_no_avatar_means_the_default():
    assert validate({"id": "x", "name": "X", "system_prompt": "s", "avatar": ""}).avatar == "🎭"


def test_avatar_that_streamlit_cannot_draw_falls_back():
    """Defence in depth: whatever reaches the chat, st.chat_message never gets a string it
    would try to load as an image."""
    from demo_ui.chat import ChatConfig, drawable_avatar

    assert drawable_avatar("八戒") == "🎭" and drawable_avatar("🐷") == "🐷"
    cfg = ChatConfig(prefix="p", title="t", default_system_prompt="", assistant_avatar="八戒")
    assert cfg.assistant_avatar == "🎭"


def test_sampling_values_become_numbers_of_the_slider_type():
    p = validate(
        {"id": "x", "name": "X", "system_prompt": "s", "sampling": {"max_new_tokens": "512.0"}}
    )
    assert p.sampling == {"max_new_tokens": 512} and type(p.sampling["max_new_tokens"]) is int


def _write_persona(data: dict, name: str) -> None:
    folder = user_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def test_out_of_range_sampling_file_is_reported_not_a_crash(studio_home):
    _write_persona(
        {"id": "prep", "name": "Rep penalty", "system_prompt": "x",
         "sampling": {"repetition_penalty": 1.8}},
        "prep",
    )  # fmt: skip
    at = open_page("2_Bajie.py")
    assert not at.exception
    assert not any("Rep penalty" in o for o in at.selectbox(key="roleplay_persona").options)
    assert "1.8" in _problems_text(at)


def _problems_text(at) -> str:
    """Everything the page says about persona files it could not use."""
    return " ".join([w.value for w in at.warning] + [m.value for m in at.markdown])


def test_cannot_replace_a_shipped_persona(studio_home):
    with pytest.raises(PersonaError, match="shipped"):
        save_user_persona({"id": "bajie", "name": "fake", "system_prompt": "s"})


def test_bad_files_are_reported_and_left_untouched(studio_home):
    folder = user_dir()
    folder.mkdir(parents=True)
    broken = folder / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    clash = folder / "clash.json"
    clash.write_text(
        json.dumps({"id": "bajie", "name": "B2", "system_prompt": "s"}), encoding="utf-8"
    )
    pset = load_all()
    assert len(pset.problems) == 2
    assert any("broken.json" in p for p in pset.problems) and any(
        "already used" in p for p in pset.problems
    )
    assert broken.read_text(encoding="utf-8") == "{not json"  # not lost
    assert [p.id for p in pset.personas][:3] == ["bajie", "wukong", "teacher"]


def test_bajie_prompt_token_exact(real_tokenizer_dir):
    """What the model receives for Bajie equals the official template, token for token."""
    tok = load_tokenizer(real_tokenizer_dir)
    bajie = load_builtin()[0]
    msgs = [
        {"role": "system", "content": bajie.system_prompt},
        {"role": "user", "content": "八戒，你饿了吗？"},
    ]
    ours = tok(render_chat(msgs), add_special_tokens=False)["input_ids"]
    assert (
        ours
        == tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True)["input_ids"]
    )
    assert ours[:4] == [1, 92543, 9081, 364]  # <s> <|im_start|> system \n
    assert ours[-4:] == [92543, 525, 11353, 364]  # <|im_start|> assistant \n


@pytest.fixture
def bajie_page(studio_home):
    at = open_page("2_Bajie.py")
    assert not at.exception
    return at


def test_bajie_page_falls_back_and_says_so(bajie_page):
    at = bajie_page
    assert at.selectbox(key="roleplay_persona").value == "bajie"
    assert any("BaJie-Chat-mini" in w.value and "not downloaded" in w.value for w in at.warning)
    assert at.radio(key="roleplay_model_bajie").value == "tiny-internlm2"
    assert at.text_area(key="roleplay_bajie_system_prompt").value.startswith(BAJIE_START)
    assert "俺老猪" in at.chat_message[0].markdown[0].value  # greeting


def test_bajie_chat_and_persona_switch_keeps_conversations(bajie_page):
    at = bajie_page
    at.chat_input(key="roleplay_bajie_input").set_value("八戒你好").run()
    bajie_turns = list(at.session_state["roleplay_bajie_conversation"].turns)
    assert len(bajie_turns) == 2 and bajie_turns[1].status == "done"
    sent = at.session_state["roleplay_bajie_conversation"].model_messages()
    assert sent[0]["content"].startswith(BAJIE_START)
    at.selectbox(key="roleplay_persona").set_value("wukong").run()
    assert not at.exception
    assert at.session_state["roleplay_wukong_conversation"].turns == []
    at.chat_input(key="roleplay_wukong_input").set_value("大圣").run()
    at.selectbox(key="roleplay_persona").set_value("bajie").run()
    assert at.session_state["roleplay_bajie_conversation"].turns == bajie_turns
    assert len(at.session_state["roleplay_wukong_conversation"].turns) == 2


def test_add_persona_in_ui_persists(bajie_page):
    at = bajie_page
    at.text_input[0].set_value("Tang Seng")
    at.text_area[1].set_value("You are Tang Seng, a gentle monk.")
    form_submit = [b for b in at.button if b.label == "Save persona"][0]
    form_submit.click().run()
    assert not at.exception
    assert (user_dir() / "tang-seng.json").is_file()
    assert at.selectbox(key="roleplay_persona").value == "tang-seng"


def test_persona_file_with_a_word_for_avatar_is_reported(studio_home):
    _write_persona(
        {"id": "bajie2", "name": "八戒二号", "system_prompt": "x", "avatar": "八戒"}, "b2"
    )
    pset = load_all()
    assert pset.get("bajie2") is None and any("one emoji" in p for p in pset.problems)


def test_add_persona_with_a_word_for_avatar_is_refused(bajie_page):
    at = bajie_page
    at.text_input[0].set_value("八戒二号")
    at.text_input[1].set_value("八戒")
    at.text_area[1].set_value("你是八戒。")
    [b for b in at.button if b.label == "Save persona"][0].click().run()
    assert not at.exception
    assert any("one emoji" in e.value for e in at.error)
    assert not user_dir().exists() or not list(user_dir().glob("*.json"))


def test_add_persona_with_empty_prompt_keeps_form(bajie_page):
    at = bajie_page
    at.text_input[0].set_value("Nobody")
    [b for b in at.button if b.label == "Save persona"][0].click().run()
    assert any("Not saved" in e.value for e in at.error)
    assert at.text_input[0].value == "Nobody"
