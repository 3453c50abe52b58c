"""A fragment's own reruns speak the session's language (demo_ui.language.fragment).

Streamlit runs a fragment's timed reruns in a fresh context, without the language the full
run set: the Class view and the job panels came out half English in a Chinese session.
The app's real fragment wrapper and a bare ``st.fragment`` (the control: it must come out in
English, or this test proves nothing) run side by side in a real server and Chromium."""

from __future__ import annotations

import re

import pytest

from tests.browser import ROOT, browser_page, running_app

pytestmark = pytest.mark.browser

APP = '''
import time
import streamlit as st
from demo_core.i18n import _
from demo_ui.language import KEY, fragment, use_language

st.session_state[KEY] = "zh_CN"
use_language()
st.write("full: " + _("Models"))

@fragment(run_every=1.0)
def ours():
    st.write(f"ours {time.monotonic_ns()}: " + _("Models"))

@st.fragment(run_every=1.0)
def bare():
    st.write(f"bare {time.monotonic_ns()}: " + _("Models"))

ours()
bare()
'''


def test_timed_fragment_reruns_keep_the_language(tmp_path):
    script = tmp_path / "fragment_app.py"
    script.write_text(APP)
    with running_app(tmp_path / "home", script=str(script)) as url, browser_page() as page:
        page.goto(url)
        page.get_by_text("full: 模型").wait_for(timeout=60_000)
        first = page.get_by_text(re.compile(r"^ours \d+")).inner_text()
        # a later run of the fragment (its timestamp moved on), not the full run's
        page.wait_for_function(
            "t => [...document.querySelectorAll('p')].some(p => p.innerText.startsWith('ours ')"
            " && p.innerText !== t)",
            arg=first,
            timeout=30_000,
        )
        page.wait_for_timeout(1500)
        ours = page.get_by_text(re.compile(r"^ours \d+")).inner_text()
        bare = page.get_by_text(re.compile(r"^bare \d+")).inner_text()
    assert ours != first and ours.endswith(": 模型"), ours
    assert bare.endswith(": Models"), bare  # Streamlit's own behaviour, which the wrapper mends


def test_pages_make_fragments_only_through_the_wrapper():
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for folder in ("pages", "demo_ui")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "st.fragment" in line and path.name != "language.py"
    ]
    assert offenders == []
