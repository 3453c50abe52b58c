"""Picture sources against local stand-ins that answer as Wikimedia Commons and Openverse
do (tests/xcomposer/standins.py): results, image URLs, licence metadata and every kind of
failure -- and that a failing source never stops a slot from being filled by the others."""

from __future__ import annotations

import io
import socket
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image

from demo_core.xcomposer.article import Article, ImageSlot
from demo_core.xcomposer.credit import Credit
from demo_core.xcomposer.export import markdown_text, to_html, to_markdown, to_zip
from demo_core.xcomposer.images import load_image
from demo_core.xcomposer.library import load_library
from demo_core.xcomposer.sources import SearchRequest, gather
from demo_core.xcomposer.sources.commons import CommonsSource
from demo_core.xcomposer.sources.http import COOLDOWNS, SourceError, retry_after_seconds
from demo_core.xcomposer.sources.openverse import OpenverseSource, license_name
from tests.xcomposer.standins import StandIns, picture


@pytest.fixture
def standins():
    COOLDOWNS.clear()
    with StandIns() as s:
        yield s
    COOLDOWNS.clear()


def req(query="ink painting mountains", k=4, caption="水墨山水", **kw) -> SearchRequest:
    return SearchRequest(caption, query, k=k, **kw)


# -- Wikimedia Commons --------------------------------------------------------------------
def test_commons_search_results_thumbnails_and_credits(standins):
    found = CommonsSource(standins.commons_url, 5).find(req(k=5))
    ((service, q),) = standins.state.requests
    assert service == "commons"
    assert q["action"] == "query" and q["generator"] == "search" and q["gsrnamespace"] == "6"
    assert q["gsrsearch"] == "ink painting mountains filetype:bitmap"
    assert q["prop"] == "imageinfo" and "extmetadata" in q["iiprop"] and q["iiurlwidth"] == "640"
    assert q["formatversion"] == "2" and q["format"] == "json"
    # sorted by the search rank in "index", not by page id
    assert [i.name for i in found] == [
        "commons-2290017",
        "commons-5518830",
        "commons-1174523",
        "commons-7730001",
        "commons-8100042",
    ]
    c = found[0].credit
    assert c == Credit(
        source="Wikimedia Commons",
        title="Chinese ink painting of mountains",
        page_url="https://commons.wikimedia.org/wiki/File:Chinese_ink_painting_of_mountains.jpg",
        author="Ink & Wash",  # HTML link text, entity decoded
        author_url="https://commons.wikimedia.org/wiki/User:Ink_%26_Wash",  # "//" made https
        license="CC BY-SA 4.0",
        license_url="https://creativecommons.org/licenses/by-sa/4.0",
    )
    assert found[1].credit.author == "Xu Beihong" and found[1].credit.license == "Public domain"
    assert Image.open(io.BytesIO(found[0].data)).size == (320, 240)
    assert found[4].extension == "png"  # an SVG original comes as its PNG thumbnail


def test_commons_no_results_refusals_and_odd_answers(standins):
    src = CommonsSource(standins.commons_url, 5)
    standins.state.commons = "none"  # the API leaves "query" out when nothing matched
    assert src.find(req()) == []
    standins.state.commons = "error"
    with pytest.raises(SourceError, match="refused the search: badvalue"):
        src.find(req())
    standins.state.commons = "html"
    with pytest.raises(SourceError, match="not JSON"):
        src.find(req())
    standins.state.commons = "badimages"
    with pytest.raises(SourceError, match="HTTP 404"):
        src.find(req())


def test_commons_rate_limit_rests_the_source_and_the_others_fill_in(standins, tmp_path):
    (tmp_path / "ink_mountains.png").write_bytes(picture("lib", "PNG"))
    library = load_library(tmp_path)
    from demo_core.xcomposer.sources.local import LibrarySource

    sources = [
        LibrarySource(library),
        CommonsSource(standins.commons_url, 5),
        OpenverseSource(standins.openverse_url, 5),
    ]
    standins.state.commons = "429"
    images, problems = gather(sources, req(caption="ink mountains"))
    assert len(images) == 4 and images[0].name == "ink_mountains.png"
    assert {i.credit.source for i in images[1:]} == {"Openverse"}
    assert any("Wikimedia Commons" in p and "429" in p for p in problems)
    asked = standins.state.count("commons")
    images, problems = gather(sources, req(caption="ink mountains"))  # the next slot
    assert standins.state.count("commons") == asked  # resting: not asked again
    assert any("trying again in" in p for p in problems) and len(images) == 4


