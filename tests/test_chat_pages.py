"""Streamlit AppTest runs of the chat pages with the tiny model, through the real engine."""

from __future__ import annotations

import json

import pytest

from demo_core.conversation import MAX_PROMPT_CHARS, validate_prompt
from demo_ui.chat_text import reply_markdown
from tests.conftest import open_page


@pytest.fixture
def story(studio_home):
    at = open_page("1_Story_Chat.py")
    assert not at.exception
    return at


def _conv(at, prefix="story"):
    return at.session_state[f"{prefix}_conversation"]


def test_story_page_defaults_to_an_available_model(story):
    assert story.selectbox(key="story_model").value == "tiny-internlm2"
    assert any("not downloaded" in i.value for i in story.info)
    # the same notice as the Bajie page: with a link to the Models page
    link = [p for p in story.get("page_link") if p.proto.label.startswith("Download")][0]
    assert link.proto.page == "Models"
    assert any("noise" in w.value for w in story.warning)
    assert story.text_area(key="story_system_prompt").value.startswith(
        "You are InternLM (书生·浦语)"
    )


def test_send_streams_a_reply_with_stats(story):
    story.chat_input(key="story_input").set_value("Write a 300-character story").run()
    assert not story.exception
    turns = _conv(story).turns
    assert [t.role for t in turns] == ["user", "assistant"]
    assert turns[1].status == "done" and turns[1].content
    assert turns[1].stats["new_tokens"] > 0 and turns[1].stats["ttft_s"] is not None
    assert any("tok/s" in c.value for c in story.caption)
    assert story.chat_message[0].text[0].value == "Write a 300-character story"
    assert story.chat_message[1].markdown[0].value == reply_markdown(turns[1].content)


def test_preset_prompt_button(story):
    story.button(key="story_preset_📖 300-character story").click().run()
    assert _conv(story).turns[0].content == "请创作一个 300 字的小故事"
    assert _conv(story).turns[1].role == "assistant"


def test_sliders_use_the_shared_limits(story):
    from demo_core.engine.base import SAMPLING_LIMITS

    for name, limit in SAMPLING_LIMITS.items():
        slider = story.slider(key=f"story_{name}")
        assert (slider.min, slider.max) == (limit.low, limit.high), name


def test_remembered_out_of_range_slider_value_is_clamped(story):
    """A remembered value a slider cannot show (an older range, a hand-made persona) is
    moved into range instead of crashing the page."""
    story.session_state["_kept_story_top_k"] = 500
    story.session_state["_kept_story_repetition_penalty"] = 1.8
    story.switch_page("pages/5_Models.py").run()  # the page's widgets are forgotten, the copies stay
    story.switch_page("pages/1_Story_Chat.py").run()
    assert not story.exception
    assert story.slider(key="story_top_k").value == 100
    assert story.slider(key="story_repetition_penalty").value == 1.5


def test_regenerate_replaces_the_last_reply(story):
    story.chat_input(key="story_input").set_value("hello").run()
    story.slider(key="story_temperature").set_value(1.5).run()
    story.button(key="story_regen").click().run()
    turns = _conv(story).turns
    assert [t.role for t in turns] == ["user", "assistant"] and turns[1].status == "done"


def test_clear_and_exports(story):
    story.chat_input(key="story_input").set_value("你好").run()
    conv = _conv(story)
    from demo_core.conversation import to_json, to_markdown

    data = json.loads(to_json(conv, "Story chat"))
    assert data["turns"][0]["content"] == "你好"
    assert "**User**" in to_markdown(conv, "Story chat")
    assert not story.get("download_button")[0].proto.disabled
    story.button(key="story_clear").click().run()
    assert _conv(story).turns == []


def test_system_prompt_edit_takes_effect(story):
    story.text_area(key="story_system_prompt").set_value("You are a pirate.").run()
    story.chat_input(key="story_input").set_value("hi").run()
    assert _conv(story).model_messages()[0] == {"role": "system", "content": "You are a pirate."}


def test_whitespace_prompt_is_refused_politely(story):
    story.chat_input(key="story_input").set_value("   \n ").run()
    assert not story.exception
    assert _conv(story).turns == []
    assert any("empty" in w.value for w in story.warning)


