"""The "How it works" panel on the real pages (AppTest, tiny model, real engine)."""

from __future__ import annotations

from tests.conftest import open_page
from tests.test_agent_page import agent_home, session_of, wait_done  # noqa: F401, F811
from tests.test_explain_snippets import run_snippet


def _panel_code(at) -> str:
    codes = [c.value for c in at.code if "load_internlm2" in c.value]
    assert codes, "no code block in the panel"
    return codes[-1]


def test_panel_is_off_by_default_and_records_nothing(studio_home):
    at = open_page("1_Story_Chat.py")
    assert at.toggle(key="hiw_toggle").value is False
    at.chat_input(key="story_input").set_value("hi").run()
    assert not at.exception
    assert not at.session_state["_hiw_story"] if "_hiw_story" in at.session_state else True
    assert not [m for m in at.markdown if "How it works" in m.value]


def test_story_panel_prompt_probabilities_step_and_code(studio_home, tmp_path):
    at = open_page("1_Story_Chat.py")
    at.toggle(key="hiw_toggle").set_value(True).run()
    at.slider(key="story_temperature").set_value(0.0).run()
    at.chat_input(key="story_input").set_value("Write a story").run()
    assert not at.exception
    reply = at.session_state["story_conversation"].turns[-1]
    assert reply.status == "done" and reply.content
    ((owner, trace, _gen),) = at.session_state["_hiw_story"]
    assert owner == reply.id and trace.prompt_ids and trace.token_steps()
    # the prompt view is the default view
    assert any("tokens go into the model" in c.value for c in at.caption)
    # probabilities
    at.segmented_control(key="hiw_story_view").set_value("Probabilities").run()
    assert not at.exception
    assert any("Click a token" in c.value for c in at.caption)
    # step mode: one token per click, the first one is the greedy reply's first token
    at.segmented_control(key="hiw_story_view").set_value("Step mode").run()
    assert not at.exception
    at.button(key="hiw_story_next").click().run()
    at.button(key="hiw_story_next").click().run()
    picked = at.session_state["hiw_story_state"]["picked"]
    steps = trace.token_steps()
    assert [t for t, _ in picked] == [s.token_id for s in steps[:2]]
    at.button(key="hiw_story_back").click().run()
    assert len(at.session_state["hiw_story_state"]["picked"]) == 1
    # the code runs and prints the page's reply
    at.segmented_control(key="hiw_story_view").set_value("Code").run()
    assert not at.exception
    out = run_snippet(_panel_code(at), tmp_path)
    # the same tokens as the page's reply (compared as one decode: the random model emits
    # lone UTF-8 bytes, which a streaming decoder and a one-shot decode spell differently)
    from demo_core.internlm2.loader import load_tokenizer
    from demo_ui.resources import get_manager

    path = get_manager().get("tiny-internlm2").info.extra["path"]
    tok = load_tokenizer(path)
    page_ids = [s.token_id for s in steps]
    assert out.split("\n", 1)[1] == tok.decode(page_ids, skip_special_tokens=True) + "\n"


def test_preference_survives_a_page_switch(studio_home):
    at = open_page("1_Story_Chat.py")
    at.toggle(key="hiw_toggle").set_value(True).run()
    at.switch_page("pages/2_Bajie.py").run()
    assert not at.exception
    assert at.toggle(key="hiw_toggle").value is True


def test_agent_panel_loop_prompt_and_code(agent_home):  # noqa: F811
    at = open_page("3_Data_Agent.py", timeout=120)
    at.sidebar.toggle(key="hiw_toggle").set_value(True).run()
    at.sidebar.selectbox(key="data_agent_model").set_value("tiny-internlm2").run()
    at.sidebar.text_area(key="data_agent_meta_prompt").set_value("Answer.")
    at.sidebar.text_area(key="data_agent_interpreter_prompt").set_value("Run Python.")
    at.sidebar.slider(key="data_agent_max_turns").set_value(1)
    at.run()
    at.chat_input(key="data_agent_input").set_value("What is the mean?").run()
    at = wait_done(at)
    assert not at.exception
    turn = session_of(at).turns[-1]
    step = turn.steps[0]
    assert step.prompt_tokens > 0 and step.new_tokens > 0 and step.model_s > 0
    trace = turn.traces[0]
    assert trace.prompt_ids[0] == 1 and trace.token_steps()
    assert len(at.get("graphviz_chart")) == 1
    assert "Model call 1" in at.get("graphviz_chart")[0].proto.spec
    at.segmented_control(key="hiw_agent_view").set_value("Prompt").run()
    assert not at.exception
    assert any("tokens go into the model" in c.value for c in at.caption)
    at.segmented_control(key="hiw_agent_view").set_value("Code").run()
    assert not at.exception
    assert any("Internlm2Agent" in c.value for c in at.code)
