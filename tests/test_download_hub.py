"""Downloads against a stand-in hub on 127.0.0.1 (tests/hubserver.py), real HTTP, no mocks
of huggingface_hub: it is pointed at the stand-in with ``endpoint=``."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from demo_core.download.api import Request, download
from demo_core.download.errors import (
    AccessDenied,
    CorruptFile,
    EndpointUnreachable,
    NotEnoughDiskSpace,
    NotFound,
)
from demo_core.download.transfer import MANIFEST, MARKER
from tests.download_helpers import REMOTE_CODE, DownloadCase, model_files, stand_in_fixture
from tests.hubserver import HubStandIn, Repo
from tests.servers import LoopbackHTTP, QuietHandler

REPO = "internlm/internlm2-chat-1_8b"
KEY = "internlm2-chat-1_8b"
WEIGHTS = "model.safetensors"
MODEL = DownloadCase(KEY, "hf", "internlm2-chat-1_8b")


@pytest.fixture(scope="module")
def repo_files(tiny_model_dir) -> dict[str, bytes]:
    return model_files(
        tiny_model_dir,
        {"modeling_internlm2.py": REMOTE_CODE, "configuration_internlm2.py": b"raise SystemExit\n"},
    )


hub = stand_in_fixture(HubStandIn, REPO)
gated_hub = stand_in_fixture(HubStandIn, REPO, token="hf_secret")


def sha256(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_single_file_config_json(hub, studio_home, repo_files):
    res = download(Request(KEY, file="config.json", endpoint=hub.url))
    path = MODEL.dest(studio_home) / "config.json"
    assert res.files == [path]
    assert path.read_bytes() == repo_files["config.json"]
    assert json.loads(path.read_text())["model_type"] == "internlm2"
    assert not (path.parent / MARKER).exists()
    # Only the requested file was fetched: one HEAD and one GET on /resolve/.
    gets = hub.requests("GET", "/resolve/")
    assert [g["path"].rsplit("/", 1)[-1] for g in gets] == ["config.json"]
    # A config alone is not a model.
    from demo_core.specs import resolve_path

    assert resolve_path(KEY) is None


def test_whole_repo_loads_and_generates(hub, studio_home, repo_files):
    from demo_core.internlm2.loader import load_internlm2

    res = download(Request(KEY, endpoint=hub.url))
    MODEL.assert_working(res, studio_home, load_internlm2, "Once upon a time", new_tokens=4)
    dest = res.dest
    names = sorted(p.name for p in res.files)
    assert names == sorted(n for n in repo_files if n.endswith((".json", ".model", ".safetensors")))
    assert "modeling_internlm2.py" in res.skipped and "README.md" in res.skipped
    assert not any(".py" in r["path"] for r in hub.log), "remote code must never be requested"
    assert not list(dest.glob("*.py"))
    assert sha256(dest / WEIGHTS) == hashlib.sha256(repo_files[WEIGHTS]).hexdigest()
    assert not list(dest.glob("*.incomplete"))


def test_second_request_finds_local_copy_and_force_reuses_verified_files(hub, studio_home):
    first = download(Request(KEY, endpoint=hub.url))
    assert (first.dest / MANIFEST).is_file()
    n_gets = len(hub.requests("GET", "/resolve/"))

    again = download(Request(KEY, endpoint=hub.url))
    assert again.existing == ("models folder", first.dest)  # nothing downloaded twice
    forced = download(Request(KEY, endpoint=hub.url, force=True))
    assert sorted(forced.reused) == sorted(p.name for p in first.files)
    assert forced.downloaded_bytes == 0
    assert len(hub.requests("GET", "/resolve/")) == n_gets  # no body fetched again


def test_resume_after_cut_connection(hub, studio_home, repo_files):
    hub.faults.drop_first = {WEIGHTS}
    res = download(Request(KEY, endpoint=hub.url))
    gets = hub.requests("GET", "/cdn/")
    weights_sha = hashlib.sha256(repo_files[WEIGHTS]).hexdigest()
    weight_gets = [g for g in gets if weights_sha in g["path"]]
    assert len(weight_gets) == 2
    half = len(repo_files[WEIGHTS]) // 2
    assert "range" not in weight_gets[0]["headers"]
    assert weight_gets[1]["headers"]["range"] == f"bytes={half}-"
    assert sha256(res.dest / WEIGHTS) == weights_sha


def test_resume_in_a_later_run_after_failure(hub, studio_home, repo_files):
    from demo_core.discovery import is_complete, is_partial_download
    from demo_core.specs import resolve_path

    hub.faults.drop_always = {WEIGHTS}
    with pytest.raises(EndpointUnreachable, match="resume"):
        download(Request(KEY, endpoint=hub.url, retries=0))
    dest = MODEL.dest(studio_home)
    part = dest / (WEIGHTS + ".incomplete")
    half = len(repo_files[WEIGHTS]) // 2
    assert part.stat().st_size == half
    assert not (dest / WEIGHTS).exists()
    assert (dest / MARKER).exists() and not is_complete(dest) and is_partial_download(dest)
    assert resolve_path(KEY) is None  # a half download is never offered as a model

    hub.faults.drop_always = set()
    res = download(Request(KEY, endpoint=hub.url))
    last = [g for g in hub.requests("GET", "/cdn/")][-2:]  # weights, then tokenizer.model
    assert any(g["headers"].get("range") == f"bytes={half}-" for g in last)
    assert (res.dest / WEIGHTS).read_bytes() == repo_files[WEIGHTS]
    assert resolve_path(KEY) == dest


def test_server_ignoring_range_restarts_file_cleanly(hub, studio_home, repo_files):
    hub.faults.drop_first = {WEIGHTS}
    hub.faults.ignore_range = True
    res = download(Request(KEY, endpoint=hub.url))
    assert (res.dest / WEIGHTS).read_bytes() == repo_files[WEIGHTS]


def test_repo_not_found(hub, studio_home):
    with pytest.raises(NotFound, match="nobody/nothing"):
        download(Request("nobody/nothing", endpoint=hub.url, token="t"))


def test_file_not_found(hub, studio_home):
    with pytest.raises(NotFound, match="no file 'missing.json'"):
        download(Request(KEY, file="missing.json", endpoint=hub.url))


def test_remote_code_is_refused(hub, studio_home):
    from demo_core.download.errors import DownloadError

    with pytest.raises(DownloadError, match="never remote"):
        download(Request(KEY, file="modeling_internlm2.py", endpoint=hub.url))
    assert not hub.requests("GET", "/resolve/")


def test_gated_without_or_with_wrong_token(gated_hub, studio_home):
    with pytest.raises(AccessDenied, match="accept its licence.*enter an access token") as none:
        download(Request(KEY, endpoint=gated_hub.url))
    assert "rejected" not in str(none.value)
    with pytest.raises(AccessDenied, match="rejected the access token") as wrong:
        download(Request(KEY, endpoint=gated_hub.url, token="wrong"))
    assert "wrong, expired, or has no access" in str(wrong.value)
    assert "Check the token" in str(wrong.value)
    dest = MODEL.dest(studio_home)
    assert not dest.exists() or not any(dest.iterdir())


def test_gated_with_token_and_token_never_sent_to_cdn(gated_hub, studio_home):
    res = download(Request(KEY, endpoint=gated_hub.url, token="hf_secret"))
    assert (res.dest / WEIGHTS).is_file()
    hub_calls = [r for r in gated_hub.log if r["role"] == "hub"]
    cdn_calls = [r for r in gated_hub.log if r["role"] == "cdn"]
    assert cdn_calls and all("authorization" not in r["headers"] for r in cdn_calls)
    assert all(r["headers"].get("authorization") == "Bearer hf_secret" for r in hub_calls)


def test_bad_endpoint_url(studio_home):
    from demo_core.download.errors import DownloadError

    with pytest.raises(DownloadError, match="not an endpoint URL"):
        download(Request(KEY, endpoint="hf-mirror.com"))


def test_disk_full_is_refused_before_writing(hub, studio_home, monkeypatch):
    real = shutil.disk_usage

    def tiny_disk(path):
        usage = real(path)
        return type(usage)(usage.total, usage.total - 1000, 1000)  # 1000 bytes free

    monkeypatch.setattr(shutil, "disk_usage", tiny_disk)
    with pytest.raises(NotEnoughDiskSpace, match="Not enough disk space"):
        download(Request(KEY, endpoint=hub.url))
    assert not hub.requests("GET", "/resolve/") and not hub.requests("GET", "/cdn/")
    dest = MODEL.dest(studio_home)
    assert not dest.exists()


def test_corrupt_lfs_file_detected_by_sha256(hub, studio_home):
    from demo_core.specs import resolve_path

    hub.faults.corrupt = {WEIGHTS}
    with pytest.raises(CorruptFile, match="sha256"):
        download(Request(KEY, endpoint=hub.url))
    dest = MODEL.dest(studio_home)
    assert not (dest / WEIGHTS).exists() and not (dest / (WEIGHTS + ".incomplete")).exists()
    assert resolve_path(KEY) is None
    hub.faults.corrupt = set()
    download(Request(KEY, endpoint=hub.url))  # a retry repairs it
    assert resolve_path(KEY) == dest


def test_corrupt_git_file_detected_by_etag(hub, studio_home):
    hub.faults.corrupt = {"config.json"}
    with pytest.raises(CorruptFile, match="git sha1"):
        download(Request(KEY, file="config.json", endpoint=hub.url))


def test_unsafe_file_names_from_server_are_skipped(studio_home, repo_files):
    files = dict(repo_files)
    files["../escape.json"] = b"{}"
    with HubStandIn({REPO: Repo(files=files)}) as srv:
        res = download(Request(KEY, endpoint=srv.url))
    assert "../escape.json" in res.skipped
    assert not (MODEL.dest(studio_home).parent / "escape.json").exists()


def test_raw_repo_id_and_custom_dest(hub, studio_home, tmp_path):
    res = download(Request(REPO, file="config.json", endpoint=hub.url, dest=tmp_path / "x"))
    assert res.files == [tmp_path / "x" / "config.json"]


def test_huggingface_hub_itself_accepts_the_stand_in(hub, tmp_path, repo_files):
    """Fidelity check of the stand-in: the library's own downloaders work against it."""
    from huggingface_hub import hf_hub_download, snapshot_download

    cache = tmp_path / "cache"
    p = hf_hub_download(REPO, "config.json", endpoint=hub.url, cache_dir=cache)
    assert Path(p).read_bytes() == repo_files["config.json"]
    folder = snapshot_download(
        REPO, endpoint=hub.url, cache_dir=cache, allow_patterns=["*.json", "*.safetensors"]
    )
    assert (Path(folder) / WEIGHTS).read_bytes() == repo_files[WEIGHTS]


