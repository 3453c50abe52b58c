"""The "How it works" panel on XComposer2's image Q&A: image spans, tokens, runnable steps."""

from __future__ import annotations

from dataclasses import replace

from demo_core.engine.base import GenerationParams
from demo_core.explain.prompt_view import segments
from demo_core.explain.snippets import qa_snippet
from demo_core.xcomposer.images import load_image
from demo_core.xcomposer.qa import QATurn, ask
from tests.test_explain_snippets import run_snippet
from tests.xcomposer.test_xcomposer_page import _qa_ask, app, png_bytes  # noqa: F401

GREEDY = GenerationParams(max_new_tokens=8, do_sample=False, repetition_penalty=1.005)


def test_qa_trace_has_the_image_spans(vl_engine):
    turn = QATurn(
        "<ImageHere>What is it? <ImageHere>And this?",
        [
            load_image(png_bytes("red"), "red.png"),
            load_image(png_bytes("blue"), "blue.png"),
        ],
    )
    gen = ask(vl_engine, [], turn, replace(GREEDY, explain=True))
    gen.result()
    trace = gen.trace
    segs = segments(trace, trace.piece)
    images = [s for s in segs if s.role == "image"]
    assert [(s.image, s.image_tokens) for s in images] == [(0, 9), (1, 9)]
    assert trace.placeholder == "<ImageHere>"
    assert trace.prompt_tokens == gen.stats.prompt_tokens
    assert {"system", "user", "assistant"} <= {s.role for s in segs}
    assert len(trace.token_steps()) == gen.stats.new_tokens


def test_qa_snippet_gives_the_page_answer(vl_engine, tiny_vl_dir, tmp_path):
    red = tmp_path / "red.png"
    red.write_bytes(png_bytes("red"))
    turn = QATurn("What colour is it?", [load_image(red.read_bytes(), "red.png")])
    page = ask(vl_engine, [], turn, GREEDY).result()
    code = qa_snippet("tiny-xcomposer2-vl", str(tiny_vl_dir), turn.question, [str(red)], GREEDY)
    out = run_snippet(code, tmp_path, "qa.py")
    assert out.endswith(page + "\n")
    assert "<ImageHere>What colour is it?" in out


def test_qa_panel_on_the_page(app):  # noqa: F811
    app.sidebar.toggle(key="hiw_toggle").set_value(True).run()
    at = _qa_ask(app, "What colour is it?", [("red.png", png_bytes(), "image/png")])
    assert not at.exception, at.exception
    assert any("stand for 1 image" in c.value for c in at.caption), [c.value for c in at.caption]
    at.segmented_control(key="hiw_xc_qa_view").set_value("Probabilities").run()
    assert not at.exception
    at.segmented_control(key="hiw_xc_qa_view").set_value("Code").run()
    assert any("load_xcomposer_engine" in c.value and "red.png" in c.value for c in at.code)
