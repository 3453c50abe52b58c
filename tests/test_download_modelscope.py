"""ModelScope downloads against the stand-in on 127.0.0.1 answering ModelScope's HTTP API
(tests/hubserver.py): real requests through the same fetcher, no ``modelscope`` package."""

from __future__ import annotations

import hashlib

import pytest

from demo_core.download import cli
from demo_core.download.api import Request, download
from demo_core.download.errors import AccessDenied, CorruptFile, DownloadError, NotFound
from demo_core.download.modelscope_source import normalise_endpoint
from tests.download_helpers import REMOTE_CODE, DownloadCase, model_files, stand_in_fixture
from tests.hubserver import HubStandIn, Repo

REPO = "JimmyMa99/BaJie-Chat-mini"
KEY = "bajie-chat-mini"
WEIGHTS = "model.safetensors"
BAJIE = DownloadCase(KEY, "modelscope", "BaJie-Chat-mini")


@pytest.fixture(scope="module")
def repo_files(tiny_model_dir) -> dict[str, bytes]:
    return model_files(
        tiny_model_dir,
        {
            "modeling_internlm2.py": REMOTE_CODE,
            "configuration.json": b'{"framework": "pytorch", "task": "chat"}',
            "assets/logo.png": b"\x89PNG not really",
        },
    )


ms = stand_in_fixture(HubStandIn, REPO)
req = BAJIE.request


def test_whole_model_downloads_verifies_and_generates(ms, studio_home, repo_files):
    from demo_core.internlm2.loader import load_internlm2

    res = download(req(ms.url))
    BAJIE.assert_working(res, studio_home, load_internlm2, "猪八戒")
    dest = res.dest
    assert sorted(p.name for p in res.files) == sorted(
        n for n in repo_files if n.endswith((".json", ".model", ".safetensors"))
    )
    assert "modeling_internlm2.py" in res.skipped and "assets/logo.png" in res.skipped
    assert not any(".py" in r["path"] for r in ms.log), "remote code must never be requested"
    listing = ms.requests("GET", "/repo/files")
    assert len(listing) == 1 and "Revision=master" in listing[0]["path"]
    assert "Recursive=true" in listing[0]["path"]
    weights = (dest / WEIGHTS).read_bytes()
    assert hashlib.sha256(weights).hexdigest() == hashlib.sha256(repo_files[WEIGHTS]).hexdigest()
    assert ms.requests("GET", "/cdn/"), "LFS files follow the redirect to storage"


def test_single_file_and_missing_file(ms, studio_home, repo_files):
    res = download(req(ms.url, file="config.json"))
    assert res.files[0].read_bytes() == repo_files["config.json"]
    with pytest.raises(NotFound, match="no file 'missing.json'"):
        download(req(ms.url, file="missing.json"))
    with pytest.raises(DownloadError, match="never remote"):
        download(req(ms.url, file="modeling_internlm2.py"))
    assert not ms.requests("GET", "FilePath=modeling")


def test_resume_after_cut_connection(ms, studio_home, repo_files):
    ms.faults.drop_first = {WEIGHTS}
    res = download(req(ms.url))
    sha = hashlib.sha256(repo_files[WEIGHTS]).hexdigest()
    gets = [g for g in ms.requests("GET", "/cdn/") if sha in g["path"]]
    assert len(gets) == 2
    assert gets[1]["headers"]["range"] == f"bytes={len(repo_files[WEIGHTS]) // 2}-"
    assert (res.dest / WEIGHTS).read_bytes() == repo_files[WEIGHTS]


def test_corrupt_file_is_caught_by_the_listed_sha256(ms, studio_home):
    ms.faults.corrupt = {"config.json"}
    with pytest.raises(CorruptFile, match="sha256"):
        download(req(ms.url, file="config.json"))
    assert not (BAJIE.dest(studio_home) / "config.json").exists()


def test_unknown_model_and_revision_are_not_found(ms, studio_home):
    with pytest.raises(NotFound, match="nobody/nothing.*not found on ModelScope"):
        download(Request("nobody/nothing", source="modelscope", endpoint=ms.url))
    with pytest.raises(NotFound, match="v9"):
        download(req(ms.url, revision="v9"))


def test_private_model_needs_the_token_and_storage_never_gets_it(repo_files, studio_home):
    with HubStandIn({REPO: Repo(files=dict(repo_files), token="ms-secret")}) as srv:
        with pytest.raises(AccessDenied, match="without a token.*enter an access token"):
            download(req(srv.url))
        with pytest.raises(AccessDenied, match="rejected the access token.*wrong, expired"):
            download(req(srv.url, token="ms-wrong"))
        res = download(req(srv.url, token="ms-secret"))
        assert (res.dest / WEIGHTS).is_file()
        cdn = [r for r in srv.log if r["role"] == "cdn"]
        assert cdn and all("authorization" not in r["headers"] for r in cdn)


def test_error_code_in_a_200_answer_is_reported(ms, studio_home):
    ms.faults.ms_code = 500
    with pytest.raises(DownloadError, match="server busy"):
        download(req(ms.url))


def test_endpoint_forms():
    assert normalise_endpoint(None) == "https://www.modelscope.cn"
    assert normalise_endpoint("www.modelscope.cn") == "https://www.modelscope.cn"
    assert normalise_endpoint("http://10.0.0.2:8080/") == "http://10.0.0.2:8080"
    with pytest.raises(DownloadError, match="not an endpoint URL"):
        normalise_endpoint("ftp://x")


def test_cli_downloads_from_modelscope(ms, studio_home, capsys):
    rc = cli.main([KEY, "--source", "modelscope", "--endpoint", ms.url, "--file", "config.json"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert out.splitlines()[0].endswith("BaJie-Chat-mini/config.json")
