"""What goes wrong with a download, said in the language of the tab that started it.

A download runs in a background thread; its messages are built there, in a copy of the
starter's context, so a Chinese tab's failed download reads in Chinese even when another
(English) thread reads it. The English sentences of the same failures must not be left.
The picture sources of composition run side by side in worker threads and follow the same
rule."""

from __future__ import annotations

import re
import threading

import pytest

from demo_core.download import cli
from demo_core.download.api import Request
from demo_core.download.jobs import FAILED, DownloadJob
from demo_core.i18n import set_language
from tests import test_download_endpoints as endpoints
from tests.servers import free_port

SITES, request = endpoints.SITES, endpoints.request
source, served = endpoints.source, endpoints.served  # the same fixtures: every source

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(autouse=True)
def _english_afterwards():
    yield
    set_language("en")


def failed_in(language: str, req: Request) -> str:
    """The message of ``req`` as a job started in ``language``, read from another thread
    (whose language is English)."""
    set_language(language)
    job = DownloadJob(1, req).start()
    assert job.wait(30)
    seen: list = []
    reader = threading.Thread(target=lambda: seen.append(job.view()))  # a fresh context: en
    reader.start()
    reader.join()
    view = seen[0]
    assert view.state == FAILED, view.message
    return view.message


def chinese(message: str, *english: str) -> None:
    assert CJK.search(message), message
    for words in english:
        assert words not in message, message


def test_a_dead_endpoint_is_said_in_chinese(source, studio_home):
    dead = f"http://127.0.0.1:{free_port()}"
    msg = failed_in("zh_CN", request(source, dead, timeout=2))
    chinese(msg, "Cannot reach", "This machine may be offline")
    assert "无法连接" in msg and dead in msg
    english = failed_in("en", request(source, dead, timeout=2))
    assert "Cannot reach" in english and not CJK.search(english)


def test_a_silent_endpoint_is_said_in_chinese(source, served, studio_home):
    served.faults.hang = True
    msg = failed_in("zh_CN", request(source, served.endpoint, file="config.json", timeout=0.5))
    chinese(msg, "did not answer in time")
    assert "未及时响应" in msg


def test_a_login_page_instead_of_the_api_is_said_in_chinese(source, served, studio_home):
    served.faults.not_json = True
    served.faults.web_page = 200  # the hub: a web page answers
    msg = failed_in("zh_CN", request(source, served.endpoint, timeout=2))
    chinese(msg, "did not answer like", "Check the endpoint URL")


def test_an_unknown_repository_is_said_in_chinese(source, served, studio_home):
    req = Request("nobody/nothing", source=source, endpoint=served.endpoint, timeout=2)
    msg = failed_in("zh_CN", req)
    chinese(msg, "not found", "was not found")
    assert "nobody/nothing" in msg


def test_a_missing_file_and_remote_code_are_said_in_chinese(source, served, studio_home):
    missing = failed_in("zh_CN", request(source, served.endpoint, file="missing.json"))
    chinese(missing, "has no file")
    code = failed_in("zh_CN", request(source, served.endpoint, file="modeling_internlm2.py"))
    chinese(code, "is not fetched", "never remote")


def test_disk_and_checksum_problems_are_said_in_chinese(tiny_model_dir, studio_home, tmp_path):
    from tests.hubserver import HubStandIn, Repo

    repo = request("hf", None).repo_id
    with HubStandIn({repo: Repo.from_folder(tiny_model_dir)}) as hub:
        afile = tmp_path / "a-file"
        afile.write_text("x")
        msg = failed_in("zh_CN", request("hf", hub.url, file="config.json", dest=afile))
        chinese(msg, "is a file, not a folder", "Choose another destination folder")
        hub.faults.corrupt.add("model.safetensors")
        msg = failed_in("zh_CN", request("hf", hub.url, file="model.safetensors"))
        chinese(msg, "does not match", "The file was removed")


def test_the_command_line_speaks_the_terminal_language(source, studio_home, capsys, monkeypatch):
    monkeypatch.setenv("LANGUAGE", "zh_CN")
    dead = f"http://127.0.0.1:{free_port()}"
    assert cli.main([SITES[source][0], "--source", source, "--endpoint", dead]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    chinese(err, "Cannot reach")


def test_picture_sources_in_worker_threads_speak_the_callers_language():
    """gather() asks the finding sources side by side in worker threads: a dead Commons
    is reported in the language of the caller (the composition job), not in English."""
    from demo_core.xcomposer.sources import SearchRequest, gather
    from demo_core.xcomposer.sources.commons import CommonsSource
    from demo_core.xcomposer.sources.http import COOLDOWNS
    from demo_core.xcomposer.sources.openverse import OpenverseSource

    dead = f"http://127.0.0.1:{free_port()}"
    COOLDOWNS.clear()
    try:
        set_language("zh_CN")
        found, problems = gather(
            [CommonsSource(dead, 2), OpenverseSource(dead, 2)], SearchRequest("猫", "cat", k=2)
        )
        assert not found and len(problems) == 2, problems
        for problem in problems:
            chinese(problem, "cannot connect", "is this machine offline")
    finally:
        COOLDOWNS.clear()


def test_a_link_in_a_chinese_message_ends_where_the_address_ends():
    """Notices are Markdown, which links a bare URL up to the next space: Chinese has no
    space before its punctuation, so "无法连接 http://…（ConnectError…" linked the rest of
    the sentence. A URL placeholder in a zh_CN message is followed by a space, a path
    ("{url}/models"), or ends the message (a label such as "镜像站（{url}）")."""
    from demo_core.i18n import po_path
    from demo_core.i18n_tools import messages, read_catalog

    address = re.compile(r"\{(?:url|endpoint|host|default|official|mirror)\}(?!\s|/|）?$)")
    bad = [
        (ids[0], text)
        for ids, strings, _fuzzy in messages(read_catalog(po_path("zh_CN")))
        for text in strings
        if address.search(text)
    ]
    assert not bad, "\n".join(map(repr, bad))
