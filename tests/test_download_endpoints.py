"""An endpoint that misbehaves, the same for every source (Hugging Face hub, ModelScope,
OpenXLab): it never answers, nothing listens, or a login page answers instead of the API.
Each source says so in its own words, as one line on the command line."""

from __future__ import annotations

import re
import time

import pytest

from demo_core.download import cli
from demo_core.download.api import Request, download
from demo_core.download.errors import DownloadError, EndpointUnreachable
from tests.hubserver import HubStandIn, Repo
from tests.openxlab_server import OpenXLabStandIn
from tests.servers import free_port

# source: a model it has, and its stand-in
SITES = {
    "hf": ("internlm2-chat-1_8b", HubStandIn),
    "modelscope": ("bajie-chat-mini", HubStandIn),
    "openxlab": ("internlm-chat-7b", OpenXLabStandIn),
}
# what each says when nothing listens at its endpoint (a regular expression)
OFFLINE = {
    "hf": "Cannot reach",
    "modelscope": "Cannot reach ModelScope",
    "openxlab": "Cannot reach OpenXLab.*offline",
}
# what each says when a web page answers instead of its API (the hub's own: test_download_hub)
LOGIN_PAGE = {
    "modelscope": "did not answer like the ModelScope API",
    "openxlab": "did not answer like OpenXLab",
}


def request(source: str, endpoint: str | None, **kw) -> Request:
    return Request(SITES[source][0], source=source, endpoint=endpoint, **kw)


@pytest.fixture(params=sorted(SITES))
def source(request) -> str:
    return request.param


@pytest.fixture
def served(source, tiny_model_dir):
    stand_in = SITES[source][1]
    repo_id = request(source, None).repo_id
    with stand_in({repo_id: Repo.from_folder(tiny_model_dir)}) as srv:
        yield srv


def test_silent_endpoint_times_out_quickly(source, served, studio_home):
    served.faults.hang = True
    t0 = time.monotonic()
    with pytest.raises(EndpointUnreachable, match="did not answer in time"):
        download(request(source, served.endpoint, file="config.json", timeout=0.5))
    assert time.monotonic() - t0 < 5


def test_closed_port_says_it_cannot_reach_the_site(source, studio_home):
    with pytest.raises(EndpointUnreachable, match=OFFLINE[source]):
        download(request(source, f"http://127.0.0.1:{free_port()}", timeout=2))


@pytest.mark.parametrize("source", sorted(LOGIN_PAGE), indirect=True)
def test_login_page_instead_of_the_api_is_explained(source, served, studio_home):
    served.faults.not_json = True
    with pytest.raises(DownloadError, match=LOGIN_PAGE[source]):
        download(request(source, served.endpoint))


def test_offline_on_the_command_line_is_one_line(source, studio_home, capsys):
    model = SITES[source][0]
    endpoint = f"http://127.0.0.1:{free_port()}"
    assert cli.main([model, "--source", source, "--endpoint", endpoint]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert re.search(OFFLINE[source], err), err
