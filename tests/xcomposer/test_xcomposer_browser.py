"""A real `streamlit run` of the XComposer2 page driven by headless Chromium: compose a
short article from uploaded images with the tiny random model and download the zip."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from PIL import Image

from tests.browser import browser_page, running_app, screenshot

pytestmark = pytest.mark.browser


def _png(path: Path, color: str) -> Path:
    Image.new("RGB", (64, 48), color).save(path)
    return path


@contextmanager
def xcomposer_app(tmp_path, **context_options) -> Iterator[tuple[str, object]]:
    """A fresh app on the tiny models (on the CPU) and a browser page: ``(url, page)``."""
    env = {"DEMO_STUDIO_MODELS_DIR": str(tmp_path / "models"), "DEMO_STUDIO_DEVICE": "cpu"}
    with running_app(tmp_path / "home", env) as url, browser_page(**context_options) as page:
        yield url, page


def open_composition(page, url: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{url}/XComposer2", wait_until="domcontentloaded")
    expect(page.get_by_text("Tiny random test model").first).to_be_visible(timeout=60_000)


def _open_qa(page, url: str) -> None:
    page.goto(f"{url}/XComposer2")
    page.get_by_role("tab", name=re.compile("Image Q&A")).click()
    page.get_by_test_id("pasteImageBox").wait_for()


def _compose(page, instruction: str, references: list[Path], max_new_tokens: int) -> None:
    """Type ``instruction``, upload ``references``, set Max new tokens and press Compose."""
    from playwright.sync_api import expect

    page.get_by_label("Instruction: a title, an outline, material to use").fill(instruction)
    uploader = page.get_by_test_id("stFileUploader").filter(has_text="Reference images")
    uploader.locator("input[type=file]").set_input_files([str(p) for p in references])
    expect(page.get_by_text(references[-1].name).first).to_be_visible(timeout=30_000)
    set_max_new_tokens(page, max_new_tokens)
    page.get_by_role("button", name=re.compile("Compose")).click()


def set_max_new_tokens(page, n: int) -> None:
    """Open Generation settings and type ``n`` into Max new tokens."""
    page.get_by_text("Generation settings").first.click()
    max_new = page.get_by_label("Max new tokens", exact=True).first
    max_new.fill(str(n))
    max_new.press("Enter")
    page.wait_for_timeout(500)


def test_compose_from_uploads_and_download_zip(tmp_path):
    from playwright.sync_api import expect

    images = [_png(tmp_path / "red_sun.png", "red"), _png(tmp_path / "blue_sea.png", "blue")]
    viewport = {"width": 1300, "height": 1800}
    with xcomposer_app(tmp_path, viewport=viewport, accept_downloads=True) as (url, page):
        open_composition(page, url)
        _compose(page, "Write a short article about the sun and the sea.", images, 60)
        zip_button = page.get_by_role("button", name=re.compile(r"Markdown \+ images"))
        expect(zip_button).to_be_visible(timeout=120_000)
        expect(page.get_by_text("Edit paragraph 1")).to_be_visible()
        screenshot(page, "xcomposer-compose")
        with page.expect_download(timeout=30_000) as info:
            zip_button.click()
        target = tmp_path / "article.zip"
        info.value.save_as(target)
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


PASTE_PNG = """
async (b64) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const data = new DataTransfer();
  data.items.add(new File([bytes], 'clipboard.png', {type: 'image/png'}));
  const box = document.querySelector('[data-testid="pasteImageBox"]');
  box.focus();
  box.dispatchEvent(new ClipboardEvent('paste', {clipboardData: data, bubbles: true, cancelable: true}));
}
"""


def test_paste_an_image_and_ask(tmp_path):
    """Ctrl+V of an image into the Q&A tab: it shows as pasted, goes with the question,
    and the answer streams."""
    import base64

    from playwright.sync_api import expect

    buf = io.BytesIO()
    Image.new("RGB", (40, 30), "purple").save(buf, format="PNG")
    with xcomposer_app(tmp_path) as (url, page):
        _open_qa(page, url)
        page.evaluate(PASTE_PNG, base64.b64encode(buf.getvalue()).decode())
        expect(page.get_by_text("pasted-1.png").first).to_be_visible(timeout=30_000)
        page.get_by_role("textbox", name="Your question").fill("What colour is this?")
        page.get_by_role("button", name="Ask").click()
        expect(page.get_by_text("tok/s").first).to_be_visible(timeout=120_000)
        user_turn = page.get_by_test_id("stChatMessage").first
        expect(user_turn.get_by_text("What colour is this?")).to_be_visible()
        expect(user_turn.locator("img")).to_have_count(1)
        expect(page.get_by_text("pasted-1.png")).to_have_count(1)  # the box was emptied
        for label in ("Regenerate", "Clear conversation"):  # labels were cut ("Clear conversa…")
            button = page.get_by_role("button", name=re.compile(label))
            expect(button).to_be_visible()
            cut = button.evaluate(
                "(b) => Array.from(b.querySelectorAll('*')).concat([b])"
                ".some((e) => e.scrollWidth > e.clientWidth + 1)"
            )
            assert not cut, f"the {label} button's label is cut off"
        screenshot(page, "xcomposer-paste")


PASTE_MANY = """
async (files) => {
  const data = new DataTransfer();
  for (const [b64, name, type] of files) {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    data.items.add(new File([bytes], name, {type}));
  }
  const box = document.querySelector('[data-testid="pasteImageBox"]');
  box.focus();
  box.dispatchEvent(new ClipboardEvent('paste', {clipboardData: data, bubbles: true, cancelable: true}));
}
"""


def test_pasting_several_images_at_once_keeps_them_all(tmp_path):
    """One paste with three images: each used to go to Python as its own trigger value,
    and only the last one arrived."""
    import base64

    from playwright.sync_api import expect

    files = []
    for color in ("red", "green", "blue"):
        buf = io.BytesIO()
        Image.new("RGB", (30, 20), color).save(buf, format="PNG")
        files.append([base64.b64encode(buf.getvalue()).decode(), f"{color}.png", "image/png"])
    with xcomposer_app(tmp_path) as (url, page):
        _open_qa(page, url)
        page.evaluate(PASTE_MANY, files)
        for n in (1, 2, 3):
            expect(page.get_by_text(f"pasted-{n}").first).to_be_visible(timeout=30_000)
        page.wait_for_timeout(1000)
        expect(page.get_by_text("pasted-4")).to_have_count(0)
        screenshot(page, "xcomposer-paste-many")


def test_a_closed_tab_cancels_its_job_an_open_idle_one_does_not(tmp_path):
    """The watchdog asks Streamlit whether the browser session is still connected: an
    open tab that does nothing keeps its job past the grace period (the user may be on
    another page), a closed one loses it within it -- so the model is not kept busy for
    nobody until max_new_tokens."""
    import time

    from playwright.sync_api import expect

    out = tmp_path / "job-end.txt"
    env = {"DEMO_STUDIO_JOB_GRACE_S": "2", "JOB_PROBE_OUT": str(out)}
    with (
        running_app(tmp_path / "home", env, script="tests/job_probe_app.py") as url,
        browser_page() as page,
    ):
        page.goto(url)
        expect(page.get_by_text("job running")).to_be_visible(timeout=30_000)
        time.sleep(5)  # no rerun, no poll: only the connection says the user is there
        assert not out.exists(), f"an open tab lost its job: {out.read_text()}"
        page.context.close()
        deadline = time.monotonic() + 15
        while not out.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert out.exists(), "the job outlived its closed tab"
        assert out.read_text() == "abandoned"


def test_article_images_fit_a_phone_screen(tmp_path):
    """Article images were a fixed 480 px and were cut off on a 390 px wide screen."""
    from playwright.sync_api import expect

    wide = tmp_path / "wide_field.png"
    Image.new("RGB", (1200, 800), "orange").save(wide)
    with xcomposer_app(tmp_path, viewport={"width": 390, "height": 844}) as (url, page):
        open_composition(page, url)
        _compose(page, "A field.", [wide], 40)
        expect(page.get_by_role("button", name=re.compile(r"Markdown \+ images"))).to_be_visible(
            timeout=120_000
        )
        sizes = page.evaluate(
            """() => Array.from(document.querySelectorAll('[data-testid="stImage"] img'))
                .map((i) => [i.getBoundingClientRect().right, i.naturalWidth])"""
        )
        screenshot(page, "xcomposer-phone")
    assert sizes, "no article image was shown"
    for right, natural in sizes:
        assert right <= 390 and natural <= 480, sizes


def test_compose_with_defaults_then_edit_keeps_the_proposal_in_view(tmp_path):
    """Item 4 and 5 of issue 14, as a student meets them: Compose with every default on
    the tiny model works (Max new tokens is capped and said so), and after "Write it" the
    edit panel stays open with the proposal and its Accept/Discard buttons."""
    from playwright.sync_api import expect

    with xcomposer_app(tmp_path, viewport={"width": 1300, "height": 1800}) as (url, page):
        open_composition(page, url)
        page.get_by_role("button", name=re.compile("Compose")).click()
        expect(page.get_by_text("Edit paragraph 1")).to_be_visible(timeout=240_000)
        expect(
            page.get_by_text(re.compile(r"Max new tokens \(4096\) is more than"))
        ).to_be_visible()
        expect(page.get_by_text("context window is 1024")).to_have_count(0)
        screenshot(page, "xcomposer-compose-defaults")
        page.get_by_text("Edit paragraph 1").click()
        panel = page.get_by_test_id("stExpander").filter(has_text="Edit paragraph 1")
        panel.get_by_text("Shorten").click()
        panel.get_by_role("button", name=re.compile("Write it")).click()
        expect(page.get_by_text(re.compile("The proposal for paragraph 1 is ready"))).to_be_visible(
            timeout=120_000
        )
        accept = page.get_by_role("button", name=re.compile("Accept"))
        expect(accept).to_be_visible()
        expect(page.get_by_role("button", name=re.compile("Discard"))).to_be_visible()
        screenshot(page, "xcomposer-edit-proposal")
        accept.click()
        expect(page.get_by_role("button", name=re.compile("Accept"))).to_have_count(0)
