"""XComposer2 through the model manager and the streaming engine."""

from __future__ import annotations

import threading

import pytest
import torch
from PIL import Image

from demo_core.engine.base import CancelToken, GenerationParams
from demo_core.engine.manager import ModelManager
from demo_core.xcomposer.engine import XComposerEngine
from demo_core.xcomposer.images import ImageError, ImageInput, to_pixels
from demo_core.xcomposer.prompt import QA_PLACEHOLDER


def test_manager_serves_tiny_xcomposer_models_as_singletons(studio_home):
    mgr = ModelManager(device=torch.device("cpu"), budget_bytes=10**9)
    vl = mgr.get("tiny-xcomposer2-vl")
    assert isinstance(vl, XComposerEngine) and vl.info.is_random
    assert vl.img_size == 42 and vl.tokens_per_image == 9
    assert mgr.get("tiny-xcomposer2-vl") is vl
    comp = mgr.get("tiny-xcomposer2")
    assert comp.img_size == 28 and comp.tokens_per_image == 4
    assert (studio_home / "tiny-xcomposer2" / "pytorch_model.bin").is_file()
    assert set(mgr.loaded_keys()) == {"tiny-xcomposer2-vl", "tiny-xcomposer2"}


def test_streams_an_answer_about_an_image(vl_engine):
    img = Image.new("RGB", (64, 48), (255, 0, 0))
    gen = vl_engine.stream_interleaved(
        f"{QA_PLACEHOLDER}Describe.",
        [img],
        GenerationParams(max_new_tokens=5, do_sample=True, seed=1),
        placeholder=QA_PLACEHOLDER,
        bos="each",
    )
    deltas = list(gen)
    assert gen.error is None and gen.stats.new_tokens >= 1
    assert "".join(deltas) == gen.text
    assert gen.stats.prompt_tokens == vl_engine.prompt_length(
        vl_engine.tokenize_parts([0, "Describe."], "each")
    )


def test_same_seed_same_answer_and_image_matters(vl_engine):
    red, blue = Image.new("RGB", (40, 40), "red"), Image.new("RGB", (40, 40), "blue")
    p = GenerationParams(max_new_tokens=6, do_sample=False)

    def ask(img):
        return vl_engine.stream_interleaved(
            f"{QA_PLACEHOLDER}?", [img], p, placeholder=QA_PLACEHOLDER, bos="each"
        ).result()

    assert ask(red) == ask(red)
    assert to_pixels(red, 42).shape == (3, 42, 42)
    assert not torch.equal(to_pixels(red, 42), to_pixels(blue, 42))


def test_cancel_stops_generation(vl_engine, monkeypatch):
    # no stop token: the random model's sampled reply must still run when Stop lands
    monkeypatch.setattr(vl_engine.loaded, "stop_ids", [])
    cancel = CancelToken()
    gen = vl_engine.stream_interleaved(
        f"{QA_PLACEHOLDER}go",
        [Image.new("RGB", (30, 30))],
        GenerationParams(max_new_tokens=500, do_sample=True),
        cancel,
        placeholder=QA_PLACEHOLDER,
        bos="each",
    )
    for _ in gen:
        cancel.cancel()
    assert gen.stats.finish_reason == "cancelled" and gen.stats.new_tokens < 500


def test_bad_prompts_and_images_finish_with_clear_errors(vl_engine):
    p = GenerationParams(max_new_tokens=4)
    gen = vl_engine.stream_interleaved(
        "no placeholder", [Image.new("RGB", (9, 9))], p, placeholder=QA_PLACEHOLDER, bos="each"
    )
    list(gen)
    assert gen.stats.finish_reason == "error" and "placeholder" in str(gen.error)
    bad = ImageInput("holiday.jpg", b"\xff\xd8\xff\xe0 definitely not a jpeg")
    gen = vl_engine.stream_interleaved(
        f"{QA_PLACEHOLDER}x", [bad], p, placeholder=QA_PLACEHOLDER, bos="each"
    )
    with pytest.raises(ImageError, match="holiday.jpg"):
        gen.result()
    many = [Image.new("RGB", (9, 9))] * 200  # 200 * 9 tokens > the 1024 window
    gen = vl_engine.stream_interleaved(
        QA_PLACEHOLDER * 200, many, p, placeholder=QA_PLACEHOLDER, bos="each"
    )
    list(gen)
    assert "context window" in str(gen.error) and "fewer images" in str(gen.error)
    words = vl_engine.stream_interleaved(
        "word " * 3000, [], p, placeholder=QA_PLACEHOLDER, bos="each"
    )
    list(words)
    assert "context window" in str(words.error) and "shorter text" in str(words.error)
    assert "image" not in str(words.error)  # it said "Use fewer images" with none


def test_concurrent_requests_take_turns(vl_engine):
    p = GenerationParams(max_new_tokens=4, do_sample=False)
    img = Image.new("RGB", (20, 20), "green")
    results: list[str] = []

    def run():
        results.append(
            vl_engine.stream_interleaved(
                f"{QA_PLACEHOLDER}hi", [img], p, placeholder=QA_PLACEHOLDER, bos="each"
            ).result()
        )

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(results) == 3 and len(set(results)) == 1
    assert vl_engine.image_mask.active is None and vl_engine.image_mask.prepared is None


def test_text_engine_still_streams_after_the_input_refactor(tiny_model_dir):
    """engine/local.py now builds generate() inputs through _prompt_inputs(); the plain
    InternLM2 path must stream exactly as before."""
    from demo_core.engine.base import EngineInfo
    from demo_core.engine.local import TransformersEngine
    from demo_core.internlm2.loader import load_internlm2

    loaded = load_internlm2(tiny_model_dir)
    eng = TransformersEngine(loaded, EngineInfo("t", "t", "transformers", context_window=1024))
    gen = eng.stream_chat(
        [{"role": "user", "content": "hi"}], GenerationParams(max_new_tokens=5, do_sample=False)
    )
    text = gen.result()
    assert gen.stats.new_tokens >= 1 and text == gen.text
    ids = eng.encode(eng.render_chat([{"role": "user", "content": "hi"}]))
    with torch.no_grad():
        out = loaded.model.generate(
            input_ids=torch.tensor([ids]),
            max_new_tokens=5,
            do_sample=False,
            repetition_penalty=1.005,
        )
    want = out[0, len(ids) :].tolist()
    want = want[: next((i for i, t in enumerate(want) if t in loaded.stop_ids), len(want))]
    from demo_core.engine.streaming import IncrementalDecoder

    dec = IncrementalDecoder(
        lambda t: eng.tokenizer.decode(
            t, skip_special_tokens=False, clean_up_tokenization_spaces=False
        ),
        skip_ids=set(loaded.stop_ids) | eng._special_ids,
    )
    assert text == "".join(dec.push(t) for t in want) + dec.flush()


def test_result_after_streaming_returns_instead_of_blocking(vl_engine):
    """engine/base.py: a Generation streamed to the end can be read again (result())."""
    gen = vl_engine.stream_text("hi", GenerationParams(max_new_tokens=3, do_sample=False))
    streamed = "".join(gen)
    assert gen.result() == streamed and list(gen) == []
