"""Composition prompts, parsers (with garbage answers), the article, library and export."""

from __future__ import annotations

import base64
import html
import io
import re
import zipfile

import pytest
import torch
from PIL import Image

from demo_core.engine.base import GenerationParams
from demo_core.xcomposer import compose as C
from demo_core.xcomposer.article import Article, ImageSlot, Paragraph
from demo_core.xcomposer.composer import Composer
from demo_core.xcomposer.export import to_html, to_markdown, to_zip
from demo_core.xcomposer.images import ImageInput
from demo_core.xcomposer.library import load_library, tokens
from demo_core.xcomposer.prompt import CHAT_MARKERS, RELEASE_MARKERS

M = RELEASE_MARKERS


def img(name="a.png", color="red", fmt="PNG") -> ImageInput:
    buf = io.BytesIO()
    Image.new("RGB", (12, 8), color).save(buf, format=fmt)
    return ImageInput(name, buf.getvalue())


# -- prompts ----------------------------------------------------------------------------
def test_article_prompt_puts_reference_images_first():
    assert C.article_prompt("写一篇文章", 0, M) == (
        "[UNUSED_TOKEN_146]user\n写一篇文章[UNUSED_TOKEN_145]\n[UNUSED_TOKEN_146]assistant\n"
    )
    # the original sends the instruction as typed: whitespace kept
    assert "user\n<image> <image> 写 [UNUSED_TOKEN_145]" in C.article_prompt(" 写 ", 2, M)
    with pytest.raises(C.ComposeError, match="instruction"):
        C.article_prompt("   ", 0, M)


def test_split_paragraphs():
    assert C.split_paragraphs("a\n\n  \nb\r\nc  \n") == ["a", "b", "c"]
    assert C.split_paragraphs("") == []
    assert len(C.split_paragraphs("\n".join("x" * 100))) == C.MAX_SECTIONS


def test_locate_prompt_tags_paragraphs_and_asks_for_a_count():
    p = C.locate_prompt(["one", "two"], 0, 3, M)
    assert '给定文章"<Seg0> one\n<Seg1> two\n" 根据上述文章，选择适合插入图像的3行' in p
    assert p.endswith("[UNUSED_TOKEN_146]assistant\n适合插入图像的行是")
    assert "插入图像的行[UNUSED" in C.locate_prompt(["x"], 0, C.AUTO, M)
    assert "user\n<image> <image> 给定文章" in C.locate_prompt(["x"], 2, 1, M)


def test_parse_positions_valid_unique_sorted_and_capped():
    assert C.parse_positions("<Seg3>, <Seg1>, <Seg3>, <Seg 9>", 5, 6) == [1, 3]
    assert C.parse_positions("<Seg4><Seg0><Seg2>", 5, 2) == [0, 4]  # first two named
    assert C.parse_positions("<Seg2>", 5, C.AUTO) == [2]


@pytest.mark.parametrize("garbage", ["", "随便", "<Seg>", "<Seg99>", "Seg1 Seg2"])
def test_parse_positions_falls_back_to_evenly_spread(garbage):
    assert C.parse_positions(garbage, 6, 3) == [0, 2, 4]
    assert C.parse_positions(garbage, 9, C.AUTO) == [0, 3, 6]
    assert C.parse_positions(garbage, 2, 5) == [0, 1]
    assert C.parse_positions(garbage, 0, 3) == []


def test_caption_prompt_recalls_previous_captions():
    paras = ["p0", "p1", "p2", "p3"]
    first = C.caption_prompt(paras, 1, [], M)
    assert '给定文章"<Seg0> p0\n<Seg1> p1\n<Seg2> p2\n" 给出适合在<Seg1>后插入' in first
    assert first.endswith('assistant\n标题是"')
    later = C.caption_prompt(paras, 3, [(0, "山"), (1, "水")], M)
    assert '现在<Seg0>后插入图像对应的标题是"山"， <Seg1>后插入图像对应的标题是"水"。给出' in later


@pytest.mark.parametrize(
    ("answer", "want"),
    [
        ('水墨山水" 这是', "水墨山水"),
        ("  a misty mountain\nmore", "a misty mountain"),
        ("“墨竹”", ""),
        ("", ""),
    ],
)
def test_parse_caption_with_fallback(answer, want):
    para = "水墨画是中国传统绘画。它用墨和水。"
    got = C.parse_caption(answer, para)
    assert got == (want or "水墨画是中国传统绘画。")


