"""OpenXLab's git route: ``git clone https://code.openxlab.org.cn/<owner>/<name>.git``.

Some lesson models (the second generation's Bajie) are published on OpenXLab only as a git
repository on its code host, and the lesson downloads them with ``git clone``. This runs
the same command (``--depth 1``, prompts off, weights through git-lfs where it is
installed), into a ``.git-partial`` folder that is renamed into place only once complete,
so a cancelled or failed clone never looks like a model. Remote ``*.py`` code that comes
with a clone is deleted: the app never runs it. Unlike the HTTP sources a clone cannot
resume: a cancelled one starts again from zero (said in the message).

The code host is ``$OPENXLAB_GIT_HOST`` or https://code.openxlab.org.cn; any git
remote over http(s) works, which is how the tests clone from a local stand-in.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from demo_core.download.errors import Cancelled, DownloadError, EndpointUnreachable, NotFound
from demo_core.download.progress import Meter
from demo_core.download.transfer import Result
from demo_core.i18n import N_, _

GIT_HOST = "https://code.openxlab.org.cn"
LFS_POINTER = b"version https://git-lfs"
POLL_S = 0.2


def git_host() -> str:
    return (os.environ.get("OPENXLAB_GIT_HOST") or GIT_HOST).rstrip("/")


def clone_url(repo_id: str) -> str:
    return f"{git_host()}/{repo_id.strip('/')}.git"


def _size(folder: Path) -> int:
    """Bytes under ``folder`` so far; git creates and removes files (and, on a failed
    clone, the folder itself) while this walks, so a vanished entry counts as nothing."""
    total = 0
    try:
        for p in folder.rglob("*"):
            if ".git" in p.parts:
                continue
            try:
                if p.is_file():
                    total += p.stat().st_size
            except OSError:
                continue
    except OSError:
        return total
    return total


def clone(
    repo_id: str,
    dest: Path,
    *,
    revision: str | None = None,
    meter: Meter | None = None,
    check: Callable[[], None] = lambda: None,
) -> Result:
    """Clone ``repo_id`` from the code host into ``dest``; raise :class:`DownloadError`s."""
    if shutil.which("git") is None:
        raise DownloadError(
            _(
                "git is not installed on this machine: install it (apt-get install git) to clone from OpenXLab."
            )
        )
    dest = Path(dest)
    if (dest / "config.json").is_file():
        return Result(dest=dest, existing=(N_("OpenXLab git clone"), dest))
    url = clone_url(repo_id)
    work = dest.with_name(dest.name + ".git-partial")
    shutil.rmtree(work, ignore_errors=True)
    work.parent.mkdir(parents=True, exist_ok=True)
    meter = meter or Meter()
    meter.start(None, 1)
    meter.file(url, 0)
    code, err = _run_clone(url, work, revision, shallow=True, meter=meter, check=check)
    if code != 0 and "shallow" in err.lower():  # a "dumb" http host: full clone instead
        shutil.rmtree(work, ignore_errors=True)
        code, err = _run_clone(url, work, revision, shallow=False, meter=meter, check=check)
    if code != 0:
        shutil.rmtree(work, ignore_errors=True)
        low = err.lower()
        if "not found" in low or "404" in low or "does not exist" in low:
            raise NotFound(_("{url} was not found: check the repository id.").format(url=url))
        if "could not resolve" in low or "failed to connect" in low or "timed out" in low:
            raise EndpointUnreachable(
                _("Cannot reach {host}; this machine may be offline ({err}).").format(
                    host=git_host(), err=err.splitlines()[-1] if err else _("git failed")
                )
            )
        raise DownloadError(_("git clone {url} failed: {err}").format(url=url, err=err or "?"))
    shutil.rmtree(work / ".git", ignore_errors=True)
    removed = []
    for code in sorted(work.rglob("*.py")):
        removed.append(code.relative_to(work).as_posix())
        code.unlink()
    pointers = [
        p.name
        for p in work.rglob("*")
        if p.is_file() and p.suffix in (".bin", ".safetensors", ".model") and _is_pointer(p)
    ]
    if pointers:
        shutil.rmtree(work, ignore_errors=True)
        raise DownloadError(
            _(
                "The clone has git-lfs pointer files instead of weights ({files}): install "
                "git-lfs (apt-get install git-lfs; git lfs install) and start it again."
            ).format(files=", ".join(pointers[:3]))
        )
    if not (work / "config.json").is_file():
        shutil.rmtree(work, ignore_errors=True)
        raise DownloadError(_("{url} holds no config.json: it is not a model.").format(url=url))
    if dest.exists():
        shutil.rmtree(dest)
    work.rename(dest)
    files = sorted(p for p in dest.rglob("*") if p.is_file())
    meter.file("", 1)
    return Result(
        dest=dest, files=files, downloaded_bytes=_size(dest), skipped=removed, commit=None
    )


def _run_clone(
    url: str,
    work: Path,
    revision: str | None,
    *,
    shallow: bool,
    meter: Meter,
    check: Callable[[], None],
) -> tuple[int, str]:
    """Run one ``git clone``; poll ``check`` (Cancel kills git) and count bytes as they land."""
    cmd = ["git", "clone", "--quiet", *(["--depth", "1"] if shallow else [])]
    if revision:
        cmd += ["--branch", revision]
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true"}
    proc = subprocess.Popen(
        [*cmd, url, str(work)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    seen = 0
    try:
        while proc.poll() is None:
            try:
                check()
            except Cancelled:
                proc.terminate()
                proc.wait(10)
                shutil.rmtree(work, ignore_errors=True)
                raise Cancelled(
                    _("Cancelled. A git clone cannot resume: starting it again clones from zero.")
                ) from None
            now = _size(work) if work.exists() else 0
            if now > seen:
                meter.add(now - seen)
                seen = now
            time.sleep(POLL_S)
        err = (proc.stderr.read() if proc.stderr else b"").decode(errors="replace").strip()
    finally:
        if proc.poll() is None:
            proc.kill()
        if proc.stderr:
            proc.stderr.close()
    return proc.returncode, err


def _is_pointer(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(len(LFS_POINTER)) == LFS_POINTER
