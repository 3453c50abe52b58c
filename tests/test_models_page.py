"""The Models page, run by Streamlit's AppTest against the stand-in hub (no browser)."""

from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

from demo_core.download.jobs import REGISTRY
from demo_core.i18n import set_language
from tests.conftest import ROOT, open_page
from tests.hubserver import HubStandIn, Repo

REPO = "internlm/internlm2-chat-1_8b"


@pytest.fixture
def hub(tiny_model_dir):
    repo = Repo.from_folder(tiny_model_dir)
    with HubStandIn({REPO: repo, "JimmyMa99/BaJie-Chat-mini": repo}) as srv:
        yield srv


@pytest.fixture
def page(studio_home, monkeypatch):
    monkeypatch.setenv("DEMO_STUDIO_MEMORY_BUDGET_GB", "4")
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    REGISTRY.clear_finished()
    at = open_page("5_Models.py", timeout=30)
    assert not at.exception, at.exception
    return at


def set_custom_endpoint(at: AppTest, url: str, source: str = "hf") -> None:
    at.selectbox(key=f"models_endpoint_choice_{source}").set_value("Custom URL").run()
    at.text_input(key=f"models_endpoint_url_{source}").set_value(url).run()


def wait_jobs() -> None:
    end = time.monotonic() + 15
    while REGISTRY.running() and time.monotonic() < end:
        time.sleep(0.05)
    assert not REGISTRY.running()


def test_lists_every_model_and_memory_budget(page):
    from demo_core.specs import SPECS

    table = page.dataframe[0].value
    assert list(table["key"]) == list(SPECS)
    assert "not on this machine" in set(table["found in"])
    assert any("memory budget" in p.proto.text for p in page.get("progress"))


def test_download_config_json_shows_it_pretty_printed(page, hub):
    set_custom_endpoint(page, hub.url)
    page.button(key="models_start").click().run()
    assert not page.error, [e.value for e in page.error]
    wait_jobs()
    page.run()
    assert any("Done: 1 file" in s.value for s in page.success)
    code = [c.value for c in page.code]
    assert code and '"model_type": "internlm2"' in code[0] and '\n  "' in code[0]


def test_bad_custom_endpoint_is_a_clear_error(page):
    set_custom_endpoint(page, "hf-mirror.com")
    page.button(key="models_start").click().run()
    assert not page.exception
    assert any("not an endpoint URL" in e.value for e in page.error)
    assert page.text_input(key="models_endpoint_url_hf").value == "hf-mirror.com"  # kept


def test_remote_code_file_is_refused(page, hub):
    set_custom_endpoint(page, hub.url)
    page.text_input(key="models_file").set_value("modeling_internlm2.py").run()
    page.button(key="models_start").click().run()
    assert any("never remote" in e.value for e in page.error)
    assert not hub.requests("GET", "/resolve/")


def test_unreachable_endpoint_job_fails_with_message(page):
    set_custom_endpoint(page, "http://127.0.0.1:9")
    page.button(key="models_start").click().run()
    wait_jobs()
    page.run()
    assert any("Cannot reach" in e.value for e in page.error)


def test_modelscope_download_from_custom_endpoint(page, hub):
    page.selectbox(key="models_choice").set_value("bajie-chat-mini").run()
    page.radio(key="models_source").set_value("ModelScope").run()
    set_custom_endpoint(page, hub.url, source="modelscope")
    page.button(key="models_start").click().run()
    assert not page.error, [e.value for e in page.error]
    wait_jobs()
    page.run()
    assert any("Done: 1 file" in s.value for s in page.success)
    assert hub.requests("GET", "/api/v1/models/JimmyMa99/BaJie-Chat-mini/repo/files")


def test_loaded_model_can_be_unloaded(page, studio_home):
    from demo_ui.resources import get_manager

    manager = get_manager()
    manager.get("tiny-internlm2")
    page.run()
    page.button(key="models_unload_tiny-internlm2").click().run()
    assert "tiny-internlm2" not in manager.loaded_keys()


