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


class AppProcess:
    """A ``streamlit run`` of the app that a test can stop, kill and start again on the
    same port (a restart of the server the browser does not notice, but for the break)."""

    def __init__(
        self,
        home: Path,
        extra_env: dict | None = None,
        script: str = "app.py",
        port: int = 0,
        watcher: str | None = "none",
    ) -> None:
        """``watcher``: ``server.fileWatcherType`` to force (``None``: whatever
        .streamlit/config.toml says, as ``./start.sh`` runs it)."""
        self.home, self.script, self.watcher = home, script, watcher
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DEMO_STUDIO_HOME": str(home),
            "PYTHONPATH": str(ROOT),
            **(extra_env or {}),
        }
        self.proc: subprocess.Popen | None = None
        self.log_path = home.parent / f"streamlit-{self.port}.log"

    def start(self) -> AppProcess:
        log = open(self.log_path, "a")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                self.script,
                "--server.port",
                str(self.port),
                *(["--server.fileWatcherType", self.watcher] if self.watcher else []),
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.time() + 60
        while True:
            try:
                if urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2).read() == b"ok":
                    return self
            except OSError:
                if time.time() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(
                        f"streamlit did not start: {self.log_path.read_text()}"
                    ) from None
                time.sleep(0.3)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when the machine loses power."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()


@contextlib.contextmanager
def running_app(home: Path, extra_env: dict | None = None, script: str = "app.py") -> Iterator[str]:
    app = AppProcess(home, extra_env, script)
    try:
        yield app.start().url
    finally:
        app.stop()


@contextlib.contextmanager
def app_process(
    home: Path, extra_env: dict | None = None, script: str = "app.py", watcher: str | None = "none"
) -> Iterator[tuple[str, subprocess.Popen]]:
    """The server's URL and its process (for measuring the process itself)."""
    app = AppProcess(home, extra_env, script, watcher=watcher)
    try:
        app.start()
        yield app.url, app.proc
    finally:
        app.stop()


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


def send(page, text: str) -> None:
    """Type ``text`` into the page's chat input and send it."""
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(text)
    box.press("Enter")


def wait_idle(page, timeout: float = 120_000) -> None:
    """Until the app has finished its run (Streamlit's running indicator is gone)."""
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout
    )


def sampling_slider_to_lowest(page, label: str, lowest: str) -> None:
    """Open the chat's Sampling settings and move slider ``label`` to its lowest value
    (its Home key), waiting until the page holds ``lowest`` (as the input shows it)."""
    page.get_by_text("Sampling").first.click()
    thumb = page.get_by_role("slider", name=label)
    thumb.focus()
    thumb.press("Home")
    page.wait_for_function(
        "([label, lowest]) => document.querySelector("
        '`input[type=range][aria-label="${label}"]`)?.value === lowest',
        arg=[label, lowest],
    )
