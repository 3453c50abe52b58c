"""A stand-in for the Hugging Face hub on 127.0.0.1, for tests with no network.

It answers the requests ``huggingface_hub`` 2.x makes, with the headers it reads:

* ``GET /api/models/{repo}/revision/{rev}[?blobs=True]`` -- ``model_info``: JSON with the
  resolved ``sha`` and ``siblings`` (size, blobId, and ``lfs.sha256`` for LFS files);
* ``GET /api/models/{repo}/tree/{rev}`` -- ``list_repo_tree`` (used by ``snapshot_download``);
* ``HEAD|GET /{repo}/resolve/{rev}/{path}`` -- small files answer directly with
  ``ETag`` = git blob sha1, ``X-Repo-Commit``, ``Content-Length``; LFS files answer
  ``302`` to a *second* listener (another origin, like the real CDN) with
  ``X-Linked-Etag`` = sha256 and ``X-Linked-Size``;
* ``GET /cdn/{sha256}`` on the CDN listener, with ``Range`` → ``206`` + ``Content-Range``.

It also answers as ModelScope does, on the same listener and repositories (revision
``master``):

* ``GET /api/v1/models/{repo}/repo/files?Revision=R&Recursive=true`` -- the JSON listing
  ``{"Code": 200, "Data": {"Files": [{Path, Name, Type, Size, Sha256, ...}]}}``, with
  ModelScope's JSON error bodies on 404 / 401;
* ``GET /api/v1/models/{repo}/repo?Revision=R&FilePath=P`` -- the file; LFS files redirect
  to the CDN listener like the real site's object storage.

Errors carry the hub's ``X-Error-Code`` (RepoNotFound, RevisionNotFound, EntryNotFound,
GatedRepo) so ``hf_raise_for_status`` maps them to its exception classes. Faults for the
tests are switched per instance: drop a body half-way the first time, serve wrong bytes,
hang without answering, require a token, answer HTML like a web server that is not a hub.
Every request is logged.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from tests.servers import LoopbackHTTP, QuietHandler

LFS_SUFFIXES = (".safetensors", ".bin", ".model")


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()


def lfs_pointer(data: bytes, sha_key: str) -> dict:
    """The ``lfs`` part of a file's entry: the hub names its sha256 ``sha256`` in
    ``model_info`` siblings and ``oid`` in ``list_repo_tree`` entries."""
    return {sha_key: hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}


@dataclass
class Repo:
    files: dict[str, bytes]
    commit: str = "0123456789abcdef0123456789abcdef01234567"
    token: str | None = None  # gated: resolve needs "Authorization: Bearer <token>"

    def is_lfs(self, path: str) -> bool:
        return path.endswith(LFS_SUFFIXES)

    def sibling(self, path: str) -> dict:
        data = self.files[path]
        entry = {"rfilename": path, "size": len(data), "blobId": git_blob_sha1(data)}
        if self.is_lfs(path):
            entry["lfs"] = lfs_pointer(data, "sha256")
        return entry

    def tree_entry(self, path: str) -> dict:
        data = self.files[path]
        entry = {"type": "file", "oid": git_blob_sha1(data), "size": len(data), "path": path}
        if self.is_lfs(path):
            entry["lfs"] = lfs_pointer(data, "oid")
        return entry

    @classmethod
    def from_folder(cls, folder: Path, **kw) -> Repo:
        files = {
            p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*"))
            if p.is_file()
        }
        return cls(files=files, **kw)


@dataclass
class Faults:
    drop_first: set[str] = field(default_factory=set)  # paths whose first GET is cut mid-body
    drop_always: set[str] = field(default_factory=set)  # paths cut mid-body on every GET
    corrupt: set[str] = field(default_factory=set)  # paths served with one byte flipped
    hang: bool = False  # accept connections, never answer
    not_json: bool = False  # ModelScope API answers an HTML page (a captive portal)
    web_page: int | None = None  # the hub listener answers HTML with this status to
    # everything: 200 like a Streamlit app (this app's own URL), 404 like a web server
    ms_code: int | None = None  # ModelScope listing answers HTTP 200 with this error Code
    ignore_range: bool = False  # answer 200 with the whole body even when asked for a range
    throttle_s: float = 0.0  # pause after each 16 KiB of a body (a slow link)


class HubStandIn:
    """Two listeners: the hub itself and its 'CDN' (a different origin)."""

    def __init__(self, repos: dict[str, Repo]) -> None:
        self.repos = repos
        self.faults = Faults()
        self.log: list[dict] = []
        self._dropped: set[str] = set()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.hub = LoopbackHTTP(self._handler("hub"), poll_interval=0.05)
        self.cdn = LoopbackHTTP(self._handler("cdn"), poll_interval=0.05)

    @property
    def url(self) -> str:
        return self.hub.url

    @property
    def endpoint(self) -> str:
        """What a download's ``endpoint`` takes to come here."""
        return self.url

    @property
    def cdn_url(self) -> str:
        return self.cdn.url

    def __enter__(self) -> HubStandIn:
        self.hub.start()
        self.cdn.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self.hub.stop()
        self.cdn.stop()

    def requests(self, method: str | None = None, contains: str = "") -> list[dict]:
        with self._lock:
            return [
                r
                for r in self.log
                if (method is None or r["method"] == method) and contains in r["path"]
            ]

    def blob(self, sha256: str) -> tuple[str, bytes] | None:
        for repo in self.repos.values():
            for path, data in repo.files.items():
                if hashlib.sha256(data).hexdigest() == sha256:
                    return path, data
        return None

    # -- request handling ---------------------------------------------------------------
    def _handler(self, role: str):
        stand_in = self

        class Handler(QuietHandler):
            def do_HEAD(self) -> None:
                stand_in._dispatch(self, role, head=True)

            def do_GET(self) -> None:
                stand_in._dispatch(self, role, head=False)

            def do_POST(self) -> None:
                stand_in._dispatch(self, role, head=False)

        return Handler

    def _dispatch(self, h: BaseHTTPRequestHandler, role: str, head: bool) -> None:
        with self._lock:
            self.log.append(
                {
                    "role": role,
                    "method": h.command,
                    "path": h.path,
                    "headers": {k.lower(): v for k, v in h.headers.items()},
                }
            )
        if self.faults.hang:
            self._stop.wait(30)
            return
        if role == "hub" and self.faults.web_page is not None:
            return self._html(h, self.faults.web_page, head)
        path = unquote(urlsplit(h.path).path)
        if role == "cdn":
            m = re.fullmatch(r"/cdn/([0-9a-f]{64})", path)
            found = self.blob(m.group(1)) if m else None
            if found is None:
                return self._error(h, 404, "EntryNotFound", head)
            return self._send_body(h, found[0], found[1], head, {"ETag": '"cdn-etag"'})
        m = re.fullmatch(r"/api/v1/models/([^/]+/[^/]+)/repo(/files)?", path)
        if m:
            query = dict(parse_qsl(urlsplit(h.path).query))
            if m.group(2):
                return self._ms_files(h, m.group(1), query.get("Revision", "master"), head)
            return self._ms_file(h, m.group(1), query.get("Revision", "master"), query, head)
        m = re.fullmatch(r"/api/models/([^/]+/[^/]+)(?:/revision/([^/]+))?", path)
        if m:
            return self._model_info(h, m.group(1), m.group(2) or "main", head)
        m = re.fullmatch(r"/api/models/([^/]+/[^/]+)/tree/([^/]+)(?:/(.*))?", path)
        if m:
            return self._tree(h, m.group(1), m.group(2), head)
        m = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
        if m:
            return self._resolve(h, m.group(1), m.group(2), m.group(3), head)
        self._error(h, 404, None, head)

    def _repo(self, h, repo_id: str, rev: str, head: bool) -> Repo | None:
        repo = self.repos.get(repo_id)
        if repo is None:
            self._error(h, 404 if h.headers.get("authorization") else 401, "RepoNotFound", head)
            return None
        if rev not in ("main", repo.commit):
            self._error(h, 404, "RevisionNotFound", head, commit=repo.commit)
            return None
        return repo

    def _model_info(self, h, repo_id: str, rev: str, head: bool) -> None:
        repo = self._repo(h, repo_id, rev, head)
        if repo is None:
            return
        body = {
            "_id": "stand-in",
            "id": repo_id,
            "modelId": repo_id,
            "sha": repo.commit,
            "private": False,
            "gated": "manual" if repo.token else False,
            "disabled": False,
            "siblings": [repo.sibling(p) for p in sorted(repo.files)],
        }
        self._json(h, body, head)

    def _tree(self, h, repo_id: str, rev: str, head: bool) -> None:
        repo = self._repo(h, repo_id, rev, head)
        if repo is not None:
            self._json(h, [repo.tree_entry(p) for p in sorted(repo.files)], head)

    def _resolve(self, h, repo_id: str, rev: str, path: str, head: bool) -> None:
        repo = self._repo(h, repo_id, rev, head)
        if repo is None:
            return
        if repo.token and h.headers.get("authorization") != f"Bearer {repo.token}":
            return self._error(h, 401, "GatedRepo", head, commit=repo.commit)
        data = repo.files.get(path)
        if data is None:
            return self._error(h, 404, "EntryNotFound", head, commit=repo.commit)
        common = {"X-Repo-Commit": repo.commit}
        if repo.is_lfs(path):
            sha = hashlib.sha256(data).hexdigest()
            redirect = {
                **common,
                "ETag": f'"{git_blob_sha1(data)}"',
                "X-Linked-Etag": f'"{sha}"',
                "X-Linked-Size": str(len(data)),
                "Location": f"{self.cdn_url}/cdn/{sha}",
            }
            return self._reply(h, 302, head, headers=redirect)
        self._send_body(h, path, data, head, {**common, "ETag": f'"{git_blob_sha1(data)}"'})

    # -- ModelScope -------------------------------------------------------------------------
    def _ms_repo(self, h, repo_id: str, rev: str, head: bool) -> Repo | None:
        repo = self.repos.get(repo_id)
        if repo is None or rev not in ("master", repo.commit):
            body = {"Code": 10010205001, "Message": "model not exist", "Success": False}
            self._json(h, body, head, status=404)
            return None
        if repo.token and h.headers.get("authorization") != f"Bearer {repo.token}":
            body = {"Code": 10010205002, "Message": "no permission", "Success": False}
            self._json(h, body, head, status=401)
            return None
        return repo

    def _ms_files(self, h, repo_id: str, rev: str, head: bool) -> None:
        if self.faults.not_json:
            return self._html(h, 200, head, "Please log in to the campus network")
        if self.faults.ms_code is not None:
            body = {"Code": self.faults.ms_code, "Message": "server busy", "Success": False}
            return self._json(h, body, head)
        repo = self._ms_repo(h, repo_id, rev, head)
        if repo is None:
            return
        files = []
        for path in sorted(repo.files):
            data = repo.files[path]
            files.append(
                {
                    "Name": path.rsplit("/", 1)[-1],
                    "Path": path,
                    "Type": "blob",
                    "Size": len(data),
                    "Sha256": hashlib.sha256(data).hexdigest(),
                    "IsLFS": repo.is_lfs(path),
                    "Revision": repo.commit,
                }
            )
        folders = sorted({p.rsplit("/", 1)[0] for p in repo.files if "/" in p})
        files += [{"Name": f, "Path": f, "Type": "tree", "Size": 0} for f in folders]
        self._json(h, {"Code": 200, "Data": {"Files": files}, "Success": True}, head)

    def _ms_file(self, h, repo_id: str, rev: str, query: dict, head: bool) -> None:
        repo = self._ms_repo(h, repo_id, rev, head)
        if repo is None:
            return
        path = query.get("FilePath", "")
        data = repo.files.get(path)
        if data is None:
            body = {"Code": 10010205003, "Message": "file not exist", "Success": False}
            return self._json(h, body, head, status=404)
        if repo.is_lfs(path):
            sha = hashlib.sha256(data).hexdigest()
            return self._reply(h, 302, head, headers={"Location": f"{self.cdn_url}/cdn/{sha}"})
        self._send_body(h, path, data, head, {})

    # -- responses ------------------------------------------------------------------------
    def _send_body(self, h, path: str, data: bytes, head: bool, headers: dict) -> None:
        if path in self.faults.corrupt:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        total = len(data)
        start, end = 0, total - 1
        rng = h.headers.get("Range")
        status = 200
        if rng and not self.faults.ignore_range:
            m = re.fullmatch(r"bytes=(\d+)-(\d*)", rng.strip())
            if m:
                start = int(m.group(1))
                if start >= total:
                    return self._reply(h, 416, head, headers={"Content-Range": f"bytes */{total}"})
                end = min(int(m.group(2)), total - 1) if m.group(2) else total - 1
                status = 206
        body = data[start : end + 1]
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Accept-Ranges", "bytes")
        h.send_header("Content-Type", "application/octet-stream")
        h.send_header("Content-Length", str(len(body)))
        if status == 206:
            h.send_header("Content-Range", f"bytes {start}-{end}/{total}")
        h.end_headers()
        if head:
            return
        drop = path in self.faults.drop_always
        with self._lock:  # a one-byte body (a size probe) cannot be cut: the next GET is
            if path in self.faults.drop_first and path not in self._dropped and len(body) > 1:
                self._dropped.add(path)
                drop = True
        if drop and len(body) > 1:
            h.wfile.write(body[: len(body) // 2])
            h.wfile.flush()
            h.close_connection = True
            h.connection.shutdown(2)  # cut the connection mid-body
            return
        if self.faults.throttle_s:
            for i in range(0, len(body), 16384):
                if self._stop.is_set():
                    return
                h.wfile.write(body[i : i + 16384])
                h.wfile.flush()
                self._stop.wait(self.faults.throttle_s)
            return
        h.wfile.write(body)

    def _reply(
        self, h, status: int, head: bool, body: bytes = b"", headers: dict | None = None
    ) -> None:
        """A whole answer: ``headers`` in order, its Content-Length, and ``body`` (not to a
        HEAD)."""
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if not head and body:
            h.wfile.write(body)

    def _html(self, h, status: int, head: bool, text: str = "Streamlit") -> None:
        body = f"<!doctype html><html><body>{text}</body></html>".encode()
        self._reply(h, status, head, body, {"Content-Type": "text/html"})

    def _json(self, h, obj, head: bool, status: int = 200) -> None:
        self._reply(h, status, head, json.dumps(obj).encode(), {"Content-Type": "application/json"})

    def _error(self, h, status: int, code: str | None, head: bool, commit: str | None = None):
        headers = {"X-Error-Code": code} if code else {}
        if commit:
            headers["X-Repo-Commit"] = commit
        body = json.dumps({"error": code or "Not Found"}).encode()
        self._reply(h, status, head, body, {**headers, "Content-Type": "application/json"})


def serve_by_hand(
    stand_in: Callable[[dict[str, Repo]], HubStandIn],
    build_tiny: Callable[..., Path],
    default_repo: str,
) -> None:  # pragma: no cover - manual use: serve a tiny model for the browser check
    """Serve a tiny random model as ``--repo`` until Ctrl-C; print the endpoint to use."""
    import argparse
    import tempfile
    import time

    p = argparse.ArgumentParser()
    p.add_argument("--repo", default=default_repo)
    p.add_argument("--throttle", type=float, default=0.0, help="seconds per 16 KiB of body")
    args = p.parse_args()
    folder = build_tiny(Path(tempfile.mkdtemp()) / "tiny", seed=0)
    with stand_in({args.repo: Repo.from_folder(folder)}) as srv:
        srv.faults.throttle_s = args.throttle
        print(srv.endpoint, flush=True)
        while True:
            time.sleep(3600)


def main() -> None:  # pragma: no cover
    from demo_core.internlm2.tiny import build_tiny_internlm2

    serve_by_hand(HubStandIn, build_tiny_internlm2, "internlm/internlm2-chat-1_8b")


if __name__ == "__main__":  # pragma: no cover
    main()
