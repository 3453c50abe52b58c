"""Pure pieces of the download package: file rules, verification, progress maths."""

from __future__ import annotations

import hashlib

import pytest

from demo_core.download import rules
from demo_core.download.errors import CorruptFile
from demo_core.download.progress import Meter, fmt_bytes, fmt_duration
from demo_core.download.verify import Expected, verify_file


@pytest.mark.parametrize(
    "name,ok",
    [
        ("model.safetensors", True),
        ("model-00001-of-00002.safetensors", True),
        ("pytorch_model.bin", True),
        ("config.json", True),
        ("generation_config.json", True),
        ("model.safetensors.index.json", True),
        ("tokenizer.model", True),
        ("tokenizer_config.json", True),
        ("modeling_internlm2.py", False),
        ("tokenization_internlm2.py", False),  # remote code, even with "tokenizer" nearby
        ("tokenizer.py", False),
        ("README.md", False),
        (".gitattributes", False),
        ("training_args.bin", False),
        ("build_mlp.py", False),
    ],
)
def test_allowed_files(name, ok):
    assert rules.is_allowed(name) is ok


@pytest.mark.parametrize(
    "bad", ["../x.json", "/etc/passwd.json", "a/../../b.json", ".hidden/x.json", ""]
)
def test_unsafe_names(bad):
    with pytest.raises(ValueError):
        rules.safe_relative(bad)


def test_verify_sha256_and_git_sha1(tmp_path):
    data = b"hello weights" * 100
    p = tmp_path / "f.bin"
    p.write_bytes(data)
    verify_file(p, Expected(size=len(data), sha256=hashlib.sha256(data).hexdigest()))
    git = hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()
    verify_file(p, Expected.from_etag(f'"{git}"', len(data)))
    with pytest.raises(CorruptFile, match="sha256"):
        verify_file(p, Expected(size=len(data), sha256="0" * 64))
    with pytest.raises(CorruptFile, match="git sha1"):
        verify_file(p, Expected.from_etag('"' + "1" * 40 + '"', len(data)))
    with pytest.raises(CorruptFile, match="bytes"):
        verify_file(p, Expected(size=len(data) + 1))


def test_etag_forms():
    sha = "a" * 64
    assert Expected.from_etag(f'W/"{sha}"', 5).sha256 == sha
    assert Expected.from_etag('"abc"', 5) == Expected(size=5)
    assert Expected.from_etag(None, None).checkable == "nothing announced"


def test_meter_speed_eta_and_stall():
    now = [0.0]
    m = Meter(clock=lambda: now[0])
    m.start(total=10_000_000, files_total=2, already=2_000_000)
    for _ in range(10):
        now[0] += 0.1
        m.add(100_000)  # 1 MB/s
    snap = m.snapshot()
    assert snap.done == 3_000_000
    assert snap.speed == pytest.approx(1_000_000, rel=0.15)
    assert snap.eta_s == pytest.approx(7.0, rel=0.2)
    assert "MB/s" in snap.line() and "ETA" in snap.line()
    now[0] += 60  # link stalled for a minute
    assert m.snapshot().speed == 0.0 and m.snapshot().eta_s is None


def test_formatting():
    assert fmt_bytes(999) == "999 B"
    assert fmt_bytes(1_500_000) == "1.5 MB"
    assert fmt_bytes(17e9) == "17.0 GB"
    assert fmt_duration(42) == "42 s"
    assert fmt_duration(125) == "2 min 05 s"
    assert fmt_duration(7300) == "2 h 01 min"


def test_request_strips_typed_text_and_refuses_an_empty_file_name():
    from demo_core.download.api import Request
    from demo_core.download.errors import DownloadError

    req = Request(" internlm2-chat-1_8b ", file=" config.json\n", endpoint=" ", token=" t ")
    assert req.file == "config.json" and req.model == "internlm2-chat-1_8b"
    assert req.endpoint is None and req.token == "t"
    assert req.key == Request("internlm2-chat-1_8b", file="config.json").key  # same job
    with pytest.raises(DownloadError, match="file name is empty"):
        Request("internlm2-chat-1_8b", file="  ").validate()


def test_partial_record_decides_resume(tmp_path):
    from demo_core.download import partial

    part = tmp_path / "w.bin.incomplete"
    part.write_bytes(b"x" * 10)
    v1 = Expected(size=20, sha256="a" * 64)
    v2 = Expected(size=20, sha256="b" * 64)
    assert partial.resumable(part, v1) == 10  # from before records existed: trusted
    assert partial.claim(part, v1) == 10 and partial.sidecar_path(part).is_file()
    assert partial.resumable(part, v1) == 10
    assert partial.resumable(part, v2) == 0 and part.exists()  # reading never deletes
    assert partial.claim(part, v2) == 0 and not part.exists()  # another version: restart
    partial.release(part)
    assert not partial.sidecar_path(part).exists()
