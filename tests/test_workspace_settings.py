"""Sampling settings are preferences of the workspace (kept in the store), not of a tab:
a new browser session on the same workspace (a reload, a restart, another device) starts
from them; another workspace does not see them; Reset to defaults forgets them."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from demo_core.engine.base import GenerationParams
from demo_ui.resources import get_manager
from tests.conftest import ROOT, open_page


def _reopen(page: str, ws: str | None) -> AppTest:
    """A fresh browser session (nothing in its session state) opening ``ws``'s link."""
    get_manager.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    if ws:
        at.query_params["ws"] = ws
    at.run()
    at.switch_page(f"pages/{page}")
    at.run()
    assert not at.exception
    return at


def test_chat_sampling_settings_survive_a_new_session_of_the_workspace(studio_home):
    at = open_page("1_Story_Chat.py")
    ws = at.session_state["_workspace_id"]
    at.slider(key="story_temperature").set_value(1.3).run()
    at.slider(key="story_max_new_tokens").set_value(64).run()
    at.slider(key="story_repetition_penalty").set_value(1.2).run()

    again = _reopen("1_Story_Chat.py", ws)
    assert again.slider(key="story_temperature").value == 1.3
    assert again.slider(key="story_max_new_tokens").value == 64
    assert again.slider(key="story_repetition_penalty").value == 1.2
    # the other chat page keeps its own (its persona's) settings
    bajie = _reopen("2_Bajie.py", ws)
    limit = [s for s in bajie.slider if s.key.endswith("_max_new_tokens")]
    assert limit and limit[0].value != 64

    other = _reopen("1_Story_Chat.py", None)  # another browser: its own workspace
    assert other.session_state["_workspace_id"] != ws
    assert other.slider(key="story_temperature").value == GenerationParams().temperature

    again.button(key="story_reset_sampling").click().run()
    assert again.slider(key="story_temperature").value == GenerationParams().temperature
    fresh = _reopen("1_Story_Chat.py", ws)
    assert fresh.slider(key="story_temperature").value == GenerationParams().temperature
    assert fresh.slider(key="story_max_new_tokens").value == GenerationParams().max_new_tokens


def test_xcomposer_generation_settings_survive_a_new_session_of_the_workspace(studio_home):
    at = open_page("4_XComposer2.py")
    ws = at.session_state["_workspace_id"]
    keys = [n.key for n in at.number_input]
    assert "xc_compose_seed" in keys or any(k.endswith("_seed") for k in keys), keys
    seed_key = next(k for k in keys if k.endswith("_seed"))
    rep_key = seed_key.removesuffix("_seed") + "_rep"
    at.number_input(key=seed_key).set_value(1234).run()
    at.number_input(key=rep_key).set_value(1.1).run()
    again = _reopen("4_XComposer2.py", ws)
    assert again.number_input(key=seed_key).value == 1234
    assert again.number_input(key=rep_key).value == 1.1
