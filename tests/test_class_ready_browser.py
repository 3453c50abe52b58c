"""Issue 14's page items in a real server and Chromium: a long agent output is capped,
a model served over the OpenAI-compatible API is labelled "served at <url>" with a health
dot, the upload limit is said in the browser's unit, and on a phone the sidebar closes
after a page is tapped and the Models table shows whether each model is here."""

from __future__ import annotations

import json
import re

import pytest

from tests.browser import browser_page, browser_pages, running_app, screenshot
from tests.servers import SocketServer, canned

pytestmark = pytest.mark.browser


def test_long_output_is_capped_with_show_all_and_download(tmp_path):
    from playwright.sync_api import expect

    with (
        running_app(tmp_path / "home", script="tests/long_output_app.py") as url,
        browser_page(accept_downloads=True) as page,
    ):
        page.goto(url)
        expect(
            page.get_by_text(re.compile(r"Showing the first 20,000 of 2\d\d,\d{3} characters"))
        ).to_be_visible(timeout=90_000)
        height = page.evaluate("() => document.documentElement.scrollHeight")
        assert height < 3000, height  # it was 436,000 px
        screenshot(page, "agent-long-output")
        with page.expect_download() as info:
            page.get_by_role("button", name=re.compile("Download the whole output")).click()
        assert len(info.value.path().read_bytes()) > 200_000
        page.get_by_text("Show all").click()
        expect(page.get_by_test_id("stCode")).to_have_count(3, timeout=30_000)  # code, start, all
        assert page.evaluate("() => document.documentElement.scrollHeight") < 4000


MODELS_JSON = json.dumps({"object": "list", "data": [{"id": "internlm2-chat-7b"}]}).encode()


def test_served_model_upload_unit_and_phone_layout(tmp_path):
    from playwright.sync_api import expect

    up = SocketServer(canned("200 OK", MODELS_JSON, "application/json"))
    down = SocketServer(canned("200 OK", b""))
    down_url = down.base_url
    down.close()  # nothing listens there any more: a server that is down
    home = tmp_path / "home"
    home.mkdir()
    (home / "settings.json").write_text(
        json.dumps(
            {
                "models": {
                    "internlm2-chat-7b": {"backend": "openai", "base_url": up.base_url},
                    "internlm2-chat-1_8b": {"backend": "openai", "base_url": down_url},
                }
            }
        )
    )
    big = tmp_path / "big.csv"
    big.write_bytes(b"a,b\n" + b"1,2\n" * (48 * 1024**2 // 4))  # 48 MiB = 50.3 MB
    try:
        with (
            running_app(home, {"DEMO_STUDIO_MODELS_DIR": str(tmp_path / "models")}) as url,
            browser_pages(1) as (page,),
        ):
            # Home: served, with a green dot for the one that answers, red for the other
            page.goto(url)
            expect(page.get_by_text(f"served at {up.base_url} 🟢")).to_be_visible(timeout=90_000)
            expect(page.get_by_text(f"served at {down_url} 🔴")).to_be_visible()
            screenshot(page, "home-served-models")
            # the data agent opens on the served 7B and does not call it missing
            page.goto(f"{url}/Data_Agent")
            sidebar = page.get_by_test_id("stSidebar")
            expect(sidebar.get_by_role("combobox", name="Model")).to_have_value(
                re.compile(r"^InternLM2-Chat-7B — served at http://127\.0\.0\.1:\d+/v1 🟢$"),
                timeout=90_000,
            )
            expect(sidebar.get_by_text(f"served at {up.base_url} 🟢")).to_be_visible()
            expect(sidebar.get_by_text("not on this machine")).to_have_count(0)
            # the upload limit: ours and the browser's say the same number, in MB
            expect(sidebar.get_by_text(re.compile(r"up to 50\.0 MB each"))).to_be_visible()
            uploader = sidebar.get_by_test_id("stFileUploader")
            expect(uploader.get_by_text(re.compile(r"50(\.0)?MB per file"))).to_be_visible()
            uploader.locator("input[type=file]").set_input_files(str(big))
            expect(page.get_by_text(re.compile(r"File must be 50\.0MB or smaller"))).to_be_visible(
                timeout=30_000
            )
            screenshot(page, "agent-served-and-upload-limit")
            # the Models page
            page.goto(f"{url}/Models")
            expect(page.get_by_text("Models the app knows")).to_be_visible(timeout=90_000)
            grid = page.get_by_test_id("stDataFrame").first
            expect(grid).to_be_visible(timeout=60_000)
            screenshot(page, "models-served")
        with (
            running_app(home, {"DEMO_STUDIO_MODELS_DIR": str(tmp_path / "models")}) as url,
            browser_page(
                viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
            ) as phone,
        ):
            phone.goto(url)
            phone.get_by_text("Every demo of").wait_for(timeout=90_000)
            phone.get_by_test_id("stExpandSidebarButton").click()
            sidebar = phone.get_by_test_id("stSidebar")
            phone.wait_for_function(
                "() => document.querySelector('[data-testid=\"stSidebar\"]')"
                ".getBoundingClientRect().right > 200"
            )
            sidebar.get_by_text("Models & downloads").click()
            phone.get_by_text("Models the app knows").wait_for(timeout=90_000)
            # the sidebar closes itself, as Streamlit's own page menu does on a phone
            phone.wait_for_function(
                "() => document.querySelector('[data-testid=\"stSidebar\"]')"
                ".getBoundingClientRect().right <= 0",
                timeout=15_000,
            )
            grid = phone.get_by_test_id("stDataFrame").first
            expect(grid).to_be_visible(timeout=60_000)
            # the grid is a canvas: which columns fit is checked on the page's data in
            # test_models_table_puts_presence_next_to_the_model; here, that it is drawn
            screenshot(phone, "phone-models-after-tap")
    finally:
        up.close()


def test_models_table_puts_presence_next_to_the_model(studio_home):
    """On a phone the Models table showed only the model column: the long labels took the
    whole width. The model column is pinned and of medium width, "present" next to it."""
    from tests.conftest import open_page

    at = open_page("5_Models.py")
    (grid,) = at.dataframe
    assert list(grid.value.columns[:2]) == ["model", "present"]
    config = json.loads(grid.proto.columns)
    assert config["model"]["width"] == "medium" and config["model"]["pinned"] is True
    assert config["present"]["width"] == "small"
