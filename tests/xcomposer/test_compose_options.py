"""The original composition demo's options on the tiny random XComposer2, through the
real composer and engine: Beam Size (集束大小), LLM Only (纯文本写作) and With Meta
(使用meta指令), each against what the original does."""

from __future__ import annotations

import hashlib
import io
from dataclasses import replace

import torch
from PIL import Image

from demo_core.engine.base import GenerationParams
from demo_core.engine.streaming import IncrementalDecoder
from demo_core.xcomposer import compose as C
from demo_core.xcomposer import tasks as T
from demo_core.xcomposer.composer import Composer
from demo_core.xcomposer.engine import InterleavedPrompt
from demo_core.xcomposer.images import load_image, pixels_for
from demo_core.xcomposer.prompt import COMPOSE_META, COMPOSE_PLACEHOLDER, split_interleaved
from tests.test_beams import generate_direct

INSTRUCTION = "写一篇关于水墨画的文章"
BEAMS2 = GenerationParams(max_new_tokens=24, do_sample=False, num_beams=2)


def red_png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(buf, format="PNG")
    return buf.getvalue()


def original_prompt(text: str, engine, with_meta: bool) -> str:
    """The original's ``text2instruction``, markers spelled as this tokenizer spells them."""
    s, e = engine.markers.im_start, engine.markers.im_end
    if with_meta:
        return f"{s}system\n{COMPOSE_META}{e}\n{s}user\n{text}{e}\n{s}assistant\n"
    return f"{s}user\n{text}{e}\n{s}assistant\n"


def original_ids(engine, text: str) -> list[int]:
    """``tokenizer(text)`` of the original: the release tokenizer adds one BOS (the tiny
    test tokenizer does not add it by itself, so it is put here)."""
    return [engine.tokenizer.bos_token_id, *engine.tokenizer(text, add_special_tokens=False)["input_ids"]]


def decoded(engine, ids: list[int]) -> str:
    """The text the engine streams for ``ids`` (a random model writes lone byte tokens,
    which a one-shot decode spells differently from a streamed one)."""
    decoder = IncrementalDecoder(
        lambda t: engine.tokenizer.decode(
            t, skip_special_tokens=False, clean_up_tokenization_spaces=False
        ),
        skip_ids=set(engine.loaded.stop_ids) | engine._special_ids,
    )
    return "".join(decoder.push(t) for t in ids) + decoder.flush()


def test_two_beams_write_the_article_transformers_beam_search_writes(compose_engine):
    text = Composer(compose_engine).write(INSTRUCTION, [], BEAMS2).result()
    # the original: tokenizer(text) (BOS added) -> generate(num_beams=2)
    ids = original_ids(compose_engine, original_prompt(INSTRUCTION, compose_engine, False))
    new = generate_direct(compose_engine, BEAMS2, input_ids=torch.tensor([ids]))
    assert text == decoded(compose_engine, new)
    greedy = Composer(compose_engine).write(INSTRUCTION, [], replace(BEAMS2, num_beams=1))
    assert greedy.result() != text  # negative control: beams are not greedy here


def test_two_beams_with_a_reference_image_keep_the_image_lora(compose_engine):
    """Beam search repeats the prompt once per beam: the image mask must follow, or
    PLoRA would treat the image positions as text in every beam."""
    engine = compose_engine
    ref = load_image(red_png(), "ref.png")
    text = Composer(engine).write(INSTRUCTION, [ref], BEAMS2).result()
    prompt_text = C.article_prompt(INSTRUCTION, 1, engine.markers)
    parts = engine.tokenize_parts(split_interleaved(prompt_text, 1, COMPOSE_PLACEHOLDER), "first")
    embeds, mask = engine.embed(InterleavedPrompt(parts, pixels_for([ref.open()], engine.img_size)))
    with torch.inference_mode():
        with engine.image_mask.use(mask):
            one = engine.model(inputs_embeds=embeds).logits
            two = engine.model(inputs_embeds=embeds.expand(2, -1, -1)).logits
        plain = engine.model(inputs_embeds=embeds).logits  # no mask: PLoRA off
        assert torch.allclose(two[0], one[0], atol=1e-5) and torch.allclose(two[1], one[0], atol=1e-5)
        assert not torch.allclose(plain, one, atol=1e-3)
        with engine.image_mask.use(mask):
            new = generate_direct(engine, BEAMS2, inputs_embeds=embeds, attention_mask=torch.ones_like(mask, dtype=torch.long))
    assert text == decoded(engine, new)


