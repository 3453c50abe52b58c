"""A real `streamlit run` of the XComposer2 page driven by headless Chromium: compose a
short article from uploaded images with the tiny random model and download the zip."""

from __future__ import annotations

import io
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest
from PIL import Image

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium is not installed")
    pytest.importorskip("playwright.sync_api")
    port = int(os.environ.get("XC_BROWSER_PORT") or _free_port())
    env = {
        **os.environ,
        "DEMO_STUDIO_HOME": str(tmp_path / "home"),
        "DEMO_STUDIO_MODELS_DIR": str(tmp_path / "models"),
        "DEMO_STUDIO_DEVICE": "cpu",
    }
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "pages/4_XComposer2.py",
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).status == 200:
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("streamlit did not come up")
        yield url, chromium
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _png(path: Path, color: str) -> Path:
    Image.new("RGB", (64, 48), color).save(path)
    return path


def test_compose_from_uploads_and_download_zip(server, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    url, chromium = server
    images = [_png(tmp_path / "red_sun.png", "red"), _png(tmp_path / "blue_sea.png", "blue")]
    shot = Path(os.environ.get("XC_SCREENSHOT", tmp_path / "xcomposer.png"))
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1300, "height": 1800}, accept_downloads=True)
        page.goto(url, wait_until="domcontentloaded")
        expect(page.get_by_text("random weights").first).to_be_visible(timeout=60_000)
        box = page.get_by_label("Instruction: a title, an outline, material to use")
        box.fill("Write a short article about the sun and the sea.")
        uploader = page.get_by_test_id("stFileUploader").filter(has_text="Reference images")
        uploader.locator("input[type=file]").set_input_files([str(p) for p in images])
        expect(page.get_by_text("blue_sea.png").first).to_be_visible(timeout=30_000)
        page.get_by_text("Generation settings").first.click()
        max_new = page.get_by_label("Max new tokens").first
        max_new.fill("60")
        max_new.press("Enter")
        page.wait_for_timeout(500)
        page.get_by_role("button", name=re.compile("Compose")).click()
        zip_button = page.get_by_role("button", name=re.compile(r"Markdown \+ images"))
        expect(zip_button).to_be_visible(timeout=120_000)
        expect(page.get_by_text("Edit paragraph 1")).to_be_visible()
        page.screenshot(path=str(shot), full_page=True)
        with page.expect_download(timeout=30_000) as info:
            zip_button.click()
        target = tmp_path / "article.zip"
        info.value.save_as(target)
        browser.close()
    zf = zipfile.ZipFile(io.BytesIO(target.read_bytes()))
    names = zf.namelist()
    assert "article.md" in names
    md = zf.read("article.md").decode("utf-8")
    pics = [n for n in names if n.startswith("images/")]
    assert pics, names
    for pic in pics:
        assert pic in md
        Image.open(io.BytesIO(zf.read(pic))).verify()
    assert any(("red_sun" in p) or ("blue_sea" in p) for p in pics)