def test_progress_reaches_total(hub, studio_home, repo_files):
    from demo_core.download.progress import Meter

    meter = Meter()
    download(Request(KEY, endpoint=hub.url), meter=meter)
    snap = meter.snapshot()
    expected = sum(
        len(v) for k, v in repo_files.items() if k.endswith((".json", ".model", ".safetensors"))
    )
    assert snap.total == expected and snap.done == expected and snap.fraction == 1.0


@pytest.mark.parametrize("status", [200, 404])
def test_endpoint_that_is_not_a_hub_is_explained(hub, studio_home, status):
    """E.g. the endpoint set to this Streamlit app's own URL (200 + HTML to everything)."""
    from demo_core.download.errors import DownloadError

    hub.faults.web_page = status
    with pytest.raises(DownloadError) as info:
        download(Request(KEY, endpoint=hub.url))
    msg = str(info.value)
    assert f"{hub.url} did not answer like a Hugging Face hub" in msg, msg
    assert "check the endpoint url" in msg.lower() and "Expecting value" not in msg
    assert not isinstance(info.value, NotFound)


def test_endpoint_answering_other_json_is_explained(studio_home):
    """A JSON API that is not a hub (here: a plain http.server answering {})."""
    from demo_core.download.errors import DownloadError

    class OtherApi(QuietHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

    with LoopbackHTTP(OtherApi) as srv:
        with pytest.raises(DownloadError, match="did not answer like a Hugging Face hub"):
            download(Request(KEY, endpoint=srv.url))


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_disk_filling_up_mid_download_keeps_the_partial_file(
    hub, studio_home, repo_files, monkeypatch, code
):
    """The free-space check passed, then another program filled the disk: the write
    itself fails (os.write, the lowest level the fetcher writes through)."""
    dest = MODEL.dest(studio_home)
    real_write = os.write
    budget = 100_000  # bytes a .incomplete file may reach before the disk is "full"

    def full_disk(fd: int, data) -> int:
        st = os.fstat(fd)
        parts = {p.stat().st_ino for p in dest.glob("*.incomplete")}
        if st.st_ino in parts and st.st_size + len(data) > budget:
            raise OSError(code, os.strerror(code))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full_disk)
    with pytest.raises(NotEnoughDiskSpace) as info:
        download(Request(KEY, endpoint=hub.url))
    msg = str(info.value)
    assert str(dest) in msg and WEIGHTS in msg, msg
    assert "the partial file is kept; free space and start again to resume" in msg.lower()
    part = dest / (WEIGHTS + ".incomplete")
    kept = part.stat().st_size
    assert 0 < kept <= budget

    monkeypatch.setattr(os, "write", real_write)  # space was freed
    res = download(Request(KEY, endpoint=hub.url))
    assert (res.dest / WEIGHTS).read_bytes() == repo_files[WEIGHTS]
    sha = hashlib.sha256(repo_files[WEIGHTS]).hexdigest()
    last = [g for g in hub.requests("GET", "/cdn/") if sha in g["path"]][-1]
    assert last["headers"].get("range") == f"bytes={kept}-"  # resumed, not restarted


