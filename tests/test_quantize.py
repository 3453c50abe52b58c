"""8-bit / 4-bit weights: the settings plumbing, and a clear refusal where the device cannot
(this CPU machine). The quantized load itself needs CUDA + bitsandbytes: GPU run only."""

from __future__ import annotations

import pytest
import torch

from demo_core import quantize, settings
from demo_core.engine.base import EngineError
from demo_core.engine.manager import GB, ModelManager


def test_modes_are_read_from_settings_values():
    assert quantize.normalise(None) is None and quantize.normalise("none") is None
    assert quantize.normalise("8bit") == quantize.normalise("int8") == "8bit"
    assert quantize.normalise("4-bit") == quantize.normalise("nf4") == "4bit"
    with pytest.raises(quantize.QuantizationUnavailable, match="unknown quantize setting"):
        quantize.normalise("3bit")


def test_cpu_refuses_with_a_clear_message():
    with pytest.raises(quantize.QuantizationUnavailable) as info:
        quantize.check("4bit", torch.device("cpu"), "InternLM2-Chat-7B")
    text = str(info.value)
    assert "InternLM2-Chat-7B" in text and "4-bit NF4" in text
    assert "needs a CUDA GPU" in text and "runs on CPU" in text and "settings.json" in text


def test_the_model_manager_refuses_a_quantized_model_on_cpu(studio_home):
    # batching off: its KV cache (counted beside the weights) is never quantized
    settings.update_model_settings("tiny-internlm2", quantize="8bit", batching=False)
    manager = ModelManager(device=torch.device("cpu"))
    # the memory budget already counts it at half the bytes
    full = ModelManager(device=torch.device("cpu"))
    settings.update_model_settings("tiny-internlm2", quantize=None)
    unquantized = full.estimate_bytes("tiny-internlm2")
    settings.update_model_settings("tiny-internlm2", quantize="8bit")
    assert manager.estimate_bytes("tiny-internlm2") == int(unquantized * 0.5)
    with pytest.raises(EngineError, match="needs a CUDA GPU"):
        manager.get("tiny-internlm2")
    assert manager.loaded_keys() == []  # nothing half-loaded stays behind
    settings.update_model_settings("tiny-internlm2", quantize=None)
    engine = manager.get("tiny-internlm2")  # full precision loads as before
    assert "quantize" not in engine.info.extra and engine.info.weight_bytes > 0


def test_the_models_page_shows_precision_and_batching(studio_home):
    from demo_core.engine.describe import engine_note

    engine = ModelManager(device=torch.device("cpu"), budget_bytes=4 * GB).get("tiny-internlm2")
    note = engine_note(engine)
    assert "of weights in float32" in note and "decode: eager" in note
    assert "sessions decode together" in note
    engine.info.extra["quantize"] = quantize.MODES["4bit"]
    assert "in 4-bit NF4 (bitsandbytes)" in engine_note(engine)


def test_xcomposer_refuses_quantize(studio_home, tmp_path):
    from demo_core.specs import get_spec
    from demo_core.xcomposer.engine import load_xcomposer_engine

    settings.update_model_settings("internlm-xcomposer2-vl-7b", quantize="4bit")
    with pytest.raises(EngineError, match="PLoRA"):
        load_xcomposer_engine(get_spec("internlm-xcomposer2-vl-7b"), tmp_path, torch.device("cpu"))


def test_linear_swap_keeps_the_head_and_counts_layers(tiny_model_dir):
    pytest.importorskip("bitsandbytes")
    from demo_core.internlm2.loader import load_internlm2

    model = load_internlm2(tiny_model_dir).model
    swapped = quantize.quantize_linears(model, "8bit")
    assert swapped == 7 * model.config.num_hidden_layers
    assert type(model.lm_head) is torch.nn.Linear