def test_huge_prompt_is_refused_with_a_message_and_kept(story):
    """The browser drops a paste longer than max_chars without a word, so the widget has
    none; the app refuses the message, says why, and keeps the text to copy."""
    assert story.chat_input(key="story_input").proto.max_chars == 0
    huge = "第一行\n" + "x" * (MAX_PROMPT_CHARS * 3)
    story.chat_input(key="story_input").set_value(huge).run()
    assert not story.exception
    assert _conv(story).turns == []
    assert any("24,004 characters" in w.value and "not sent" in w.value for w in story.warning)
    assert story.code[0].value == huge
    story.slider(key="story_temperature").set_value(1.0).run()  # still there after a rerun
    assert story.code[0].value == huge
    story.chat_input(key="story_input").set_value("short").run()
    assert huge not in [c.value for c in story.code] and _conv(story).turns[0].content == "short"


def test_validate_prompt_rules():
    assert validate_prompt(None) == (None, None)
    assert validate_prompt("hi") == ("hi", None)
    assert "empty" in validate_prompt(" \n")[1]
    assert "limit" in validate_prompt("x" * (MAX_PROMPT_CHARS + 1))[1]


def test_missing_model_keeps_the_message(story):
    story.selectbox(key="story_model").set_value("internlm2-chat-7b").run()
    story.chat_input(key="story_input").set_value("keep me").run()
    assert not story.exception
    turns = _conv(story).turns
    assert turns[0].content == "keep me"
    assert turns[1].status == "error"
    assert any("not on this machine" in e.value for e in story.error)
    # switching back to a model that exists and regenerating answers the kept message
    story.selectbox(key="story_model").set_value("tiny-internlm2").run()
    story.button(key="story_regen").click().run()
    turns = _conv(story).turns
    assert turns[0].content == "keep me" and turns[1].status == "done"


def test_failed_load_keeps_its_reason_and_unlocks_the_controls(story):
    story.selectbox(key="story_model").set_value("internlm2-chat-1_8b").run()
    story.chat_input(key="story_input").set_value("hello").run()
    assert not story.exception
    reply = _conv(story).turns[1]
    assert reply.status == "error" and "not on this machine" in reply.content
    assert not story.button(key="story_regen").disabled
    assert not story.button(key="story_clear").disabled
    assert not [b for b in story.button if b.key and "_preset_" in b.key]
    story.slider(key="story_temperature").set_value(1.0).run()  # any later rerun
    assert any("not on this machine" in e.value for e in story.error)
    assert "(see above)" not in " ".join(e.value for e in story.error)


def test_context_overflow_is_a_message_not_a_crash(story):
    story.text_area(key="story_system_prompt").set_value("猪八戒 " * 3000).run()
    story.chat_input(key="story_input").set_value("hi").run()
    assert not story.exception
    assert _conv(story).turns[-1].status == "error"
    assert any(e.value.startswith("The message is too long") for e in story.error)


def test_corrupt_checkpoint_is_a_message_not_a_traceback(story, tmp_path, monkeypatch):
    from demo_core.internlm2.tiny import build_tiny_internlm2

    broken = build_tiny_internlm2(tmp_path / "broken-1_8b")
    (broken / "model.safetensors").write_bytes(b"\x00truncated download")
    monkeypatch.setenv("DEMO_STUDIO_MODEL_INTERNLM2_CHAT_1_8B", str(broken))
    story.run()  # the model list now shows it as present
    story.selectbox(key="story_model").set_value("internlm2-chat-1_8b").run()
    story.chat_input(key="story_input").set_value("still here?").run()
    assert not story.exception
    assert any(
        "cannot be loaded" in e.value and "Download it again" in e.value for e in story.error
    )
    assert _conv(story).turns[0].content == "still here?"


def test_idle_events_let_a_waiting_page_notice_clicks():
    from demo_core.engine.base import Generation

    gen = Generation()
    events = gen.events(idle_s=0.05)
    assert next(events) == ("idle", None)  # nothing came: the page gets to draw anyway
    gen.emit("a")
    assert next(events) == ("text", "a")
    gen.finish("stop")
    assert list(events) == []


def test_user_message_is_shown_literally(story):
    typed = "你好~今天天气不错~\n# 标题\n**not bold** <b>x</b> :red[no]"
    story.chat_input(key="story_input").set_value(typed).run()
    user = story.chat_message[0]
    assert [t.value for t in user.text] == [typed] and not user.markdown


@pytest.mark.parametrize(
    "reply,shown",
    [
        ("你好~今天天气不错~", "你好\\~今天天气不错\\~"),
        ("好的~", "好的\\~"),
        ("~~struck on purpose~~ and **bold**", "~~struck on purpose~~ and **bold**"),
        ("- one ~ two\n- three", "- one \\~ two\n- three"),
        ("run `ls ~/x` now~", "run `ls ~/x` now\\~"),
        ("``a ~ b`` ~", "``a ~ b`` \\~"),
        ("```bash\ncd ~/x\n```\nhome~", "```bash\ncd ~/x\n```\nhome\\~"),
        ("~~~\na ~ b\n~~~\n", "~~~\na ~ b\n~~~\n"),
        ("```\nnot closed ~", "```\nnot closed ~"),
        ("already \\~ escaped", "already \\~ escaped"),
    ],
)
def test_reply_markdown_neutralises_single_tildes_only(reply, shown):
    assert reply_markdown(reply) == shown


