"""The "How it works" panel on XComposer2's composition: the article request's real input
(text ids and each reference image's span) and the probability of every article token."""

from __future__ import annotations

from dataclasses import replace

from demo_core.engine.base import GenerationParams
from demo_core.explain.prompt_view import segments
from demo_core.xcomposer import compose as C
from demo_core.xcomposer.images import load_image
from demo_core.xcomposer.prompt import COMPOSE_PLACEHOLDER, split_interleaved
from tests.xcomposer.test_xcomposer_compose import composer  # noqa: F401
from tests.xcomposer.test_xcomposer_page import _compose, app, png_bytes  # noqa: F401

GREEDY = GenerationParams(max_new_tokens=8, do_sample=False, repetition_penalty=1.005)


def test_article_trace_is_the_real_input_with_image_spans(composer):  # noqa: F811
    refs = [load_image(png_bytes("red"), "red.png"), load_image(png_bytes("blue"), "blue.png")]
    instruction = "写一篇关于大海的短文"
    gen = composer.write(instruction, refs, replace(GREEDY, explain=True))
    gen.result()
    trace = gen.trace
    engine = composer.engine
    # token for token what the engine handed to generate(): text ids, then image spans
    text = C.article_prompt(instruction, len(refs), composer.markers)
    expected = engine.tokenize_parts(split_interleaved(text, len(refs), COMPOSE_PLACEHOLDER), "first")
    got = [p.ids if p.image is None else p.image for p in trace.parts]
    assert got == [p if isinstance(p, int) else list(p) for p in expected]
    images = [s for s in segments(trace, trace.piece) if s.role == "image"]
    n = engine.tokens_per_image
    assert [(s.image, s.image_tokens) for s in images] == [(0, n), (1, n)]
    assert trace.placeholder == COMPOSE_PLACEHOLDER
    assert trace.prompt_tokens == gen.stats.prompt_tokens
    steps = trace.token_steps()
    assert len(steps) == gen.stats.new_tokens and all(0 < s.prob <= 1 for s in steps)
    # without the panel nothing is recorded
    assert composer.write(instruction, refs, GREEDY).trace is None


def test_compose_panel_on_the_page(app):  # noqa: F811
    at = _compose(app, text_only=True)
    assert not at.exception, at.exception
    assert "hiw_xc_cmp_view" not in {s.key for s in at.get("segmented_control")}  # off
    at.sidebar.toggle(key="hiw_toggle").set_value(True).run()
    panel = [c.value for c in at.caption]
    assert any("Compose an article" in c for c in panel), panel  # not recorded before
    files = [("red.png", png_bytes("red"), "image/png")]
    at = _compose(at, files, text_only=True)
    assert not at.exception, at.exception
    captions = [c.value for c in at.caption]
    assert any("stand for 1 image" in c for c in captions), captions
    at.segmented_control(key="hiw_xc_cmp_view").set_value("Probabilities").run()
    assert not at.exception, at.exception
