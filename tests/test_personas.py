"""Personas: shipped set, user personas on disk, bad files, and the exact prompt sent."""

from __future__ import annotations

import json
import os

import pytest

from demo_core.internlm2.loader import load_tokenizer
from demo_core.internlm2.template import render_chat
from demo_core.personas import (
    PersonaError,
    delete_user_persona,
    find_user_file,
    load_all,
    load_builtin,
    persona_id,
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
    boxes = [e for e in at.expander if "could not be used" in e.label]
    return " ".join(t.value for box in boxes for t in box.text)


def test_cannot_replace_a_shipped_persona(studio_home):
    with pytest.raises(PersonaError, match="built-in persona 猪八戒"):
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
    assert any("BaJie-Chat-mini" in i.value and "not downloaded" in i.value for i in at.info)
    assert "Download it on the Models page" in [link.proto.label for link in at.get("page_link")]
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


# -- ids, overwriting, edit and delete ---------------------------------------------------


def test_persona_ids_are_stable_and_distinct():
    import subprocess
    import sys

    code = "from demo_core.personas import persona_id; print(persona_id('唐僧'))"
    ids = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("1", "2", "3")
    }
    assert ids == {persona_id("唐僧")}  # the same in every process (hash() was not)
    assert persona_id("Teacher Bob") == "teacher-bob"
    assert persona_id("!!!") != persona_id("???")
    assert persona_id("唐僧 Tang") != persona_id("八戒 Tang")
    for name in ("唐僧", "!!!", "x" * 80, "唐僧 " + "long name " * 10):
        validate({"id": persona_id(name), "name": name, "system_prompt": "s"})  # a valid id


def _new(name: str, prompt: str = "s") -> dict:
    return {"id": persona_id(name), "name": name, "system_prompt": prompt}


def test_a_second_name_with_the_same_id_does_not_overwrite(studio_home):
    save_user_persona(_new("Teacher Bob", "first"))
    with pytest.raises(PersonaError, match="a persona called Teacher Bob already exists") as err:
        save_user_persona(_new("teacher bob!", "second"))
    assert "id" not in str(err.value).split()
    assert load_all().get("teacher-bob").system_prompt == "first"
    save_user_persona(_new("!!!", "bangs"))
    save_user_persona(_new("???", "questions"))
    assert {p.system_prompt for p in load_all().personas} >= {"bangs", "questions"}


def test_same_name_is_refused_even_with_another_id(studio_home):
    save_user_persona(_new("Tang"))
    with pytest.raises(PersonaError, match="already exists"):
        save_user_persona({"id": "other", "name": "  TANG ", "system_prompt": "s"})


@pytest.mark.parametrize(
    "name,message",
    [
        ("Patient Teacher", "a built-in persona is already called Patient teacher"),
        ("teacher", "too close to the built-in persona Patient teacher"),
    ],
)
def test_builtin_clash_speaks_of_names(studio_home, name, message):
    with pytest.raises(PersonaError, match=message) as err:
        save_user_persona(_new(name))
    assert "id" not in str(err.value).split()


def test_edit_overwrites_only_when_asked(studio_home):
    save_user_persona(_new("Tang", "old"))
    save_user_persona({**_new("Tang", "new"), "name": "Tang Seng"}, overwrite=True)
    p = load_all().get("tang")
    assert (p.name, p.system_prompt) == ("Tang Seng", "new")


def test_unreadable_file_in_the_way_is_not_overwritten(studio_home):
    folder = user_dir()
    folder.mkdir(parents=True)
    (folder / "tang.json").write_text("{broken", encoding="utf-8")
    with pytest.raises(PersonaError, match="cannot be used"):
        save_user_persona(_new("Tang"))
    assert (folder / "tang.json").read_text(encoding="utf-8") == "{broken"


def test_delete_finds_a_file_named_otherwise(studio_home):
    _write_persona({"id": "tang", "name": "Tang", "system_prompt": "s"}, "my-monk")
    assert find_user_file("tang") == user_dir() / "my-monk.json"
    assert delete_user_persona("tang") and not (user_dir() / "my-monk.json").exists()


def _fill_form(at, name: str, prompt: str, avatar: str | None = None):
    at.text_input(key="roleplay_form_name").set_value(name)
    at.text_area(key="roleplay_form_prompt").set_value(prompt)
    if avatar is not None:
        at.text_input(key="roleplay_form_avatar").set_value(avatar)
    [b for b in at.button if b.label in ("Save persona", "Save changes")][0].click().run()
    assert not at.exception


def test_saving_empties_the_form_and_confirms(bajie_page):
    at = bajie_page
    _fill_form(at, "Tang Seng", "You are Tang Seng.", "🙏")
    assert at.selectbox(key="roleplay_persona").value == "tang-seng"
    assert any("Saved Tang Seng" in s.value for s in at.success)
    assert at.text_input(key="roleplay_form_name").value == ""
    assert at.text_area(key="roleplay_form_prompt").value == ""
    assert at.text_input(key="roleplay_form_avatar").value == "🎭"
    at.run()  # the confirmation is shown once
    assert not any("Saved" in s.value for s in at.success)


