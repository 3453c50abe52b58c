"""The text-to-image source: the tiny random pipeline in the official diffusers layout,
loaded through the model manager, and a whole article illustrated from each source
alone and from all together (tiny XComposer2 + stand-ins for Commons and Openverse)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

from demo_core.engine.base import GenerationParams
from demo_core.engine.manager import ModelManager
from demo_core.specs import SPECS, ModelSpec
from demo_core.xcomposer import compose as C
from demo_core.xcomposer import tasks as T
from demo_core.xcomposer.article import Article
from demo_core.xcomposer.composer import Composer
from demo_core.xcomposer.library import load_library
from demo_core.xcomposer.sources.config import SourceSettings
from demo_core.xcomposer.sources.http import COOLDOWNS
from demo_core.xcomposer.t2i import build_tiny_sd, is_diffusers_folder, load_t2i
from tests.xcomposer.standins import SOURCES, StandIns, picture


@pytest.fixture(scope="module")
def tiny_sd_dir(tmp_path_factory):
    return build_tiny_sd(tmp_path_factory.mktemp("t2i") / "tiny-sd")


def test_tiny_pipeline_is_in_the_official_layout_and_draws(tiny_sd_dir):
    for f in [
        "model_index.json",
        "unet/config.json",
        "unet/diffusion_pytorch_model.safetensors",
        "vae/config.json",
        "vae/diffusion_pytorch_model.safetensors",
        "text_encoder/config.json",
        "text_encoder/model.safetensors",
        "tokenizer/vocab.json",
        "tokenizer/merges.txt",
        "tokenizer/tokenizer_config.json",
        "scheduler/scheduler_config.json",
    ]:
        assert (tiny_sd_dir / f).is_file(), f
    index = json.loads((tiny_sd_dir / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionPipeline"
    assert index["scheduler"] == ["diffusers", "EulerDiscreteScheduler"]
    assert is_diffusers_folder(tiny_sd_dir)
    spec = ModelSpec("tiny-sd", "tiny", "text2image", None, None, 1, (), extra={"steps": 1})
    engine = load_t2i(spec, tiny_sd_dir, torch.device("cpu"))
    a = engine.generate("ink mountains", 5, 1)[0]
    b = engine.generate("ink mountains", 5, 1)[0]
    assert a.size == (64, 64) and a.tobytes() == b.tobytes()  # a seed fixes the picture
    assert engine.generate("a horse", 5, 1)[0].tobytes() != a.tobytes()


def test_the_manager_loads_it_within_the_budget(studio_home):
    from demo_core import discovery

    assert SPECS["sd-turbo"].hf_id == "stabilityai/sd-turbo"
    assert SPECS["sd-turbo"].kind == SPECS["tiny-sd"].kind == "text2image"
    mgr = ModelManager(device=torch.device("cpu"), budget_bytes=10**9)
    engine = mgr.get("tiny-sd")  # generated on first use, like the other tiny models
    assert mgr.is_loaded("tiny-sd") and 0 < mgr.resident_bytes() < 10**8
    assert engine.info.backend == "diffusers" and engine.info.is_random
    assert discovery.status(SPECS["tiny-sd"]).present
    assert not discovery.status(SPECS["sd-turbo"]).present
    assert mgr.unload("tiny-sd")


def test_downloads_fetch_the_tokenizer_and_skip_duplicates():
    from demo_core.download import rules

    assert rules.is_allowed("tokenizer/merges.txt") and rules.is_allowed("tokenizer/vocab.json")
    skips = SPECS["sd-turbo"].extra["skip_files"]
    assert rules.spec_skips("sd_turbo.safetensors", skips)
    assert rules.spec_skips("unet/diffusion_pytorch_model.safetensors", skips)
    assert not rules.spec_skips("unet/diffusion_pytorch_model.fp16.safetensors", skips)
    assert not rules.spec_skips("text_encoder/model.fp16.safetensors", skips)


# -- whole articles ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def compose_engine(tiny_compose_dir):
    from demo_core.xcomposer.engine import load_xcomposer_engine

    spec = ModelSpec("tiny-xcomposer2", "tiny", "xcomposer2", None, None, 1, ())
    return load_xcomposer_engine(spec, tiny_compose_dir, torch.device("cpu"))


@pytest.fixture
def world(studio_home, tmp_path):
    """Stand-ins, a library with a few pictures, a manager that can load tiny-sd."""
    COOLDOWNS.clear()
    lib = tmp_path / "library"
    lib.mkdir()
    for name in ["mountain", "river", "city"]:
        (lib / f"{name}.png").write_bytes(picture(name, "PNG"))
    with StandIns() as s:
        yield s, load_library(lib), ModelManager(device=torch.device("cpu"), budget_bytes=10**9)
    COOLDOWNS.clear()


PARAMS = replace(GenerationParams(), max_new_tokens=8, do_sample=False, seed=8909)
@pytest.mark.parametrize("which", list(SOURCES))
def test_every_slot_gets_a_picture(compose_engine, world, which):
    standins, library, manager = world
    cfg = standins.source_settings(which)
    composer = Composer(compose_engine, sources=cfg.build(library, manager), query=cfg.query)
    article = Article.from_texts(
        "山水", ["mountain peaks", "a river", "the city", "night", "end", "x"]
    )
    job = T.illustrate_job(composer, article, [], 3, PARAMS).start()
    assert job.wait(120) and job.error is None, job.notes
    slots = [p.image for p in article.paragraphs if p.image]
    assert len(slots) == 3 and all(s.image is not None for s in slots), job.notes
    kinds = [s.label for s in job.steps]
    online = which in ("commons", "openverse", "generate", "all")
    assert any(k.startswith("Search phrase") for k in kinds) == online
    for s in slots:
        credit = s.image.credit
        assert credit is not None and credit.source
        if which == "generate":
            assert credit.generated and credit.prompt
        if which in ("commons", "openverse"):
            assert credit.license and credit.page_url.startswith("https://")
    if which == "all":
        sources = {c.credit.source for s in slots for c in s.candidates}
        assert {"Image library", "Wikimedia Commons", "Openverse"} <= sources
        assert any(c.credit.generated for s in slots for c in s.candidates)
        assert all(len(s.candidates) == 4 for s in slots)  # A/B/C/D for the model's pick
        assert all(s.picked is not None for s in slots)


def test_offline_with_only_generation_still_fills_every_slot(compose_engine, world):
    standins, library, manager = world
    dead = "http://127.0.0.1:9/"  # discard port: nothing answers, as offline
    cfg = replace(
        SourceSettings(),
        library=False,
        commons=True,
        openverse=True,
        generate=True,
        generate_model="tiny-sd",
        commons_url=dead,
        openverse_url=dead,
    )
    composer = Composer(compose_engine, sources=cfg.build(library, manager))
    article = Article.from_texts("山水", ["a", "b", "c", "d"])
    job = T.illustrate_job(composer, article, [], 2, PARAMS).start()
    assert job.wait(120) and job.error is None
    slots = [p.image for p in article.paragraphs if p.image]
    assert slots and all(s.image is not None and s.image.credit.generated for s in slots)
    warnings = [m for level, m in job.notes if level == "warning"]
    assert any("cannot connect" in m for m in warnings)
    assert len([m for m in warnings if "Wikimedia Commons" in m]) <= 2  # said once, then resting


def test_query_phrase_parsing():
    assert C.parse_query('misty ink mountains" 其他', "水墨") == "misty ink mountains"
    assert C.parse_query("山水画", "水墨山水") == "水墨山水"  # no English: the caption
    assert C.parse_query("", "cap") == "cap"
    prompt = C.query_prompt("水墨山水", C.Markers("<s>", "</s>"))
    assert prompt.endswith(C.QUERY_ANSWER_PREFIX) and "水墨山水" in prompt
