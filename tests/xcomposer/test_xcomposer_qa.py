"""Image Q&A turns: placeholder placement, prompt assembly, history trimming."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from demo_core.engine.base import GenerationParams, PromptTooLong
from demo_core.xcomposer.images import ImageError, ImageInput, open_image
from demo_core.xcomposer.prompt import (
    CHAT_MARKERS,
    RELEASE_MARKERS,
    PromptFormatError,
    render_chat,
    split_interleaved,
)
from demo_core.xcomposer.qa import QATurn, ask, build_prompt, fit_history, place_images

PH = "<ImageHere>"


def png(color="red", size=(16, 16), mode="RGB") -> ImageInput:
    buf = io.BytesIO()
    Image.new(mode, size, color).save(buf, format="PNG")
    return ImageInput(f"{color}.png", buf.getvalue())


def test_place_images():
    assert place_images("What is it?", 0) == "What is it?"
    assert place_images("Compare", 2) == f"{PH}{PH}Compare"
    assert place_images(f"Is {PH} older than {PH}?", 2) == f"Is {PH} older than {PH}?"
    with pytest.raises(PromptFormatError, match="1 <ImageHere> placeholder.*2 image"):
        place_images(f"{PH} and", 2)


def test_release_prompt_is_the_original_chat_format():
    text = render_chat(f"{PH}What?", [("hi", "hello")], RELEASE_MARKERS, meta="META")
    assert text == (
        "[UNUSED_TOKEN_146]system\nMETA[UNUSED_TOKEN_145]\n"
        "[UNUSED_TOKEN_146]user\nhi[UNUSED_TOKEN_145]\n"
        "[UNUSED_TOKEN_146]assistant\nhello[UNUSED_TOKEN_145]\n"
        f"[UNUSED_TOKEN_146]user\n{PH}What?[UNUSED_TOKEN_145]\n[UNUSED_TOKEN_146]assistant\n"
    )
    assert render_chat("q", [], RELEASE_MARKERS, meta="").startswith("[UNUSED_TOKEN_146]user\n")


def test_build_prompt_keeps_images_of_all_turns_in_order():
    a, b, c = png("red"), png("blue"), png("green")
    history = [QATurn("first", [a], "ok"), QATurn("no image", [], "fine")]
    text, images = build_prompt(history, QATurn("now", [b, c]), CHAT_MARKERS, meta="")
    assert images == [a, b, c]
    parts = split_interleaved(text, 3, PH)
    assert [p for p in parts if isinstance(p, int)] == [0, 1, 2]
    assert text.index("first") > text.index(PH) and text.rindex(PH) < text.index("now")


def test_split_interleaved_edge_cases():
    assert split_interleaved(f"{PH}", 1, PH) == [0]
    assert split_interleaved(f"a{PH}{PH}b", 2, PH) == ["a", 0, 1, "b"]
    with pytest.raises(PromptFormatError):
        split_interleaved("a", 1, PH)


def test_fit_history_drops_oldest_first_and_never_the_question():
    turns = [QATurn(f"q{i}", [], "a") for i in range(4)]
    new = QATurn("new")

    def measure(kept, t):
        return 10 * (len(kept) + 1)

    kept, dropped = fit_history(turns, new, measure, window=40, reserve=5)
    assert [t.question for t in kept] == ["q2", "q3"] and dropped == 2
    with pytest.raises(PromptTooLong, match="context window"):
        fit_history(turns, new, measure, window=12, reserve=5)


def test_ask_streams_follow_ups_with_images(vl_engine):
    p = GenerationParams(max_new_tokens=4, do_sample=False)
    first = QATurn("What colour?", [png("red")])
    first.answer = ask(vl_engine, [], first, p).result()
    second = QATurn("And now?", [png("blue")])
    gen = ask(vl_engine, [first], second, p)
    gen.result()
    assert gen.error is None and gen.dropped_messages == 0
    # two images at 9 tokens each are in the prompt
    assert gen.stats.prompt_tokens > 18


def test_ask_trims_history_when_window_is_small(vl_engine):
    p = GenerationParams(max_new_tokens=200, do_sample=False)
    long_history = [QATurn("tell me " * 40, [png("red")], "words " * 40) for _ in range(6)]
    gen = ask(vl_engine, long_history, QATurn("last?", [png("blue")]), p)
    gen.result()
    assert gen.error is None and 0 < gen.dropped_messages <= 6


def test_ask_reports_placeholder_mismatch_without_touching_the_model(vl_engine):
    gen = ask(vl_engine, [], QATurn(f"{PH}{PH}two?", [png()]), GenerationParams())
    list(gen)
    assert isinstance(gen.error, PromptFormatError)


def test_corrupt_and_odd_uploads():
    with pytest.raises(ImageError, match="not an image"):
        open_image(b"hello, this is text", "notes.txt")
    with pytest.raises(ImageError, match="empty"):
        open_image(b"", "empty.png")
    data = png("red", (40, 40)).data
    with pytest.raises(ImageError, match="damaged|not an image"):
        open_image(data[: len(data) // 2], "cut.png")
    rgba = open_image(png((0, 0, 0, 0), (4, 4), "RGBA").data)
    assert rgba.mode == "RGB" and rgba.getpixel((0, 0)) == (255, 255, 255)
