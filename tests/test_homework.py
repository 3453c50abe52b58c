"""The homework on the Models page: config.json of any repository from each of the three
sources (stand-ins on 127.0.0.1), shown pretty, with its path and the equivalent Python."""

from __future__ import annotations

import ast
import json
import time

import pytest

from demo_core.download.homework import equivalent_python, homework_dir, resolve_repo
from demo_core.download.jobs import REGISTRY
from demo_core.internlm1.tiny import build_tiny_internlm1
from tests.conftest import open_page
from tests.hubserver import HubStandIn, Repo
from tests.openxlab_server import OpenXLabStandIn

REPOS = {
    "hf": "internlm/internlm-20b",
    "modelscope": "Shanghai_AI_Laboratory/internlm-20b",
    "openxlab": "OpenLMLab/InternLM-20b",
}
LABELS = {"hf": "Hugging Face", "modelscope": "ModelScope", "openxlab": "OpenXLab"}


@pytest.fixture(scope="module")
def v1_20b(tmp_path_factory):
    return Repo.from_folder(build_tiny_internlm1(tmp_path_factory.mktemp("m") / "m", release="20b"))


@pytest.fixture
def stand_in(v1_20b, request):
    cls = OpenXLabStandIn if request.param == "openxlab" else HubStandIn
    with cls({REPOS[request.param]: v1_20b}) as srv:
        yield request.param, srv


def _wait() -> None:
    end = time.monotonic() + 20
    while REGISTRY.running() and time.monotonic() < end:
        time.sleep(0.05)
    assert not REGISTRY.running()


@pytest.mark.parametrize("stand_in", ["hf", "modelscope", "openxlab"], indirect=True)
def test_homework_from_each_source(stand_in, studio_home, monkeypatch):
    source, srv = stand_in
    for var in ("HF_ENDPOINT", "MODELSCOPE_DOMAIN", "OPENXLAB_ENDPOINT"):
        monkeypatch.delenv(var, raising=False)
    REGISTRY.clear_finished()
    at = open_page("5_Models.py", timeout=30)
    at.radio(key="homework_source").set_value(source).run()
    assert at.text_input(key=f"homework_repo_{source}").value == REPOS[source]
    endpoint = srv.endpoint if source == "openxlab" else srv.url
    at.selectbox(key=f"homework_endpoint_choice_{source}").set_value("Custom URL").run()
    at.text_input(key=f"homework_endpoint_url_{source}").set_value(endpoint).run()
    assert f"config.json of {REPOS[source]}" in at.button(key="homework_start").label
    at.button(key="homework_start").click().run()
    _wait()
    at.run()
    assert not at.exception
    saved = homework_dir(source, REPOS[source]) / "config.json"
    assert saved.is_file()
    assert any(str(saved) in s.value for s in at.success)
    codes = [c.value for c in at.code]
    pretty = [c for c in codes if '"model_type": "internlm"' in c]
    assert pretty and json.loads(pretty[-1])["hidden_size"] == 64 and '\n  "' in pretty[-1]
    python = [c for c in codes if "import" in c][-1]
    ast.parse(python)  # it is valid Python to copy
    assert REPOS[source] in python
    assert {"hf": "hf_hub_download", "modelscope": "snapshot_download", "openxlab": "download("}[
        source
    ] in python


def test_equivalent_python_per_source(tmp_path):
    hf = equivalent_python("internlm/internlm-20b", "hf", tmp_path, "https://hf-mirror.com")
    assert "HF_ENDPOINT" in hf and "hf_hub_download(repo_id='internlm/internlm-20b'" in hf
    ms = equivalent_python("Shanghai_AI_Laboratory/internlm-20b", "modelscope", tmp_path)
    assert "allow_file_pattern='config.json'" in ms
    ox = equivalent_python("OpenLMLab/InternLM-20b", "openxlab", tmp_path)
    assert (
        "from openxlab.model import download" in ox and "model_repo='OpenLMLab/InternLM-20b'" in ox
    )
    for code in (hf, ms, ox):
        ast.parse(code)


def test_spec_keys_resolve_per_source():
    assert resolve_repo("internlm-20b", "hf") == "internlm/internlm-20b"
    assert resolve_repo("internlm-20b", "modelscope") == "Shanghai_AI_Laboratory/internlm-20b"
    assert resolve_repo("internlm-20b", "openxlab") == "OpenLMLab/InternLM-20b"
    assert resolve_repo(" someone/thing/ ", "hf") == "someone/thing"


def test_models_table_lists_both_generations_with_three_sources(studio_home):
    from demo_core.specs import SPECS

    at = open_page("5_Models.py", timeout=30)
    table = at.dataframe[0].value
    keys = list(table["key"])
    for key in ("internlm2-chat-1_8b", "internlm2-chat-7b", "internlm-chat-7b", "internlm-20b"):
        assert key in keys
    assert keys == list(SPECS)
    row = table[table["key"] == "internlm-chat-7b"].iloc[0]
    assert row["Hugging Face"] == "internlm/internlm-chat-7b"
    assert row["ModelScope"] == "Shanghai_AI_Laboratory/internlm-chat-7b"
    assert row["OpenXLab"] == "OpenLMLab/InternLM-chat-7b"
    bajie = table[table["key"] == "bajie-chat-mini"].iloc[0]
    assert (
        bajie["OpenXLab"] == "git clone JimmyMa99/BaJie-Chat-mini" and bajie["Hugging Face"] == "—"
    )
