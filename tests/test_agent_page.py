"""The data-agent page through Streamlit's AppTest: tiny model, uploads, rendering."""

from __future__ import annotations

import os
import time

import pytest
from streamlit.testing.v1 import AppTest

from tests.agent_scripted import ScriptedEngine, code_call
from tests.conftest import open_page

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def agent_home(studio_home, monkeypatch, tmp_path):
    base = tmp_path / "agent"
    base.mkdir()
    os.chmod(tmp_path, 0o711)
    monkeypatch.setenv("DEMO_STUDIO_AGENT_DIR", str(base))
    from demo_ui.agent_view import get_kernel_registry
    from demo_ui.resources import get_manager

    get_kernel_registry.clear()
    get_manager.clear()
    yield base
    get_kernel_registry().shutdown_all()
    get_kernel_registry.clear()
    get_manager.clear()


def session_of(at: AppTest):
    return at.session_state["data_agent_session"]


def wait_done(at: AppTest, timeout: float = 60) -> AppTest:
    s = session_of(at)
    if s.run is not None:
        assert s.run.wait(timeout)
    return at.run(timeout=60)


def upload(at: AppTest, name: str, data: bytes) -> None:
    """AppTest cannot drive st.file_uploader; go through the same session method the
    uploader's handler calls, then rerun."""
    from demo_core.agent.uploads import UploadError

    try:
        info = session_of(at).add_upload(name, data)
        at.session_state["data_agent_messages"].append(("success", f"{info.name} is ready"))
    except UploadError as exc:
        at.session_state["data_agent_messages"].append(("error", str(exc)))


def test_page_opens_on_a_present_model(agent_home):
    """InternLM2-Chat-7B is the agent's model, but on a machine without it the page opens
    on one that is here (the tiny random model), like every other page."""
    at = open_page("3_Data_Agent.py", timeout=60)
    assert not at.exception
    box = at.sidebar.selectbox(key="data_agent_model")
    assert box.value == "tiny-internlm2"
    assert any(o.startswith("InternLM2-Chat-7B") for o in box.options)
    assert at.sidebar.toggle(key="data_agent_interpreter").value is True
    # an empty session says where to start (the uploader is in the sidebar)
    assert any("Upload a table" in i.value for i in at.main.info)


def test_tiny_model_answers_without_crashing(agent_home):
    at = open_page("3_Data_Agent.py", timeout=120)
    at.sidebar.selectbox(key="data_agent_model").set_value("tiny-internlm2").run()
    # short prompts: the tiny model reads 1024 tokens only
    at.sidebar.text_area(key="data_agent_meta_prompt").set_value("Answer.")
    at.sidebar.text_area(key="data_agent_interpreter_prompt").set_value("Run Python.")
    # one model call per question: a random model may emit a tool call, and its result
    # would not fit a second call into 1024 tokens (that path has its own tests)
    at.sidebar.slider(key="data_agent_max_turns").set_value(1)
    at.run()
    upload(at, "sales.csv", b"city,sales\nA,1\nB,2\n")
    at.run()
    assert any("sales.csv is ready" in s.value for s in at.success)
    at.chat_input(key="data_agent_input").set_value("What is the mean?").run()
    at = wait_done(at)
    assert not at.exception
    turn = session_of(at).turns[-1]
    assert turn.status == "done", turn.error
    assert turn.files and turn.files[0].name == "sales.csv"
    assert [m.value for m in at.chat_message[0].markdown][0] == "What is the mean?"
    assert not any("Upload a table" in i.value for i in at.main.info)  # a session has begun
    # transcript download is enabled now
    assert session_of(at).transcript().startswith("# Data-analysis agent transcript")


def test_bad_uploads_get_clear_errors(agent_home):
    at = open_page("3_Data_Agent.py", timeout=60)
    upload(at, "broken.xlsx", b"PK\x03\x04 not really a zip")
    upload(at, "gbk.txt", "销售数据".encode("gb18030"))
    upload(at, "bad.txt", b"\xff\xfe\xfa\x00\x01binary")
    upload(at, "old.xls", b"\xd0\xcf\x11\xe0")
    at.run()
    errors = [e.value for e in at.error]
    assert any("not a valid Excel workbook" in e for e in errors)
    assert any("binary file" in e for e in errors)
    assert any("save it as .xlsx" in e for e in errors)
    assert any("gbk.txt is ready" in s.value for s in at.success)
    assert not at.exception