def test_reply_with_tildes_is_not_struck_through(story, monkeypatch):
    from demo_core.engine.base import Generation

    def fake_stream_chat(self, messages, params, cancel=None):
        gen = Generation(cancel)
        gen.emit("你好~今天天气不错~")
        gen.finish("stop")
        return gen

    from demo_core.engine.local import TransformersEngine

    monkeypatch.setattr(TransformersEngine, "stream_chat", fake_stream_chat)
    story.chat_input(key="story_input").set_value("hi").run()
    assert story.chat_message[1].markdown[0].value == "你好\\~今天天气不错\\~"


def test_stats_line_counts_dropped_messages_in_good_english():
    from demo_core.conversation import format_stats

    assert "1 old message left out" in format_stats({"dropped": 1})
    assert "3 old messages left out" in format_stats({"dropped": 3})


def test_history_new_chat_resume_rename_search_delete_undo_import(story):
    from demo_core.conversation import to_json

    story.chat_input(key="story_input").set_value("about apples").run()
    first = _conv(story)
    story.button(key="story_clear").click().run()  # New chat
    assert _conv(story).turns == []
    story.chat_input(key="story_input").set_value("about bananas").run()
    second = _conv(story)
    titles = [b.label for b in story.sidebar.button if b.key and "_hist_open_" in b.key]
    assert titles == ["▶ about bananas", "about apples"]  # newest first, titled
    story.sidebar.button(key=f"story_hist_open_{first.id}").click().run()  # resume
    assert _conv(story).id == first.id and _conv(story).turns[0].content == "about apples"
    story.sidebar.text_input(key=f"story_hist_title_{first.id}").set_value("Fruit")
    story.sidebar.button(key=f"story_hist_rename_{first.id}").click().run()
    story.sidebar.text_input(key="story_hist_query").set_value("banana").run()
    titles = [b.label for b in story.sidebar.button if b.key and "_hist_open_" in b.key]
    assert titles == ["about bananas"]
    story.sidebar.text_input(key="story_hist_query").set_value("").run()
    story.sidebar.button(key=f"story_hist_delete_{first.id}").click().run()
    assert _conv(story).turns == []  # the open one was deleted: a new chat
    assert not [b for b in story.sidebar.button if b.key == f"story_hist_open_{first.id}"]
    story.sidebar.button(key="story_hist_undo").click().run()
    assert _conv(story).id == first.id
    labels = [b.label for b in story.sidebar.button if b.key and "_hist_open_" in b.key]
    assert "▶ Fruit" in labels
    # import the JSON export (what the sidebar's uploader does with the file)
    from demo_core.conversation import ConversationFileError, from_json, store_conversation
    from demo_core.store import get_store

    exported = to_json(second, "Story chat")
    cid = store_conversation(
        get_store(), story.session_state["_workspace_id"], "story", from_json(exported)
    )
    story.run()
    assert f"story_hist_open_{cid}" in [b.key for b in story.sidebar.button]
    story.sidebar.button(key=f"story_hist_open_{cid}").click().run()
    assert [(t.role, t.content) for t in _conv(story).turns] == [
        (t.role, t.content) for t in second.turns
    ]
    assert _conv(story).title == "Story chat"
    for bad in ("not json", '{"turns": "x"}', '{"turns": [{"role": "system"}]}'):
        with pytest.raises(ConversationFileError):
            from_json(bad)


def test_stop_stops_the_reply_running_in_the_conversation_when_the_click_arrives():
    """A Stop click handled after a newer reply started in the same conversation (the
    button was drawn for the one before) stops the newer one: before, it stopped nothing
    and the next message reported that reply as "interrupted by a new request"."""
    import time

    from demo_core.jobs import JOBS, Job
    from demo_ui.chat import _on_stop

    def until_stopped(job: Job) -> None:
        while not job.cancelled:
            time.sleep(0.02)

    old = JOBS.start("ws-stop", "chat:c1", Job("chat", "old", lambda job: None))
    assert old.wait(10)
    newer = JOBS.start("ws-stop", "chat:c1", Job("chat", "newer", until_stopped))
    _on_stop(old)
    assert newer.wait(10) and newer.end_reason == "stopped"
    JOBS.pop("ws-stop", "chat:c1")