def test_pick_prompt_and_context_chunks():
    chunks = C.context_chunks(["a", "b", "c", "d"], [0, 2], 3)
    assert chunks == ["a\n", "b\nc\n", "d\n"]
    p = C.pick_prompt(chunks, 3, M)
    assert p.count("<image>") == 2 + 3
    assert "候选图像包括: A.<image>\nB.<image>\nC.<image>" in p and p.endswith("最合适的图是")
    with pytest.raises(C.ComposeError):
        C.pick_prompt(chunks, 0, M)


@pytest.mark.parametrize(
    ("answer", "n", "want"),
    [
        ("C", 4, 2),
        (" B.", 4, 1),
        ("：D", 4, 3),
        ("E", 4, 0),
        ("Answer is B", 4, 1),
        ("", 4, 0),
        ("我选择", 2, 0),
        ("b", 4, 0),
    ],
)
def test_parse_choice(answer, n, want):
    assert C.parse_choice(answer, n) == want


def test_edit_prompts():
    assert C.edit_prompt("shorten", "长段落", "ignored", M).count("缩写以下段落：长段落") == 1
    assert "扩写以下段落：P\n基于以下素材：more" in C.edit_prompt("expand", "P", " more ", M)
    assert "改写以下段落：P" in C.edit_prompt("rewrite", "P", "", M)
    ins = C.edit_prompt("insert_before", "P", "outline", M, before="PREV", after="NEXT")
    assert "第一段：PREV\n第二段：P\n插入段的大纲：outline" in ins
    ins = C.edit_prompt("insert_after", "P", "outline", M, before="PREV", after="NEXT")
    assert "第一段：P\n第二段：NEXT" in ins
    with pytest.raises(C.ComposeError, match="outline"):
        C.edit_prompt("insert_after", "P", "  ", M)
    with pytest.raises(C.ComposeError, match="unknown"):
        C.edit_prompt("translate", "P", "", M)
    assert C.clean_edit("a\n\nb\n") == "a b"


# -- article edits ---------------------------------------------------------------------------
def test_article_edits():
    a = Article.from_texts("t", ["p0", "p1", "p2"])
    a.set_slot(1, ImageSlot("cap", [img("x.png"), img("y.png")], 0))
    assert a.slots == [1] and a.used_names() == {"x.png"}
    a.choose(1, 1)
    assert a.paragraphs[1].image.image.name == "y.png"
    assert a.insert(1, "new", after=False) == 1 and a.texts == ["p0", "new", "p1", "p2"]
    a.insert(3, "end", after=True)
    assert a.texts[-1] == "end"
    a.replace_text(0, "  P0 ")
    assert a.texts[0] == "P0"
    a.delete(0)
    assert a.texts[0] == "new"
    a.replace_image(0, img("mine.png"))
    assert a.paragraphs[0].image.image.name == "mine.png"
    a.delete_image(1)
    assert a.slots == [0]
    with pytest.raises(IndexError):
        a.choose(2, 0)
    with pytest.raises(IndexError):
        a.delete(99)


def test_an_empty_rewrite_is_refused_not_a_silent_delete():
    """The original deleted the paragraph (and its image) when a rewrite was emptied."""
    from demo_core.xcomposer.article import EmptyText

    a = Article.from_texts("t", ["p0", "p1"])
    a.set_slot(1, ImageSlot("cap", [img("x.png")], 0))
    for empty in ("", "   \n "):
        with pytest.raises(EmptyText, match="delete it instead"):
            a.replace_text(1, empty)
        with pytest.raises(EmptyText):
            a.insert(0, empty, after=True)
    assert a.texts == ["p0", "p1"] and a.slots == [1]
    assert a.undo_label is None  # nothing happened, nothing to undo


def test_the_same_own_image_twice_is_one_candidate():
    a = Article.from_texts("t", ["p0"])
    a.set_slot(0, ImageSlot("cap", [img("x.png", "red"), img("y.png", "blue")], 0))
    for _ in range(3):  # "Use my image" pressed again and again
        a.replace_image(0, img("mine.png", "green"))
    slot = a.paragraphs[0].image
    assert [c.name for c in slot.candidates] == ["x.png", "y.png", "mine.png"]
    assert slot.chosen == 2
    a.replace_image(0, img("copy-of-y.png", "blue"))  # same picture as a candidate
    assert len(slot.candidates) == 3 and slot.chosen == 1


