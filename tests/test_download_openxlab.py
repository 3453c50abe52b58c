"""OpenXLab downloads against the stand-in on 127.0.0.1 answering as OpenXLab's model API
does (tests/openxlab_server.py, read from the ``openxlab`` package): same fetcher, no package."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from demo_core.download import cli
from demo_core.download.api import Request, download
from demo_core.download.errors import AccessDenied, Cancelled, CorruptFile, DownloadError, NotFound
from demo_core.download.fetch import incomplete_path
from demo_core.internlm1.tiny import build_tiny_internlm1
from tests.download_helpers import REMOTE_CODE, DownloadCase, model_files, stand_in_fixture
from tests.hubserver import Repo
from tests.openxlab_server import GitStandIn, OpenXLabStandIn

REPO = "OpenLMLab/InternLM-chat-7b"
KEY = "internlm-chat-7b"
SHARD = "pytorch_model-00001-of-00002.bin"
CHAT_7B = DownloadCase(KEY, "openxlab", "internlm-chat-7b")


@pytest.fixture(scope="module")
def v1_dir(tmp_path_factory) -> Path:
    return build_tiny_internlm1(tmp_path_factory.mktemp("v1") / "tiny", seed=1)


@pytest.fixture(scope="module")
def repo_files(v1_dir) -> dict[str, bytes]:
    return model_files(v1_dir, {"modeling_internlm.py": REMOTE_CODE})


oxl = stand_in_fixture(OpenXLabStandIn, REPO)
req = CHAT_7B.request


def test_whole_model_downloads_verifies_and_generates(oxl, studio_home, repo_files):
    from demo_core.internlm1.loader import load_internlm1

    res = download(req(oxl.endpoint))
    CHAT_7B.assert_working(res, studio_home, load_internlm1, "你好")
    dest = res.dest
    assert "modeling_internlm.py" in res.skipped
    assert not (dest / "modeling_internlm.py").exists()
    posts = [r for r in oxl.log if r["method"] == "POST"]
    assert posts[0]["json"]["userName"] == "OpenLMLab"
    assert posts[0]["json"]["repositoryName"] == "InternLM-chat-7b"
    assert posts[0]["json"]["filePaths"] is None  # every file
    for name in (SHARD, "config.json", "tokenizer.model"):
        assert (dest / name).read_bytes() == repo_files[name]


def test_single_file_asks_for_that_path_only(oxl, studio_home, repo_files):
    res = download(req(oxl.endpoint, file="config.json"))
    assert res.files[0].read_bytes() == repo_files["config.json"]
    post = [r for r in oxl.log if r["method"] == "POST"][-1]
    assert post["json"]["filePaths"] == ["config.json"]
    with pytest.raises(NotFound, match="no file 'missing.json' on OpenXLab"):
        download(req(oxl.endpoint, file="missing.json"))


def test_raw_repo_id_works_too(oxl, studio_home):
    res = download(Request(REPO, source="openxlab", endpoint=oxl.endpoint, file="config.json"))
    assert res.files[0].name == "config.json"


def test_cut_connection_resumes_with_range(oxl, studio_home, repo_files):
    oxl.faults.drop_first = {SHARD}
    res = download(req(oxl.endpoint))
    sha = hashlib.sha256(repo_files[SHARD]).hexdigest()
    gets = [g for g in oxl.requests("GET", "/cdn/") if sha in g["path"]]
    # the one-byte size probe, the cut GET, the resumed GET
    assert gets[-1]["headers"]["range"] == f"bytes={len(repo_files[SHARD]) // 2}-"
    assert (res.dest / SHARD).read_bytes() == repo_files[SHARD]


def test_cancel_keeps_partial_and_the_next_run_resumes(oxl, studio_home, repo_files):
    oxl.faults.throttle_s = 0.01
    dest = CHAT_7B.dest(studio_home)
    part = incomplete_path(dest / SHARD)

    def check() -> None:
        if part.is_file() and part.stat().st_size >= 16384:
            raise Cancelled("stop")

    with pytest.raises(Cancelled):
        download(req(oxl.endpoint), check=check)
    kept = part.stat().st_size
    assert 0 < kept < len(repo_files[SHARD])
    oxl.faults.throttle_s = 0.0
    res = download(req(oxl.endpoint))
    sha = hashlib.sha256(repo_files[SHARD]).hexdigest()
    last = [g for g in oxl.requests("GET", "/cdn/") if sha in g["path"]][-1]
    assert last["headers"]["range"] == f"bytes={kept}-"
    assert (res.dest / SHARD).read_bytes() == repo_files[SHARD]


def test_corrupt_file_is_caught_by_the_announced_hash(oxl, studio_home):
    oxl.faults.corrupt = {"config.json"}
    with pytest.raises(CorruptFile, match="sha256"):
        download(req(oxl.endpoint, file="config.json"))


def test_unknown_repository_is_not_found(oxl, studio_home):
    with pytest.raises(NotFound, match="nobody/nothing was not found on OpenXLab.*A0202"):
        download(Request("nobody/nothing", source="openxlab", endpoint=oxl.endpoint))


def test_private_repository_needs_the_token(repo_files, studio_home):
    with OpenXLabStandIn({REPO: Repo(files=dict(repo_files), token="jwt-secret")}) as srv:
        with pytest.raises(AccessDenied, match="without a token"):
            download(req(srv.endpoint, file="config.json"))
        with pytest.raises(AccessDenied, match="rejected the access token"):
            download(req(srv.endpoint, file="config.json", token="jwt-wrong"))
        res = download(req(srv.endpoint, file="config.json", token="jwt-secret"))
        assert res.files[0].is_file()
        post = [r for r in srv.log if r["method"] == "POST"][-1]
        assert post["headers"]["authorization"] == "jwt-secret"  # bare JWT, as the package
        assert all("authorization" not in r["headers"] for r in srv.log if r["role"] == "cdn")


def test_outer_error_code_is_reported(oxl, studio_home):
    oxl.outer_error = "B0001"
    with pytest.raises(DownloadError, match="system busy.*B0001"):
        download(req(oxl.endpoint))


def test_cli_source_openxlab(oxl, studio_home, capsys):
    rc = cli.main(
        [KEY, "--source", "openxlab", "--endpoint", oxl.endpoint, "--file", "config.json"]
    )
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert out.splitlines()[0].endswith("internlm-chat-7b/config.json")
    assert '"model_type": "internlm"' in out


# -- the git route (Bajie on OpenXLab's code host) ------------------------------------------
BAJIE = DownloadCase("bajie-chat-mini", "openxlab", "BaJie-Chat-mini")


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_bajie_git_clone_from_the_code_host(tmp_path, tiny_model_dir, studio_home, monkeypatch):
    with GitStandIn(tmp_path / "git", {"JimmyMa99/BaJie-Chat-mini": tiny_model_dir}) as git:
        monkeypatch.setenv("OPENXLAB_GIT_HOST", git.url)
        res = download(BAJIE.request())
        dest = BAJIE.dest(studio_home)
        assert res.dest == dest and (dest / "config.json").is_file()
        assert "modeling_remote.py" in res.skipped and not list(dest.rglob("*.py"))
        assert not (dest / ".git").exists()
        from demo_core.specs import resolve_path

        assert resolve_path("bajie-chat-mini") == dest
    from demo_core.download.git_route import clone

    with GitStandIn(tmp_path / "git2", {}) as git:
        monkeypatch.setenv("OPENXLAB_GIT_HOST", git.url)
        with pytest.raises(NotFound, match="not found"):
            clone("JimmyMa99/nothing", tmp_path / "x")
