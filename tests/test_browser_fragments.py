"""A fragment's own reruns speak the session's language (demo_ui.language.fragment).

Streamlit runs a fragment's timed reruns in a fresh context, without the language the full
run set: the Class view and the job panels came out half English in a Chinese session.
The app's real fragment wrapper, and as the control a bare ``st.fragment`` (it must come
out in English, or this test proves nothing), each run alone in a real server and
Chromium (side by side, the wrapper's run would set the language for the bare one)."""

from __future__ import annotations

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

@{decorator}(run_every=1.0)
def live():
    st.write(f"frag {{time.monotonic_ns()}}: " + _("Models"))

live()
'''

LATEST = (
    "() => [...document.querySelectorAll('p')].map(e => e.innerText)"
    ".filter(t => t.startsWith('frag '))"
)


@pytest.mark.parametrize(
    "decorator, expected", [("fragment", "模型"), ("st.fragment", "Models")]
)
def test_timed_fragment_reruns_keep_the_language(tmp_path, decorator, expected):
    script = tmp_path / "fragment_app.py"
    script.write_text(APP.format(decorator=decorator))
    with running_app(tmp_path / "home", script=str(script)) as url, browser_page() as page:
        page.goto(url)
        page.get_by_text("full: 模型").wait_for(timeout=120_000)
        page.wait_for_function(f"() => ({LATEST})().length > 0", timeout=60_000)
        first = page.evaluate(LATEST)[0]
        # a later run of the fragment (its clock moved on), not the one inside the full run
        page.wait_for_function(
            f"t => ({LATEST})().some(x => x !== t)", arg=first, timeout=60_000
        )
        texts = page.evaluate(LATEST)
    latest = max(texts, key=lambda t: int(t.split()[1].rstrip(":")))
    assert latest != first and latest.endswith(f": {expected}"), texts


def test_pages_make_fragments_only_through_the_wrapper():
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for folder in ("pages", "demo_ui")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "st.fragment" in line and path.name != "language.py"
    ]
    assert offenders == []