def test_the_last_edit_can_be_undone():
    a = Article.from_texts("t", ["p0", "p1", "p2"])
    a.set_slot(1, ImageSlot("cap", [img("x.png"), img("y.png")], 0))
    before = [(p.uid, p.text) for p in a.paragraphs]
    a.delete(1)
    assert a.undo_label == "Delete paragraph 2" and a.texts == ["p0", "p2"]
    assert a.undo() == "Delete paragraph 2"
    assert [(p.uid, p.text) for p in a.paragraphs] == before
    assert a.paragraphs[1].image.image.name == "x.png" and a.undo() is None
    a.replace_text(0, "new")
    a.choose(1, 1)  # only the last edit is kept
    a.undo()
    assert a.texts[0] == "new" and a.paragraphs[1].image.chosen == 0
    a.delete_image(1)
    a.forget_undo()  # the model changed the article since
    assert a.undo() is None and a.slots == []


# -- library --------------------------------------------------------------------------------
def test_library_matches_captions_against_names_and_sidecars(tmp_path):
    lib_dir = tmp_path / "lib"
    lib_dir.mkdir()
    for name in ("ink_bamboo_painting.png", "red-car.jpg", "mountain_river.png", "notes.txt"):
        (lib_dir / name).write_bytes(img(name).data)
    (lib_dir / "ocean.png").write_bytes(img().data)
    (lib_dir / "ocean.txt").write_text("中国水墨画 山水 waves", encoding="utf-8")
    lib = load_library(lib_dir)
    assert len(lib) == 4  # notes.txt is not an image
    assert lib.search("An ink painting of bamboo")[0][1].path.name == "ink_bamboo_painting.png"
    assert lib.search("水墨山水")[0][1].path.name == "ocean.png"
    assert [i.path.name for _, i in lib.search("car", exclude={"red-car.jpg"})] == []
    assert lib.search("zzz") == []
    assert load_library(lib_dir) is lib  # indexed once
    (lib_dir / "new_car.png").write_bytes(img().data)
    assert len(load_library(lib_dir)) == 5  # re-indexed when the folder changes
    assert "水墨" in tokens("中国水墨画") and "ink" in tokens("ink_bamboo")


# -- export ---------------------------------------------------------------------------------
def _illustrated() -> Article:
    a = Article.from_texts("中国水墨画：流动的诗意\n更多要求", ["# 第一段", "第二段 <b>", "第三段"])
    a.set_slot(0, ImageSlot("水墨 [山]", [img("山 水.png")], 0))
    a.set_slot(2, ImageSlot("jpeg", [img("photo.JPG", "blue", "JPEG")], 0))
    a.set_slot(1, ImageSlot("none chosen", [], None))
    return a


def test_markdown_zip_export():
    a = _illustrated()
    md = to_markdown(a)
    assert md.startswith("# 中国水墨画：流动的诗意\n")
    assert "\\# 第一段" in md and "![水墨 (山)](images/01_山_水.png)" in md
    assert "![jpeg](images/02_photo.jpg)" in md
    zf = zipfile.ZipFile(io.BytesIO(to_zip(a)))
    names = set(zf.namelist())
    assert {"article.md", "images/01_山_水.png", "images/02_photo.jpg"} <= names
    for ref in re.findall(r"\]\((images/[^)]+)\)", zf.read("article.md").decode()):
        assert ref in names
    assert zf.read("images/02_photo.jpg")[:2] == b"\xff\xd8"


def test_title_comes_from_the_instruction_not_its_first_line():
    from demo_core.xcomposer.export import title_of
    from demo_ui.xcomposer_compose import EXAMPLE

    def title(instruction: str) -> str:
        return title_of(Article(instruction))

    # the page's own example: the first line is the instruction, the title is quoted in it
    assert title(EXAMPLE) == "中国水墨画：流动的诗意与东方美学"
    assert title('Write an essay titled "The Sea", about 500 words') == "The Sea"
    assert title("题目：「山水之间」。要求：800字") == "山水之间"
    assert title("写一篇关于《红楼梦》的读后感") == "红楼梦"
    assert title("## My heading\nmore") == "My heading"
    long = "Write a very long article about the history of ink painting in China and Japan"
    assert title(long) == "Write a very long article about the history of ink painting…"
    assert len(title("水" * 200)) == 61
    assert title("") == "Illustrated article"
    # a quote that is material, not a title, is not taken for one
    assert title("Use this quote: “ink is water”\nand more").startswith("Use this quote")


