"""A stand-in for OpenXLab on 127.0.0.1: its model API, its object storage, its git host.

Answers as the ``openxlab`` package (0.1.3) expects, read from its source:

* ``POST /api/v1/model-center/api/v1/cli/repository/getFileDownloadUrl`` with
  ``{"userName", "repositoryName", "modelNames", "filePaths", ...}`` -- HTTP 200 and the
  doubly wrapped ``{"msgCode": "10000", "data": {"msgCode": "10000", "data": {"modelNames":
  {}, "filePaths": {path: {"url", "fileName", "hash"}}}}}``; errors are HTTP 200 with another
  inner ``msgCode`` and a ``msg`` (unknown repository, no permission), like the real API;
* the ``url`` of each file is a signed link to the storage listener (the hub stand-in's
  CDN: ``Range`` → 206), whose ``Expires``/``Signature`` query it ignores;
* private repositories (``Repo.token``) want ``Authorization: <token>`` (a bare JWT).

:class:`GitStandIn` serves bare git repositories over git's "dumb" HTTP protocol, for the
``git clone`` route of the code host.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from functools import partial
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from urllib.parse import unquote, urlsplit

from tests.hubserver import HubStandIn, Repo, serve_by_hand
from tests.servers import LoopbackHTTP, Quiet

API = "/api/v1/model-center/api/v1/cli/repository/getFileDownloadUrl"


class OpenXLabStandIn(HubStandIn):
    def __init__(self, repos: dict[str, Repo]) -> None:
        super().__init__(repos)
        self.outer_error: str | None = None  # answer this outer msgCode ("B0001": busy)

    @property
    def endpoint(self) -> str:
        return f"{self.url}/api/v1"

    def _dispatch(self, h, role: str, head: bool) -> None:
        if role == "hub" and h.command == "POST" and unquote(urlsplit(h.path).path) == API:
            length = int(h.headers.get("Content-Length") or 0)
            body = h.rfile.read(length) if length else b""
            with self._lock:
                self.log.append(
                    {
                        "role": role,
                        "method": "POST",
                        "path": h.path,
                        "headers": {k.lower(): v for k, v in h.headers.items()},
                        "json": json.loads(body or b"null"),
                    }
                )
            if self.faults.hang:
                self._stop.wait(30)
                return
            if self.faults.not_json:
                return self._html(h, 200, False, "Please log in to the campus network")
            return self._download_urls(h, json.loads(body or b"{}"))
        if role == "cdn" and h.command == "HEAD":  # a signed GET link refuses HEAD
            return self._error(h, 403, None, head)
        return super()._dispatch(h, role, head)

    def _answer(self, h, inner: dict) -> None:
        if self.outer_error:
            body = {"msgCode": self.outer_error, "msg": "system busy", "traceId": "t-outer"}
        else:
            body = {"msgCode": "10000", "msg": "success", "traceId": "t-1", "data": inner}
        self._json(h, body, False)

    def _download_urls(self, h, payload: dict) -> None:
        repo_id = f"{payload.get('userName')}/{payload.get('repositoryName')}"
        repo = self.repos.get(repo_id)
        if repo is None:
            return self._answer(
                h,
                {
                    "msgCode": "A0202",
                    "msg": "模型仓库不存在 repository not exist",
                    "traceId": "t-2",
                },
            )
        if repo.token and h.headers.get("authorization") != repo.token:
            return self._answer(
                h, {"msgCode": "A0401", "msg": "no permission, please login", "traceId": "t-3"}
            )
        wanted = payload.get("filePaths") or sorted(repo.files)
        files = {}
        for path in wanted:
            data = repo.files.get(path)
            if data is None:
                continue
            sha = hashlib.sha256(data).hexdigest()
            files[path] = {
                "url": f"{self.cdn_url}/cdn/{sha}?Expires=1999999999&OSSAccessKeyId=x&Signature=y",
                "fileName": path,
                "hash": sha,
            }
        self._answer(
            h,
            {"msgCode": "10000", "msg": "ok", "data": {"modelNames": {}, "filePaths": files}},
        )


class GitStandIn(LoopbackHTTP):
    """Bare repositories ``<owner>/<name>.git`` served read-only over dumb HTTP."""

    def __init__(self, root: Path, repos: dict[str, Path]) -> None:
        self.root = Path(root)
        for repo_id, folder in repos.items():
            self._make_bare(repo_id, Path(folder))
        super().__init__(partial(_QuietFiles, directory=str(self.root)))

    def _make_bare(self, repo_id: str, folder: Path) -> None:
        work = self.root / "_work" / repo_id
        work.mkdir(parents=True)
        for p in folder.rglob("*"):
            if p.is_file():
                target = work / p.relative_to(folder)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(p.read_bytes())
        (work / "modeling_remote.py").write_text("raise SystemExit('remote code must not run')\n")
        git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
        subprocess.run([*git, "init", "-q", "-b", "main", str(work)], check=True)
        subprocess.run([*git, "-C", str(work), "add", "-A"], check=True)
        subprocess.run([*git, "-C", str(work), "commit", "-qm", "model"], check=True)
        bare = self.root / f"{repo_id}.git"
        bare.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
        subprocess.run(["git", "-C", str(bare), "update-server-info"], check=True)


class _QuietFiles(Quiet, SimpleHTTPRequestHandler):
    pass


def main() -> None:  # pragma: no cover - manual use: serve a tiny model for the browser check
    from demo_core.internlm1.tiny import build_tiny_internlm1

    serve_by_hand(OpenXLabStandIn, build_tiny_internlm1, "OpenLMLab/InternLM-chat-7b")


if __name__ == "__main__":  # pragma: no cover
    main()
