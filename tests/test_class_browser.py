"""The teacher's tools in a real server, with a teacher and a student in two browser
contexts at once: the Class view counts sessions and shows the model at work, presentation
mode is per browser and remembered across pages, "Reset this browser" offers the export and
clears only that browser, the cancel and reset levers wait for the teacher code (printed on
the server's console), and the confirmed server-wide reset clears every tab."""

from __future__ import annotations

import io
import re
import zipfile

import pytest

from tests.browser import browser_pages, running_app, screenshot, send, wait_idle

pytestmark = pytest.mark.browser

ROOT_FONT = "() => getComputedStyle(document.documentElement).fontSize"


def _chat_and_wait(page, url: str, text: str) -> None:
    page.goto(f"{url}/Story_Chat")
    page.get_by_text("Story chat").first.wait_for()
    send(page, text)
    page.get_by_text(text).first.wait_for()
    page.get_by_text("tok/s").first.wait_for(timeout=400_000)  # the reply is complete


def test_class_view_presentation_and_resets_with_two_browsers(tmp_path):
    from playwright.sync_api import expect

    with (
        running_app(tmp_path / "home", {"DEMO_STUDIO_DEVICE": "cpu"}) as url,
        browser_pages(2, accept_downloads=True) as (teacher, student),
    ):
        # -- the Class view sees the student's session --------------------------------
        teacher.goto(f"{url}/Class")
        expect(teacher.get_by_text("Connected browser sessions")).to_be_visible(timeout=90_000)
        _chat_and_wait(student, url, "Tell me about the moon")
        metric = teacher.get_by_test_id("stMetricValue").first
        expect(metric).to_have_text("2", timeout=30_000)  # the fragment refreshes itself
        expect(teacher.get_by_text(re.compile("Tiny random InternLM2"))).to_be_visible(
            timeout=30_000
        )
        expect(teacher.get_by_text(re.compile(r"recent speed [0-9.]+ tok/s"))).to_be_visible()

        # -- presentation mode: this browser only, remembered across pages ------------
        assert teacher.evaluate(ROOT_FONT) == "16px"
        teacher.get_by_text("Presentation mode").click()
        teacher.wait_for_function(f"() => ({ROOT_FONT})() === '22px'")
        screenshot(teacher, "class-view-presentation")
        teacher.get_by_test_id("stSidebar").get_by_text("Models & downloads").click()
        teacher.get_by_text("Models the app knows").wait_for()
        assert teacher.evaluate(ROOT_FONT) == "22px"
        assert student.evaluate(ROOT_FONT) == "16px"
        teacher.get_by_test_id("stSidebar").get_by_text("Presentation mode").click()
        teacher.wait_for_function(f"() => ({ROOT_FONT})() === '16px'")

        # -- reset for the next student: export first, then only this browser --------
        student.get_by_test_id("stSidebar").get_by_text("Class").click()
        export = student.get_by_role("button", name=re.compile("Download this browser's work"))
        expect(export).to_be_enabled(timeout=60_000)
        wait_idle(student)  # a rerun while the download starts would cancel it
        with student.expect_download(timeout=60_000) as info:
            export.click()
        target = tmp_path / "workspace.zip"
        info.value.save_as(target)
        names = zipfile.ZipFile(io.BytesIO(target.read_bytes())).namelist()
        assert any(n.startswith("chats/") and n.endswith(".md") for n in names), names
        md = next(n for n in names if n.startswith("chats/"))
        assert "Tell me about the moon" in zipfile.ZipFile(target).read(md).decode("utf-8")
        student.get_by_role("button", name=re.compile("Reset this browser")).click()
        expect(student.get_by_text("This browser starts afresh.")).to_be_visible(timeout=60_000)
        screenshot(student, "class-reset-this-browser")
        student.get_by_test_id("stSidebar").get_by_text("Story chat").click()
        student.get_by_text("Story chat").first.wait_for()
        expect(student.get_by_text("Tell me about the moon")).to_have_count(0, timeout=30_000)

        # -- the levers wait for the teacher code: the student sees figures only -------
        _chat_and_wait(student, url, "And about the sun")
        student.get_by_test_id("stSidebar").get_by_text("Class").click()
        expect(student.get_by_text(re.compile("Tiny random InternLM2"))).to_be_visible(
            timeout=60_000
        )
        expect(student.get_by_role("button", name="Cancel all")).to_have_count(0)
        expect(student.get_by_role("button", name=re.compile("Reset everything"))).to_have_count(0)
        student.get_by_label("Teacher code").fill("zzzz-zzzz")
        student.get_by_role("button", name="Unlock").click()
        expect(student.get_by_text("That is not the teacher code.")).to_be_visible()
        expect(student.get_by_role("button", name=re.compile("Reset everything"))).to_have_count(0)
        screenshot(student, "class-student-locked")
        port = url.rsplit(":", 1)[1]
        code = (tmp_path / "home" / "teacher-code.txt").read_text().strip()
        console = (tmp_path / f"streamlit-{port}.log").read_text()
        assert f"Teacher code for the Class page: {code}" in console  # said on the console
        teacher.goto(f"{url}/Class")
        expect(teacher.get_by_role("button", name="Cancel all")).to_have_count(0, timeout=60_000)
        teacher.get_by_label("Teacher code").fill(code)
        teacher.get_by_role("button", name="Unlock").click()
        expect(teacher.get_by_text("Teacher tools unlocked for this browser.")).to_be_visible()
        expect(teacher.get_by_role("button", name="Cancel all")).to_be_visible()
        teacher.reload()  # remembered by this browser's workspace
        expect(teacher.get_by_role("button", name="Cancel all")).to_be_visible(timeout=60_000)

        # -- the server-wide reset, confirmed, clears the other browser too -----------
        teacher.get_by_role("button", name=re.compile("Reset everything…")).click()
        now = teacher.get_by_role("button", name="Reset everything now")
        expect(now).to_be_disabled()
        teacher.get_by_text("Yes, reset every browser's work").click()
        expect(now).to_be_enabled()
        now.click()
        expect(teacher.get_by_text(re.compile(r"Reset: \d+ answer"))).to_be_visible(timeout=60_000)
        screenshot(teacher, "class-reset-everything")
        student.get_by_test_id("stSidebar").get_by_text("Story chat").click()
        expect(student.get_by_text("The teacher reset the app")).to_be_visible(timeout=60_000)
        expect(student.get_by_text("And about the sun")).to_have_count(0)