def test_retry_after_reads_seconds_and_http_dates():
    assert retry_after_seconds("120") == 120
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0  # in the past
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


# -- Openverse ----------------------------------------------------------------------------------
def test_openverse_results_thumbnails_and_licences(standins):
    found = OpenverseSource(standins.openverse_url, 5).find(req(k=3))
    ((service, q),) = standins.state.requests
    assert service == "openverse" and q["q"] == "ink painting mountains"
    assert int(q["page_size"]) <= 20 and q["mature"] == "false"
    assert len(found) == 3
    c = found[0].credit
    assert c.title == "Misty mountains, ink style" and c.author == "Lin Wei"
    assert c.license == "CC BY-SA 2.0"
    assert c.license_url == "https://creativecommons.org/licenses/by-sa/2.0/"
    assert c.page_url == "https://www.flickr.com/photos/linwei/5121212121"
    assert found[2].credit.license == "CC0 1.0"
    assert license_name("pdm", "1.0") == "Public Domain Mark 1.0"


def test_openverse_errors_read_clearly(standins):
    src = OpenverseSource(standins.openverse_url, 5)
    standins.state.openverse = "none"
    assert src.find(req()) == []
    standins.state.openverse = "400"
    with pytest.raises(SourceError, match="HTTP 400.*page_size"):
        src.find(req())
    standins.state.openverse = "429"
    with pytest.raises(SourceError, match="too many requests") as exc:
        src.find(req())
    assert exc.value.retry_after == 120
    standins.state.openverse = "html"
    with pytest.raises(SourceError, match="not JSON"):
        src.find(req())
    standins.state.openverse = "slow"
    standins.state.slow_s = 2.0
    with pytest.raises(SourceError, match="no answer within 0.5 s"):
        OpenverseSource(standins.openverse_url, 0.5).find(req())


def test_offline_machine_gives_a_message_and_no_candidates():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now: connection refused, as offline
    COOLDOWNS.clear()
    try:
        images, problems = gather([CommonsSource(f"http://127.0.0.1:{port}/w/api.php", 2)], req())
        assert images == [] and "cannot connect" in problems[0]
        source = CommonsSource("http://x", 2).label
        assert problems[0].startswith(f"{source}: ") and problems[0].count(source) == 1, problems
        assert COOLDOWNS.why_blocked("commons")  # the next slots skip it at once
    finally:
        COOLDOWNS.clear()


# -- attribution in every export format -----------------------------------------------------------
def _article_with(images) -> Article:
    article = Article.from_texts("标题：“水墨”", [f"段落{i}" for i in range(len(images))])
    for i, image in enumerate(images):
        article.set_slot(i, ImageSlot(caption=f"图{i}", candidates=[image], chosen=0))
    return article


