"""Optional 8-bit / 4-bit weights for in-process models, for small GPU slices.

The lesson ran the 7B demos on a 30 % A100 slice (24 GB) and the 1.8B on 10 % (8 GB). A
per-model ``"quantize": "8bit"`` or ``"4bit"`` in ``settings.json`` loads the decoder's linear
layers through bitsandbytes (``Linear8bitLt``, LLM.int8(); ``Linear4bit``, NF4 with bf16
compute): about half / a quarter of the bf16 weight bytes. Embeddings, norms and the output
head stay in 16 bit (the head is small next to the layers and quantizing it costs quality).

The model is first assembled on the CPU by the app's own loader (the verified key mapping,
unchanged), then each ``nn.Linear`` is swapped for its bitsandbytes twin holding the same
weights, and the whole model moves to the GPU -- which is where bitsandbytes quantizes
(``Int8Params`` / ``Params4bit`` quantize on their way to CUDA). So the GPU never holds the
16-bit copy, which is the point on a small slice.

bitsandbytes quantizes for CUDA only; on any other device the load is refused with a message
that says so (never a silent full-precision load). It is an optional dependency
(``pip install -e ".[quant]"``); a GPU machine without it gets a message naming the command.
"""

from __future__ import annotations

import importlib.util

import torch
from torch import nn

from demo_core.engine.base import EngineError
from demo_core.i18n import N_, _

MODES = {"8bit": N_("8-bit (bitsandbytes LLM.int8)"), "4bit": N_("4-bit NF4 (bitsandbytes)")}
# bytes per weight against bf16, for the memory budget before loading
SHRINK = {"8bit": 0.5, "4bit": 0.28}  # NF4 packs 2 per byte, plus absmax scales


class QuantizationUnavailable(EngineError):
    """Quantized loading was asked for where it cannot be done."""


def normalise(mode: object) -> str | None:
    """The settings value as a mode (None: full precision); unknown values are refused."""
    if mode in (None, False, "", "none", "off"):
        return None
    text = str(mode).lower().replace("-", "").replace("_", "")
    aliases = {
        "8bit": "8bit",
        "int8": "8bit",
        "8": "8bit",
        "4bit": "4bit",
        "nf4": "4bit",
        "4": "4bit",
    }
    if text not in aliases:
        raise QuantizationUnavailable(
            _('unknown quantize setting {mode}: use "8bit", "4bit" or leave it out').format(
                mode=repr(mode)
            )
        )
    return aliases[text]


def check(mode: str, device: torch.device, label: str) -> None:
    """Raise a clear :class:`QuantizationUnavailable` unless ``mode`` can load on ``device``."""
    if device.type != "cuda":
        raise QuantizationUnavailable(
            _(
                "{label} is set to load its weights in {mode}, which needs a CUDA GPU; this "
                'app runs on {device}. Remove "quantize" for this model in settings.json (or '
                'set it to "none") to load it in full precision.'
            ).format(label=label, mode=_(MODES[mode]), device=device.type.upper())
        )
    if importlib.util.find_spec("bitsandbytes") is None:
        raise QuantizationUnavailable(
            _(
                "{label} is set to load in {mode}, but bitsandbytes is not installed: run "
                '`.venv/bin/pip install -e ".[quant]"` (or `pip install bitsandbytes`) and '
                "load the model again."
            ).format(label=label, mode=_(MODES[mode]))
        )


def _twin(linear: nn.Linear, mode: str) -> nn.Module:
    import bitsandbytes as bnb

    bias = linear.bias is not None
    weight = linear.weight.data.to(torch.float16 if mode == "8bit" else torch.bfloat16)
    if mode == "8bit":
        q = bnb.nn.Linear8bitLt(
            linear.in_features, linear.out_features, bias=bias, has_fp16_weights=False
        )
        q.weight = bnb.nn.Int8Params(weight, requires_grad=False, has_fp16_weights=False)
    else:
        q = bnb.nn.Linear4bit(
            linear.in_features,
            linear.out_features,
            bias=bias,
            compute_dtype=torch.bfloat16,
            quant_type="nf4",
        )
        q.weight = bnb.nn.Params4bit(weight, requires_grad=False, quant_type="nf4")
    if bias:
        q.bias = nn.Parameter(linear.bias.data.clone(), requires_grad=False)
    return q


def quantize_linears(model: nn.Module, mode: str, skip: tuple[str, ...] = ("lm_head",)) -> int:
    """Swap every ``nn.Linear`` (but ``skip``) of a CPU model for its bitsandbytes twin;
    the quantization itself happens when the model is then moved to CUDA. Returns how many
    layers were swapped."""
    swapped = 0
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            full = f"{name}.{child_name}" if name else child_name
            if type(child) is nn.Linear and not any(full.endswith(s) for s in skip):
                setattr(module, child_name, _twin(child, mode))
                swapped += 1
    return swapped


def resident_bytes(model: nn.Module) -> int:
    """Bytes the model's tensors take where they live (packed weights count as packed)."""
    total = 0
    for t in [*model.parameters(), *model.buffers()]:
        total += t.numel() * t.element_size()
        state = getattr(t, "quant_state", None)
        absmax = getattr(state, "absmax", None)
        if isinstance(absmax, torch.Tensor):
            total += absmax.numel() * absmax.element_size()
    return total