def test_model_missing_keeps_the_question(agent_home):
    at = open_page("3_Data_Agent.py", timeout=60)
    at.sidebar.selectbox(key="data_agent_model").set_value("internlm2-chat-7b").run()
    assert any("not on this machine" in i.value for i in at.sidebar.info)
    at.chat_input(key="data_agent_input").set_value("Summarise my data please").run()
    assert not at.exception
    assert any("not on this machine" in e.value for e in at.error)
    assert any("back in the box" in i.value for i in at.info)
    # the question is the input's value again, ready to send once the model is here
    assert at.session_state["data_agent_input"] == "Summarise my data please" or (
        at.chat_input(key="data_agent_input").value == "Summarise my data please"
    )
    assert session_of(at).turns == []


def test_scripted_analysis_renders_code_plot_and_table(agent_home):
    """The UI path of a real analysis: code in an expander, the table as a dataframe, the
    plot as an image, the answer -- with a scripted InternLM2 in place of the 7B."""
    from demo_core.engine.manager import Resident
    from demo_ui.resources import get_manager

    code = (
        "df = pd.DataFrame({'city': ['A', 'B'], 'sales': [3, 5]})\n"
        "df.plot.bar(x='city', y='sales'); plt.show()\n"
        "df"
    )
    engine = ScriptedEngine([code_call(code, "Plotting."), "B sells more."])
    at = open_page("3_Data_Agent.py", timeout=60)  # starts from a fresh shared manager
    manager = get_manager()
    now = time.time()
    manager._resident["internlm2-chat-7b"] = Resident(engine, 0, now, now)  # test double
    at.sidebar.selectbox(key="data_agent_model").set_value("internlm2-chat-7b").run()
    at.chat_input(key="data_agent_input").set_value("Who sells more?").run()
    at = wait_done(at)
    assert not at.exception
    assistant = at.chat_message[1]
    assert "Plotting." in [m.value for m in assistant.markdown]
    assert assistant.expander[0].label == "Code"
    assert assistant.expander[0].code[0].value.startswith("df = pd.DataFrame(")
    assert assistant.dataframe[0].value["sales"].tolist() == [3, 5]
    (image,) = assistant.get("image")
    assert image.captions == ["figures/figure-001.png"]
    assert assistant.markdown[-1].value == "B sells more."
    md = session_of(at).transcript()
    assert "figures/figure-001.png" in md


def test_without_a_sandbox_the_page_asks_before_any_code_runs(agent_home, monkeypatch):
    """bwrap 'missing' (the env switch the launcher honours): the page says so in plain
    words, the input waits for consent, and the sidebar keeps a badge afterwards."""
    from demo_core.agent import sandbox

    monkeypatch.setenv(sandbox.NO_BWRAP_ENV, "1")
    at = open_page("3_Data_Agent.py", timeout=60)
    assert not at.exception
    assert any("No sandbox on this machine" in w.value for w in at.warning)
    assert at.chat_input(key="data_agent_input").disabled
    assert any("code will not run until you agree" in w.value for w in at.sidebar.warning)
    assert not session_of(at).kernel.started
    at.button(key="data_agent_consent").click().run()
    assert not at.exception
    assert not at.chat_input(key="data_agent_input").disabled
    assert any("No sandbox: code runs with the app's rights" in e.value for e in at.sidebar.error)
    assert session_of(at).registry.unsandboxed_allowed(session_of(at).session_id)


def test_sandbox_badge_when_bubblewrap_works(agent_home):
    from demo_core.agent import sandbox

    if not sandbox.availability().ok:
        pytest.skip(sandbox.availability().reason)
    at = open_page("3_Data_Agent.py", timeout=60)
    assert any("Sandboxed (bubblewrap)" in c.value for c in at.sidebar.caption)
    assert not at.chat_input(key="data_agent_input").disabled