def test_markdown_export_keeps_text_as_text():
    """Raw HTML in a paragraph went into article.md as HTML; it renders as text now, and
    so do emphasis, list and heading marks (as in the HTML export, which escapes)."""
    from markdown_it import MarkdownIt

    from demo_core.xcomposer.export import markdown_text

    texts = [
        "<script>alert(1)</script><img src=x onerror=alert(2)>",
        "# not a heading",
        "1. not a list",
        "- not a list\n=== not a rule",
        "*not em* _nor this_ `nor code` [no](link) $no math$ a|b \\ and &amp; &copy; & <",
    ]
    md = MarkdownIt("commonmark")
    for text in texts:
        rendered = md.render(markdown_text(text))
        assert "<script" not in rendered and "<img" not in rendered and "<h1" not in rendered
        assert "<em>" not in rendered and "<code>" not in rendered and "<a " not in rendered
        assert "<li>" not in rendered and "<h2" not in rendered
        shown = html.unescape(re.sub(r"<[^>]+>", "", rendered).strip())
        assert shown.replace("\n", " ") == text.replace("\n", " ")
    a = Article("## Title: <b>x</b>", [Paragraph("<b>bold?</b> # no")])
    out = to_markdown(a)
    assert out.startswith("# Title: &lt;b&gt;x&lt;/b&gt;\n") and "<b>" not in out


def test_html_export_is_self_contained():
    page = to_html(_illustrated())
    assert "&lt;b&gt;" in page and "<b>" not in page.split("<body>")[1]
    urls = re.findall(r'src="data:(image/[a-z]+);base64,([A-Za-z0-9+/=]+)"', page)
    assert [u[0] for u in urls] == ["image/png", "image/jpeg"]
    Image.open(io.BytesIO(base64.b64decode(urls[1][1]))).verify()
    assert "http" not in page


# -- the flow with the tiny composition model ------------------------------------------------
@pytest.fixture(scope="module")
def composer(tiny_compose_dir, tmp_path_factory):
    from demo_core.specs import ModelSpec
    from demo_core.xcomposer.engine import load_xcomposer_engine

    spec = ModelSpec("tiny-xcomposer2", "tiny", "xcomposer2", None, None, 1, ())
    engine = load_xcomposer_engine(spec, tiny_compose_dir, torch.device("cpu"))
    lib_dir = tmp_path_factory.mktemp("lib")
    for name, color in [("mountain.png", "green"), ("river.png", "blue"), ("city.png", "gray")]:
        (lib_dir / name).write_bytes(img(name, color).data)
    return Composer(engine, load_library(lib_dir))


FAST = GenerationParams(max_new_tokens=40, temperature=1.0, top_p=0.8, top_k=40, seed=8909)


def test_compose_flow_with_uploads(composer):
    assert composer.markers == CHAT_MARKERS
    refs = [img("u1.png", "red"), img("u2.png", "yellow"), img("u3.png", "purple")]
    gen = composer.write("写一篇关于水墨画的文章", refs, FAST)
    text = gen.result()
    assert gen.stats.prompt_tokens > 3 * composer.engine.tokens_per_image
    paragraphs = C.split_paragraphs(text) or ["fallback paragraph"]
    article = Article.from_texts("写一篇关于水墨画的文章", paragraphs + ["p2", "p3", "p4"])
    steps = list(composer.illustrate(article, refs, 2, FAST))
    assert steps[0].kind == "locate" and any(s.kind == "caption" for s in steps)
    assert all(s.gen.done for s in steps)
    assert 1 <= len(article.slots) <= 2
    chosen = [img.name for img in article.chosen_images()]
    assert len(set(chosen)) == len(chosen) and set(chosen) <= {"u1.png", "u2.png", "u3.png"}
    for i in article.slots:
        assert article.paragraphs[i].image.caption


def test_compose_flow_with_library_and_same_seed_same_article(composer):
    a = composer.write("Write about rivers", [], FAST).result()
    b = composer.write("Write about rivers", [], FAST).result()
    assert a == b  # seed 8909 fixes the article
    article = Article.from_texts("rivers", ["mountain view", "a river", "the city", "end"])
    list(composer.illustrate(article, [], 3, FAST))
    names = {img.name for img in article.chosen_images()}
    assert names and names <= {"mountain.png", "river.png", "city.png"}


def test_edit_and_cancel(composer):
    article = Article.from_texts("t", ["first", "second"])
    gen = composer.edit(article, 0, "expand", "more detail", FAST)
    assert gen.result() == gen.text
    bad = composer.edit(article, 1, "insert_after", "", FAST)
    list(bad)
    assert "outline" in str(bad.error)
    from demo_core.engine.base import CancelToken

    cancel = CancelToken()
    cancel.cancel()
    steps = list(composer.illustrate(Article.from_texts("t", ["a", "b"]), [], 1, FAST, cancel))
    assert len(steps) == 1 and steps[0].gen.stats.finish_reason == "cancelled"