def test_with_meta_prompts_are_the_originals_token_for_token(compose_engine):
    # the original's meta_instruction, its closing newline included
    assert hashlib.sha256(COMPOSE_META.encode()).hexdigest() == (
        "e3c711a3b9df3e5e2fe6d90097cf5d68bcec2aad24784a2987c01d93f4145095"
    )
    engine = compose_engine
    for with_meta in (False, True):
        composer = Composer(engine, with_meta=with_meta)
        prompts = {
            "article": C.article_prompt(INSTRUCTION, 0, composer.markers),
            "caption": C.caption_prompt(["第一段", "第二段"], 0, [], composer.markers),
            "edit": C.edit_prompt("shorten", "一段文字", "", composer.markers),
        }
        bodies = {
            "article": INSTRUCTION,
            "caption": '给定文章"<Seg0> 第一段\n<Seg1> 第二段\n" 给出适合在<Seg0>后插入的图像对应的标题。',
            "edit": "缩写以下段落：一段文字",
        }
        for name, text in prompts.items():
            ours = engine.tokenize_parts(split_interleaved(text, 0, COMPOSE_PLACEHOLDER), "first")
            suffix = C.CAPTION_ANSWER_PREFIX if name == "caption" else ""
            want = original_ids(engine, original_prompt(bodies[name], engine, with_meta) + suffix)
            assert ours == [want], (name, with_meta)
    on = Composer(engine, with_meta=True)
    off = Composer(engine)
    n_on = on._tokens(C.article_prompt(INSTRUCTION, 0, on.markers), 0)
    n_off = off._tokens(C.article_prompt(INSTRUCTION, 0, off.markers), 0)
    assert n_on > n_off + 20  # the system turn is really there
    assert on.write(INSTRUCTION, [], BEAMS2).stats.prompt_tokens == n_on


def test_text_only_writes_an_article_without_image_slots(compose_engine):
    params = GenerationParams(max_new_tokens=40, temperature=1.0, seed=8909)
    job = T.compose_job(Composer(compose_engine), INSTRUCTION, [], 2, True, params).start()
    assert job.wait(120) and job.error is None
    article = job.result
    assert article is not None and article.paragraphs
    assert article.slots == [] and all(p.image is None for p in article.paragraphs)
    assert [s.label for s in job.steps] == ["Writing the article"]  # no image step ran
    # negative control: not text only, the same article goes on to its images
    job = T.compose_job(Composer(compose_engine), INSTRUCTION, [], 2, False, params).start()
    assert job.wait(120) and job.error is None
    assert job.result.texts == article.texts and len(job.steps) > 1


def test_beams_are_the_articles_only(compose_engine):
    """The original's Beam Size is passed to the article's generate(); the image steps
    and the edits run with one beam."""
    seen: list[int] = []
    composer = Composer(compose_engine)
    real = compose_engine.stream_interleaved

    def spy(text, images, params, cancel=None, **kw):
        seen.append(params.num_beams)
        return real(text, images, params, cancel, **kw)

    composer.engine = type("Spy", (), {})()
    composer.engine.__dict__.update(
        stream_interleaved=spy,
        info=compose_engine.info,
        markers=compose_engine.markers,
        tokenize_parts=compose_engine.tokenize_parts,
        prompt_length=compose_engine.prompt_length,
    )
    params = replace(BEAMS2, max_new_tokens=8, num_beams=3)
    job = T.compose_job(composer, INSTRUCTION, [], 1, False, params).start()
    assert job.wait(120) and job.error is None
    assert seen[0] == 3 and len(seen) > 1 and set(seen[1:]) == {1}