def test_destination_that_is_a_file(hub, studio_home, tmp_path):
    from demo_core.download.errors import BadDestination

    afile = tmp_path / "passwd"
    afile.write_text("root:x:0:0\n")
    with pytest.raises(BadDestination, match="is a file, not a folder.*another destination"):
        download(Request(KEY, endpoint=hub.url, dest=afile))
    with pytest.raises(BadDestination, match="is a file, not a folder"):
        download(Request(KEY, endpoint=hub.url, dest=afile / "sub"))
    assert afile.read_text() == "root:x:0:0\n"


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
def test_destination_that_cannot_be_created(hub, studio_home):
    from demo_core.download.errors import BadDestination

    with pytest.raises(BadDestination) as info:
        download(Request(KEY, endpoint=hub.url, dest=Path("/proc/nope")))
    msg = str(info.value)
    assert "Could not create the folder /proc/nope" in msg and "disk space" not in msg, msg


def test_destination_without_write_permission(hub, studio_home, tmp_path, monkeypatch):
    """Tests run as root here, where chmod does not stop writes: refuse at os.mkdir."""
    from demo_core.download.errors import BadDestination

    locked = tmp_path / "locked"
    real_mkdir = os.mkdir

    def no_permission(path, *args, **kwargs):
        if str(path).startswith(str(locked)):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", no_permission)
    with pytest.raises(BadDestination, match="no permission.*another destination folder"):
        download(Request(KEY, endpoint=hub.url, dest=locked / "m"))