def test_saving_a_clashing_name_keeps_the_other_persona(bajie_page):
    at = bajie_page
    _fill_form(at, "Teacher Bob", "first")
    _fill_form(at, "teacher bob!", "second")
    assert any("Teacher Bob already exists" in e.value for e in at.error)
    assert at.text_input(key="roleplay_form_name").value == "teacher bob!"  # kept
    assert load_all().get("teacher-bob").system_prompt == "first"
    _fill_form(at, "teacher", "x")
    assert any("built-in persona Patient teacher" in e.value for e in at.error)


def test_edit_a_persona(bajie_page):
    at = bajie_page
    _fill_form(at, "Tang Seng", "You are Tang Seng.")
    at.chat_input(key="roleplay_tang-seng_input").set_value("师父好").run()
    at.button(key="roleplay_edit").click().run()
    assert at.text_input(key="roleplay_form_name").value == "Tang Seng"
    assert at.text_area(key="roleplay_form_prompt").value == "You are Tang Seng."
    _fill_form(at, "Tang Seng", "You are Tang Seng, on the road west.")
    assert load_all().get("tang-seng").system_prompt == "You are Tang Seng, on the road west."
    assert at.text_area(key="roleplay_tang-seng_system_prompt").value.endswith("road west.")
    conv = at.session_state["roleplay_tang-seng_conversation"]
    assert conv.turns[0].content == "师父好"  # the conversation stays
    assert conv.system_prompt.endswith("road west.")
    assert len(list(user_dir().glob("*.json"))) == 1


def test_delete_a_persona_and_no_state_leaks_to_the_next(bajie_page):
    at = bajie_page
    _fill_form(at, "Teacher Bob", "You are Bob.")
    at.chat_input(key="roleplay_teacher-bob_input").set_value("hi Bob").run()
    at.text_area(key="roleplay_teacher-bob_system_prompt").set_value("edited by hand").run()
    at.button(key="roleplay_delete").click().run()
    assert not at.exception
    assert not user_dir().joinpath("teacher-bob.json").exists()
    assert at.selectbox(key="roleplay_persona").value == "bajie"
    assert any("Deleted Teacher Bob" in s.value for s in at.success)
    # another persona that gets the same id starts clean
    _fill_form(at, "teacher bob!", "You are another Bob.")
    assert at.selectbox(key="roleplay_persona").value == "teacher-bob"
    assert at.session_state["roleplay_teacher-bob_conversation"].turns == []
    assert at.text_area(key="roleplay_teacher-bob_system_prompt").value == "You are another Bob."


def test_builtin_personas_have_no_edit_or_delete(bajie_page):
    keys = {b.key for b in bajie_page.button}
    assert "roleplay_edit" not in keys and "roleplay_delete" not in keys


def test_broken_files_are_listed_in_one_expander_below_the_picker(studio_home):
    for i in range(7):
        _write_persona(
            {"id": f"b{i}", "name": f"B{i}", "system_prompt": "x", "avatar": "八戒"}, f"b{i}"
        )
    at = open_page("2_Bajie.py")
    assert not at.exception
    assert not [w for w in at.warning if "persona file" in w.value]  # no warning per file
    box = [e for e in at.sidebar.expander if "could not be used" in e.label]
    assert len(box) == 1 and box[0].label == "7 persona files could not be used"
    lines = [t.value for t in box[0].text]
    assert len(lines) == 7 and lines[0].startswith("• b0.json: the avatar must be one emoji")
    assert str(user_dir()) in box[0].caption[0].value  # the folder, once


def test_the_two_prompt_boxes_have_different_labels(bajie_page):
    labels = [t.label for t in bajie_page.sidebar.text_area]
    assert len(labels) == 2 and len(set(labels)) == 2


def test_a_shared_persona_can_only_be_changed_by_the_browser_that_made_it(studio_home):
    """Personas are shared by every session; one student must not delete another's."""
    from demo_core.personas import NotYours

    data = {"id": "alices-monk", "name": "Alice's monk", "system_prompt": "Teach."}
    made = save_user_persona(data, workspace="ws-alice")
    assert made.owner == "ws-alice" and made.editable_by("ws-alice")
    assert not made.editable_by("ws-bob")
    with pytest.raises(NotYours):
        delete_user_persona("alices-monk", workspace="ws-bob")
    with pytest.raises(NotYours):
        save_user_persona(
            {**data, "system_prompt": "Mine now."}, overwrite=True, workspace="ws-bob"
        )
    edited = save_user_persona(
        {**data, "system_prompt": "Teach well."}, overwrite=True, workspace="ws-alice"
    )
    assert edited.owner == "ws-alice"  # an edit keeps the maker
    assert delete_user_persona("alices-monk", workspace="ws-alice")


def test_another_browsers_persona_shows_no_edit_or_delete(studio_home):
    import json

    save_user_persona(
        {"id": "alices-monk", "name": "Alice's monk", "system_prompt": "Teach."},
        workspace="someone-else",
    )
    at = open_page("2_Bajie.py")
    at.selectbox(key="roleplay_persona").set_value("alices-monk").run()
    assert not any(b.key in ("roleplay_edit", "roleplay_delete") for b in at.button)
    assert any("Made in another browser" in c.value for c in at.caption)
    # the same persona, made in this browser's workspace, can be edited
    mine = at.session_state["_workspace_id"]  # demo_ui.prefs.workspace_id() of this session
    assert mine != "someone-else"
    path = user_dir() / "alices-monk.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "owner": mine}))
    at.run()
    assert any(b.key == "roleplay_edit" for b in at.button)
