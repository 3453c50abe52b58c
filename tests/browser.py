"""Start the real app with ``streamlit run`` and drive it with headless Debian Chromium."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_app(home: Path, extra_env: dict | None = None, script: str = "app.py") -> Iterator[str]:
    with app_process(home, extra_env, script) as (url, _proc):
        yield url


@contextlib.contextmanager
def app_process(
    home: Path,
    extra_env: dict | None = None,
    script: str = "app.py",
    watcher: str | None = "none",
) -> Iterator[tuple[str, subprocess.Popen]]:
    """The server and its process. ``watcher``: ``server.fileWatcherType`` to force
    (``None``: whatever .streamlit/config.toml says, as ``./start.sh`` runs it)."""
    port = free_port()
    env = {
        **os.environ,
        "DEMO_STUDIO_HOME": str(home),
        "PYTHONPATH": str(ROOT),
        **(extra_env or {}),
    }
    log = open(home.parent / f"streamlit-{port}.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            script,
            "--server.port",
            str(port),
            *(["--server.fileWatcherType", watcher] if watcher else []),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise RuntimeError(
                        f"streamlit did not start: {(home.parent / f'streamlit-{port}.log').read_text()}"
                    ) from None
                time.sleep(0.3)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@contextlib.contextmanager
def browser_pages(count: int, **context_options) -> Iterator[list]:
    """``count`` pages in separate browser contexts: separate Streamlit sessions, like
    students at different machines."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        pages = []
        for _ in range(count):
            options = {"viewport": {"width": 1400, "height": 1000}, **context_options}
            page = browser.new_context(**options).new_page()
            page.set_default_timeout(30_000)
            pages.append(page)
        try:
            yield pages
        finally:
            browser.close()


@contextlib.contextmanager
def browser_page(**context_options) -> Iterator[object]:
    with browser_pages(1, **context_options) as (page,):
        yield page


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