@pytest.mark.parametrize("change", ["same size", "bigger"])
def test_partial_of_a_file_changed_on_the_server_restarts_from_zero(
    hub, studio_home, repo_files, change
):
    hub.faults.drop_always = {WEIGHTS}
    with pytest.raises(EndpointUnreachable):
        download(Request(KEY, endpoint=hub.url, retries=0))
    dest = MODEL.dest(studio_home)
    assert (dest / (WEIGHTS + ".incomplete")).stat().st_size == len(repo_files[WEIGHTS]) // 2

    old = repo_files[WEIGHTS]  # the repository is updated: same name, new bytes
    new = bytes(b ^ 0x5A for b in old) + (b"more" * 1000 if change == "bigger" else b"")
    hub.repos[REPO].files[WEIGHTS] = new
    hub.faults.drop_always = set()
    res = download(Request(KEY, endpoint=hub.url))

    assert (res.dest / WEIGHTS).read_bytes() == new
    sha = hashlib.sha256(new).hexdigest()
    gets = [g for g in hub.requests("GET", "/cdn/") if sha in g["path"]]
    assert len(gets) == 1, "one clean GET, no wasted resume + retry"
    assert "range" not in gets[0]["headers"]
    assert not list(dest.glob("*.incomplete*"))  # partial and its record are gone