def test_attribution_in_markdown_html_and_zip(standins):
    commons = CommonsSource(standins.commons_url, 5).find(req(k=1))[0]
    openverse = OpenverseSource(standins.openverse_url, 5).find(req(k=1))[0]
    generated = load_image(picture("gen", "PNG"), "generated-x.png")
    from dataclasses import replace

    generated = replace(generated, credit=Credit("SD-Turbo", generated=True, prompt="ink hills"))
    own = load_image(picture("own", "PNG"), "mine.png")
    article = _article_with([commons, openverse, generated, own])

    md = to_markdown(article)
    assert (
        "*[“Chinese ink painting of mountains”](<https://commons.wikimedia.org/wiki/"
        "File:Chinese_ink_painting_of_mountains.jpg>), "
        "[by Ink & Wash](<https://commons.wikimedia.org/wiki/User:Ink_%26_Wash>), "
        "[CC BY-SA 4.0](<https://creativecommons.org/licenses/by-sa/4.0>), via Wikimedia Commons*"
    ) in md
    assert "[CC BY-SA 2.0](<https://creativecommons.org/licenses/by-sa/2.0/>)" in md
    assert "*Generated image (SD-Turbo), “ink hills”*" in md
    assert md.count("\n*") == 3  # the user's own picture has no credit line

    page = to_html(article)
    assert '<a href="https://creativecommons.org/licenses/by-sa/4.0">CC BY-SA 4.0</a>' in page
    assert "by Lin Wei" in page and "Generated image (SD-Turbo)" in page

    with zipfile.ZipFile(io.BytesIO(to_zip(article))) as zf:
        credits = zf.read("CREDITS.txt").decode()
        assert zf.read("article.md").decode() == md
    lines = credits.splitlines()
    assert len(lines) == 3 and lines[0].startswith("images/01_commons-2290017.jpg: ")
    assert "CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0)" in lines[0]
    assert "Generated image (SD-Turbo)" in lines[2]


def test_metadata_cannot_inject_markup():
    evil = Credit(
        "Openverse",
        title="<script>x</script> [a](javascript:y)",
        author="*bold*",
        page_url="javascript:alert(1)",
        license="CC BY",
    )
    assert "<script>" not in evil.html() and 'href="javascript' not in evil.html()
    md = evil.markdown(markdown_text)
    assert "<script>" not in md and "\\[a\\]" in md and "(<javascript" not in md
    from demo_core.xcomposer.credit import web_link

    assert web_link("javascript:alert(1)") == "" and web_link("//x.org/a") == "https://x.org/a"


def test_library_source_credits_the_file(tmp_path):
    from demo_core.xcomposer.sources.local import LibrarySource

    (tmp_path / "river.png").write_bytes(picture("river", "PNG"))
    (tmp_path / "river.txt").write_text("a river in the mountains", encoding="utf-8")
    found = LibrarySource(load_library(tmp_path)).find(req(caption="river"))
    assert [i.name for i in found] == ["river.png"]
    assert found[0].credit.source == "Image library" and found[0].credit.title == "river.png"


def test_settings_defaults_and_overrides(studio_home: Path, monkeypatch):
    from demo_core import settings
    from demo_core.xcomposer.sources.commons import DEFAULT_URL as COMMONS
    from demo_core.xcomposer.sources.config import SourceSettings
    from demo_core.xcomposer.sources.openverse import DEFAULT_URL as OPENVERSE

    monkeypatch.delenv("DEMO_STUDIO_COMMONS_URL")
    monkeypatch.delenv("DEMO_STUDIO_OPENVERSE_URL")
    cfg = SourceSettings.load()
    assert cfg.library and cfg.commons and cfg.openverse and not cfg.custom
    assert not cfg.generate  # no real text-to-image model on this machine
    assert (cfg.commons_url, cfg.openverse_url) == (COMMONS, OPENVERSE)
    assert COMMONS == "https://commons.wikimedia.org/w/api.php"
    assert OPENVERSE == "https://api.openverse.org/v1/images/"
    settings.save(
        {
            "image_sources": {
                "commons": False,
                "generate": True,
                "generate_model": "tiny-sd",
                "openverse_url": "http://127.0.0.1:1/v1/images/",
            }
        }
    )
    cfg = SourceSettings.load()
    assert not cfg.commons and cfg.generate and cfg.openverse_url.startswith("http://127.0.0.1")
    names = [s.name for s in cfg.build(load_library(studio_home / "none"), SimpleNamespace())]
    assert names == ["library", "openverse", "generate"]


def test_a_generated_pictures_credit_is_one_line_whatever_the_prompt_holds():
    """CREDITS.txt has one line per picture: a model-written prompt with a vertical tab or
    a line break (the tiny random model writes such bytes) must not split it."""
    from demo_core.xcomposer.credit import Credit

    credit = Credit(
        source="tiny-sd", generated=True, prompt="ink\x0bpainting\nof\x1cmountains"
    )
    assert len(credit.text().splitlines()) == 1
    assert "ink painting of mountains" in credit.text()
