"""The composition tab's source controls through Streamlit's AppTest: the sidebar's
switches (defaults from settings.json, kept per user) and adding pictures to the library."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from demo_core import settings
from tests.conftest import open_page


def _png(color="red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), color).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def app(studio_home, monkeypatch):
    monkeypatch.setenv("DEMO_STUDIO_DEVICE", "cpu")
    settings.save({"image_sources": {"openverse": False}})
    at = open_page("4_XComposer2.py", timeout=120)
    assert not at.exception, at.exception
    return at


def test_sidebar_switches_start_from_settings_and_stay(app):
    assert app.checkbox(key="xc_src_library").value is True
    assert app.checkbox(key="xc_src_commons").value is True
    assert app.checkbox(key="xc_src_openverse").value is False  # settings.json said so
    assert app.checkbox(key="xc_src_generate").value is False  # no SD-Turbo here
    captions = " ".join(c.value for c in app.caption)
    assert "Leaves this machine: the search phrase, to Wikimedia Commons" in captions
    app.checkbox(key="xc_src_commons").uncheck().run()
    assert app.checkbox(key="xc_src_commons").value is False
    assert "Nothing leaves this machine." in " ".join(c.value for c in app.caption)
    app.checkbox(key="xc_src_generate").check().run()
    assert app.selectbox(key="xc_src_model").value == "tiny-sd"  # SD-Turbo is not downloaded
    assert settings.load()["image_sources"] == {"openverse": False}  # per user, not global


def test_pictures_are_added_to_the_library(app, studio_home):
    from demo_core.xcomposer.library import library_dir

    app.file_uploader(key="xc_src_lib_files").set_value(
        [("red.png", _png("red"), "image/png"), ("red.png", _png("blue"), "image/png")]
    )
    app.text_input(key="xc_src_lib_text").set_value("红色的太阳 a red sun")
    app.run()
    app.button(key="xc_src_lib_add").click().run()
    assert not app.exception, app.exception
    folder = library_dir()
    assert sorted(p.name for p in folder.iterdir()) == [
        "red-2.png",
        "red-2.txt",
        "red.png",
        "red.txt",
    ]
    assert (folder / "red.txt").read_text(encoding="utf-8").strip() == "红色的太阳 a red sun"
    assert any("Added" in s.value for s in app.success)