@pytest.fixture
def auto_reruns(monkeypatch) -> list[list[float]]:
    """For each AppTest run, the ``run_every`` timers the page sent to the browser.

    AppTest's element tree drops these messages, so they are read from the runner's
    queue (cleared at the start of each script run: this is what the last run sent).
    """
    from streamlit.testing.v1 import local_script_runner as lsr

    sent: list[list[float]] = []
    real_run = lsr.LocalScriptRunner.run

    def run(self, *args, **kwargs):
        tree = real_run(self, *args, **kwargs)
        msgs = self.forward_msgs()
        sent.append([m.auto_rerun.interval for m in msgs if m.WhichOneof("type") == "auto_rerun"])
        return tree

    monkeypatch.setattr(lsr.LocalScriptRunner, "run", run)
    return sent


def test_jobs_area_polls_only_while_a_download_runs(page, hub, auto_reruns):
    page.run()
    assert auto_reruns[-1] == [], "an idle page must not rerun itself every second"

    hub.faults.throttle_s = 0.05  # the whole tiny model takes about two seconds
    set_custom_endpoint(page, hub.url)
    page.radio(key="models_what").set_value("Whole model").run()
    page.button(key="models_start").click().run()
    assert REGISTRY.running(), "the download should still be running"
    assert auto_reruns[-1] == [1.0], "a running download is polled once a second"

    wait_jobs()
    page.run()  # the last refresh after the job ended
    assert any("Done:" in s.value for s in page.success), [s.value for s in page.success]
    assert auto_reruns[-1] == [], "polling stops once nothing runs"


def test_an_openxlab_job_is_titled_openxlab(page):
    """The job's title names the source as the form does (the one SOURCE_NAMES map)."""
    page.radio(key="models_source").set_value("OpenXLab").run()
    set_custom_endpoint(page, "http://127.0.0.1:9", source="openxlab")
    page.button(key="models_start").click().run()
    wait_jobs()
    page.run()
    titles = [m.value for m in page.markdown if m.value.startswith("**#")]
    assert titles and titles[0].endswith(" · OpenXLab**"), titles
    assert any("Cannot reach OpenXLab" in e.value for e in page.error)


def test_a_failed_download_in_a_chinese_tab_is_chinese(studio_home, monkeypatch):
    """The job's error is built in its thread in the language of the tab that started it."""
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    REGISTRY.clear_finished()
    from demo_ui.resources import get_manager

    get_manager.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.session_state["_language_choice"] = "zh_CN"
    at.run()
    at.switch_page("pages/5_Models.py").run()
    # AppTest formats the widgets' values (format_func=_) in this thread: in the tab's language
    set_language("zh_CN")
    try:
        at.selectbox(key="models_endpoint_choice_hf").set_value("自定义网址").run()
        at.text_input(key="models_endpoint_url_hf").set_value("http://127.0.0.1:9").run()
        at.button(key="models_start").click().run()
        wait_jobs()
        at.run()
    finally:
        set_language("en")
    errors = [e.value for e in at.error]
    assert any("无法连接 http://127.0.0.1:9" in e for e in errors), errors
    assert not any("Cannot reach" in e or "offline" in e for e in errors), errors


def test_a_json_file_that_cannot_be_shown_is_one_warning_everywhere(tmp_path):
    """The Downloads list and the homework show a fetched JSON file with one helper, and
    its warning is one message of the catalog."""
    from demo_core.i18n import po_path
    from demo_core.i18n_tools import read_catalog
    from demo_ui import download_jobs, homework

    assert homework.show_json_file is download_jobs.show_json_file
    ids = {m.id for m in read_catalog(po_path("zh_CN"))}
    assert "{name} is not readable JSON: {error}" in ids
    assert "{name} is not readable JSON: {exc}" not in ids

    def script(path: str) -> None:
        from pathlib import Path

        from demo_core.i18n import set_language
        from demo_ui.download_jobs import show_json_file

        set_language("zh_CN")
        show_json_file(Path(path))

    broken = tmp_path / "config.json"
    broken.write_text("{not json", encoding="utf-8")
    at = AppTest.from_function(script, args=(str(broken),)).run()
    assert [w.value for w in at.warning] and "config.json 不是可读的 JSON" in at.warning[0].value