def test_transcript_files_and_figures_come_back_and_code_can_be_rerun(agent_home):
    """A new browser session of the same workspace (a reload, a restart) gets the
    transcript, the files and figures back; the variables are gone and "Re-run the
    session's code" rebuilds them."""
    from demo_core.engine.manager import Resident
    from demo_ui.agent_view import get_kernel_registry
    from demo_ui.resources import get_manager
    from tests.conftest import ROOT

    code = "df = pd.DataFrame({'x': [1, 2]})\ndf.plot(); plt.show()\ndf"
    engine = ScriptedEngine([code_call(code, "Plotting."), "Done."])
    at = open_page("3_Data_Agent.py", timeout=60)
    now = time.time()
    get_manager()._resident["internlm2-chat-7b"] = Resident(engine, 0, now, now)  # test double
    at.sidebar.selectbox(key="data_agent_model").set_value("internlm2-chat-7b").run()
    at.chat_input(key="data_agent_input").set_value("Plot x").run()
    at = wait_done(at)
    at.run()  # the run after the answer saves it
    ws = at.session_state["_workspace_id"]
    get_kernel_registry().shutdown_all()  # the old kernel is gone, as after a restart

    again = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    again.session_state["_workspace_id"] = ws
    again.run()
    again.switch_page("pages/3_Data_Agent.py").run()
    assert not again.exception, again.exception
    s = session_of(again)
    assert [t.question for t in s.turns] == ["Plot x"]
    assert any("variables are not" in i.value for i in again.info)
    assert (s.work_dir / "figures" / "figure-001.png").is_file()
    assert again.chat_message[1].get("image")  # the figure is drawn again
    again.button(key="data_agent_rerun_code").click().run(timeout=120)
    assert any("rebuilt" in m.value for m in again.success)
    assert s.kernel.execute("print(df.x.sum())").text().strip() == "3"


def test_agent_sessions_history_new_resume_rename_search_delete_undo(agent_home):
    """The sidebar lists past agent sessions like the chats list conversations (the same
    mechanism): newest first, titled from the first question; New session, resume,
    rename, search, delete with Undo; a new browser session of the workspace resumes the
    one worked on."""
    from demo_core.engine.manager import Resident
    from demo_ui.resources import get_manager
    from tests.conftest import ROOT

    engine = ScriptedEngine(["Apples are red.", "Bananas are yellow."])
    at = open_page("3_Data_Agent.py", timeout=60)
    now = time.time()
    get_manager()._resident["internlm2-chat-7b"] = Resident(engine, 0, now, now)  # test double
    at.sidebar.selectbox(key="data_agent_model").set_value("internlm2-chat-7b").run()

    def titles() -> list[str]:
        return [b.label for b in at.sidebar.button if b.key and b.key.startswith("data_agent_hist_open_")]

    def key_of(title: str) -> str:
        return next(b.key for b in at.sidebar.button if b.label.endswith(title)).rsplit("_", 1)[1]

    assert at.sidebar.button(key="data_agent_hist_new").disabled  # nothing to leave yet
    at.chat_input(key="data_agent_input").set_value("about apples").run()
    at = wait_done(at)
    at.run()
    assert titles() == ["▶ about apples"]
    first = key_of("about apples")
    at.sidebar.button(key="data_agent_hist_new").click().run()  # New session
    assert session_of(at).turns == []
    at.chat_input(key="data_agent_input").set_value("about bananas").run()
    at = wait_done(at)
    at.run()
    assert titles() == ["▶ about bananas", "about apples"]  # newest first, titled
    at.sidebar.button(key=f"data_agent_hist_open_{first}").click().run()  # resume
    assert [t.question for t in session_of(at).turns] == ["about apples"]
    assert any("variables are not" in i.value for i in at.info)
    at.sidebar.text_input(key=f"data_agent_hist_title_{first}").set_value("Fruit")
    at.sidebar.button(key=f"data_agent_hist_rename_{first}").click().run()
    at.sidebar.text_input(key="data_agent_hist_query").set_value("banana").run()
    assert titles() == ["about bananas"]  # matches the question, not only the title
    at.sidebar.text_input(key="data_agent_hist_query").set_value("").run()
    ws = at.session_state["_workspace_id"]

    again = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    again.session_state["_workspace_id"] = ws  # a reload: the one worked on comes back
    again.run()
    again.switch_page("pages/3_Data_Agent.py").run()
    assert [t.question for t in session_of(again).turns] == ["about apples"]

    at.sidebar.button(key=f"data_agent_hist_delete_{first}").click().run()
    assert session_of(at).turns == []  # the open one was deleted: a new session
    assert titles() == ["about bananas"]
    at.sidebar.button(key="data_agent_hist_undo").click().run()
    assert "▶ Fruit" in titles()
    assert [t.question for t in session_of(at).turns] == ["about apples"]
