"""A real `streamlit run` of the composition tab with the picture sources behind it:
stand-ins for Wikimedia Commons and Openverse on 127.0.0.1, a local library, and the
tiny random text-to-image pipeline. An article composed by the tiny XComposer2 model
must show a picture, with its attribution, in every slot -- from each source alone,
from all of them together, and offline with only generation on."""

from __future__ import annotations

import json
import re
import uuid
import zipfile
from pathlib import Path

import pytest

from tests.browser import browser_page, running_app, screenshot
from tests.xcomposer.standins import StandIns, picture

pytestmark = pytest.mark.browser

DEAD = "http://127.0.0.1:9"  # nothing listens: an offline machine
OFF = {"library": False, "commons": False, "openverse": False, "generate": False}
SCENARIOS = {
    "library": ({**OFF, "library": True}, "via Image library"),
    "commons": ({**OFF, "commons": True}, "via Wikimedia Commons"),
    "openverse": ({**OFF, "openverse": True}, "via Openverse"),
    "generate": ({**OFF, "generate": True}, "Generated image"),
    "all": ({"library": True, "commons": True, "openverse": True, "generate": True}, "via"),
    "offline-generate-only": (
        {**OFF, "generate": True, "commons": True, "openverse": True},
        "Generated image",
    ),
}


def _compose(page, expect, tag: str, tmp_path: Path) -> None:
    # a workspace of its own per scenario: the sidebar's source switches are a per-user
    # preference (kept in the workspace), which would otherwise outlive settings.json
    base = page.url.split("/XComposer2")[0]
    page.goto(f"{base}/XComposer2?ws={uuid.uuid4().hex}", wait_until="domcontentloaded")
    expect(page.get_by_text("Tiny random test model").first).to_be_visible(timeout=240_000)
    page.get_by_label("Instruction: a title, an outline, material to use").fill(
        "Write a short article about ink painting."
    )
    number = page.get_by_test_id("stSelectbox").filter(has_text="Number of images")
    number.click()
    page.get_by_role("option", name="2", exact=True).click()
    page.get_by_text("Generation settings").first.click()
    max_new = page.get_by_label("Max new tokens", exact=True).first
    max_new.fill("40")
    max_new.press("Enter")
    page.get_by_role("button", name=re.compile("Compose")).click()
    zip_button = page.get_by_role("button", name=re.compile(r"Markdown \+ images"))
    expect(zip_button).to_be_visible(timeout=480_000)
    screenshot(page, f"xcomposer-sources-{tag}")
    with page.expect_download(timeout=30_000) as info:
        zip_button.click()
    target = tmp_path / f"{tag}.zip"
    info.value.save_as(target)


def test_every_slot_has_a_picture_from_each_source(tmp_path):
    from playwright.sync_api import expect

    home = tmp_path / "home"
    library = home / "image-library"
    library.mkdir(parents=True)
    for name in ["ink_mountains", "brush", "bamboo", "river", "horse", "plum"]:
        (library / f"{name}.png").write_bytes(picture(name, "PNG"))
    env = {"DEMO_STUDIO_MODELS_DIR": str(tmp_path / "models"), "DEMO_STUDIO_DEVICE": "cpu"}
    with (
        StandIns() as standins,
        running_app(home, env) as url,
        browser_page(viewport={"width": 1300, "height": 2400}, accept_downloads=True) as page,
    ):
        page.goto(f"{url}/XComposer2", wait_until="domcontentloaded")
        for tag, (flags, credit_text) in SCENARIOS.items():
            urls = standins.settings()
            if tag.startswith("offline"):
                urls = {"commons_url": f"{DEAD}/w/api.php", "openverse_url": f"{DEAD}/v1/images/"}
            cfg = {**flags, **urls, "generate_model": "tiny-sd", "timeout_s": 5}
            (home / "settings.json").write_text(json.dumps({"image_sources": cfg}))
            _compose(page, expect, tag, tmp_path)
            body = page.locator("section.main, [data-testid='stMain']").first
            assert body.get_by_text("(no image yet)").count() == 0, tag
            slots = body.get_by_text(re.compile(r"^(©|🎨)")).count()
            assert slots >= 1, tag
            expect(body.get_by_text(credit_text).first).to_be_visible()
            with zipfile.ZipFile(tmp_path / f"{tag}.zip") as zf:
                pics = [n for n in zf.namelist() if n.startswith("images/")]
                credits = zf.read("CREDITS.txt").decode()
            assert len(pics) == slots == len(credits.splitlines()), (tag, pics, credits)
            if tag.startswith("offline"):
                expect(body.get_by_text(re.compile("cannot connect")).first).to_be_visible()
        # the sidebar lists the sources and what leaves the machine
        page.get_by_text("🖼 Picture sources").first.click()
        expect(page.get_by_text("Leaves this machine: the search phrase").first).to_be_visible()
        screenshot(page, "xcomposer-sources-sidebar")
