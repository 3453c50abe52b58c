"""Every model the app knows: real ids, what each is for, and where its weights are.

Weights are found, never assumed: an explicit path (environment variable or settings)
wins, then the usual places a lesson machine keeps models (:mod:`demo_core.discovery`).
The tiny random model is generated on demand so the app is usable with no weights.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from demo_core import settings
from demo_core.i18n import N_, format_number


@dataclass(frozen=True)
class ModelSpec:
    key: str
    label: str
    kind: str  # "internlm2" | "internlm" (first generation) | "xcomposer2" | "xcomposer2-vl" | "text2image"
    hf_id: str | None
    modelscope_id: str | None
    approx_bytes: int  # bf16 weights, for the memory budget before the files exist
    pages: tuple[str, ...]
    description: str = ""
    is_random: bool = False
    extra: dict = field(default_factory=dict)
    openxlab_id: str | None = None  # "owner/name" on OpenXLab (download.openxlab_source)

    @property
    def env_var(self) -> str:
        return "DEMO_STUDIO_MODEL_" + re.sub(r"[^A-Z0-9]", "_", self.key.upper())

    @property
    def folder_name(self) -> str:
        return (self.hf_id or self.modelscope_id or self.key).split("/")[-1]


GB = 1024**3


def fmt_memory(n: float) -> str:
    """Memory in the unit the budget setting uses (``memory_budget_gb`` counts 1024**3
    bytes, as nvidia-smi does), so every page shows the same number for the same bytes."""
    if abs(n) >= 0.1 * GB:
        return f"{format_number(n / GB, 1)} GB"
    return f"{format_number(n / 1024**2)} MB"


def _tiny_xcomposer2(kind: str, label: str, page: str, flavour: str, ui: str) -> ModelSpec:
    """The tiny random XComposer2 of ``flavour`` (``composition`` or ``vl``), for ``page``
    (the ``ui`` of its description)."""
    return ModelSpec(
        f"tiny-{kind}",
        label,
        kind,
        None,
        None,
        3_000_000,
        (page,),
        "Generated on this machine with random weights in the official XComposer2 layout, "
        f"for trying the {ui} UI.",
        is_random=True,
        extra={
            "tiny_builder": "demo_core.xcomposer.tiny:build_tiny_xcomposer2",
            "tiny_kwargs": {"flavour": flavour},
        },
    )


SPECS: dict[str, ModelSpec] = {
    s.key: s
    for s in [
        ModelSpec(
            "internlm2-chat-1_8b",
            "InternLM2-Chat-1.8B",
            "internlm2",
            "internlm/internlm2-chat-1_8b",
            "Shanghai_AI_Laboratory/internlm2-chat-1_8b",
            int(3.8e9),
            (N_("Story chat"), N_("Bajie (base model + persona)")),
            "24 layers, hidden 2048, 16 heads / 8 kv; the lesson's story-writing model.",
            openxlab_id="OpenLMLab/internlm2-chat-1.8b",
        ),
        ModelSpec(
            "bajie-chat-mini",
            "BaJie-Chat-mini (八戒-Chat-1.8B)",
            "internlm2",
            None,
            "JimmyMa99/BaJie-Chat-mini",
            int(3.8e9),
            (N_("Bajie role-play"),),
            "Full fine-tune of InternLM2-Chat-1.8B that talks like 猪八戒.",
            extra={"openxlab_git": "JimmyMa99/BaJie-Chat-mini"},
        ),
        ModelSpec(
            "internlm2-chat-7b",
            "InternLM2-Chat-7B",
            "internlm2",
            "internlm/internlm2-chat-7b",
            "Shanghai_AI_Laboratory/internlm2-chat-7b",
            int(15.5e9),
            (N_("Data-analysis agent"),),
            "32 layers, hidden 4096, 32 heads / 8 kv; drives the Lagent agent.",
            openxlab_id="OpenLMLab/internlm2-chat-7b",
        ),
        ModelSpec(
            "internlm-xcomposer2-7b",
            "InternLM-XComposer2-7B",
            "xcomposer2",
            "internlm/internlm-xcomposer2-7b",
            "Shanghai_AI_Laboratory/internlm-xcomposer2-7b",
            int(17e9),
            (N_("XComposer2 composition"),),
            "Illustrated-article composition; 224 px images, one pickled pytorch_model.bin.",
        ),
        ModelSpec(
            "internlm-xcomposer2-vl-7b",
            "InternLM-XComposer2-VL-7B",
            "xcomposer2-vl",
            "internlm/internlm-xcomposer2-vl-7b",
            "Shanghai_AI_Laboratory/internlm-xcomposer2-vl-7b",
            int(17e9),
            (N_("XComposer2 image Q&A"),),
            "Image Q&A at 490 px.",
        ),
        ModelSpec(
            "internlm-xcomposer2-vl-1_8b",
            "InternLM-XComposer2-VL-1.8B",
            "xcomposer2-vl",
            "internlm/internlm-xcomposer2-vl-1_8b",
            "Shanghai_AI_Laboratory/internlm-xcomposer2-vl-1_8b",
            int(4.5e9),
            (N_("XComposer2 image Q&A"),),
            "Smaller image Q&A model at 490 px.",
        ),
        ModelSpec(
            "sd-turbo",
            "SD-Turbo (text-to-image)",
            "text2image",
            "stabilityai/sd-turbo",
            "AI-ModelScope/sd-turbo",
            int(2.6e9),
            (N_("XComposer2 composition (generated pictures)"),),
            "Draws a picture for an image slot's caption in one step at 512 px; fp16 weights only "
            "(~2.6 GB) are fetched. Non-commercial research licence (Stability AI).",
            extra={
                "steps": 1,
                "guidance": 0.0,
                "size": 512,
                # the single-file copy of the pipeline and the fp32 weights are not needed
                "skip_files": [
                    "sd_turbo.safetensors",
                    "*/diffusion_pytorch_model.safetensors",
                    "text_encoder/model.safetensors",
                    "*.bin",
                ],
            },
        ),
        ModelSpec(
            "tiny-internlm2",
            N_("Tiny random InternLM2 (test model, output is noise)"),
            "internlm2",
            None,
            None,
            2_000_000,
            (N_("every chat page"),),
            "Generated on this machine with random weights in the official layout, for trying the UI.",
            is_random=True,
            extra={
                "tiny_builder": "demo_core.internlm2.tiny:build_tiny_internlm2",
                "tiny_kwargs": {"max_position_embeddings": 1024},
            },
        ),
        _tiny_xcomposer2(
            "xcomposer2",
            N_("Tiny random XComposer2 (test model, output is noise)"),
            N_("XComposer2 composition"),
            "composition",
            "composition",
        ),
        _tiny_xcomposer2(
            "xcomposer2-vl",
            N_("Tiny random XComposer2-VL (test model, output is noise)"),
            N_("XComposer2 image Q&A"),
            "vl",
            "image Q&A",
        ),
        ModelSpec(
            "tiny-sd",
            N_("Tiny random text-to-image (test model, pictures are noise)"),
            "text2image",
            None,
            None,
            6_000_000,
            (N_("XComposer2 composition (generated pictures)"),),
            "Generated on this machine with random weights in the official diffusers layout, "
            "for trying picture generation.",
            is_random=True,
            extra={"tiny_builder": "demo_core.xcomposer.t2i:build_tiny_sd", "steps": 1, "guidance": 0.0},
        ),
    ]
}

from demo_core.internlm1.specs import V1_SPECS  # noqa: E402  (needs ModelSpec above)

SPECS.update({s.key: s for s in V1_SPECS})
CHAT_KINDS = ("internlm2", "internlm")
CHAT_MODELS = [k for k, s in SPECS.items() if s.kind in CHAT_KINDS]


def get_spec(key: str) -> ModelSpec:
    try:
        return SPECS[key]
    except KeyError:
        raise KeyError(f"unknown model {key!r}; known: {', '.join(SPECS)}") from None


def tiny_model_path(spec: ModelSpec) -> Path:
    """Generate a random spec's tiny model once, under the app's home folder.

    Each random spec names its builder (``extra["tiny_builder"] = "module:function"``).
    It writes into a ``.partial`` folder that is renamed only when complete, so a crash
    mid-build never leaves a folder that looks like a model."""
    import importlib
    import shutil

    from demo_core.discovery import is_complete

    path = tiny_folder(spec)
    if not is_complete(path):
        module, _, func = spec.extra["tiny_builder"].partition(":")
        build = getattr(importlib.import_module(module), func)
        tmp = path.with_name(path.name + ".partial")
        build(tmp, **spec.extra.get("tiny_kwargs", {}))
        if path.exists():
            shutil.rmtree(path)
        tmp.rename(path)
    return path


def has_config(folder: Path) -> bool:
    """A model folder's top-level description: ``config.json`` (transformers) or
    ``model_index.json`` (a diffusers pipeline)."""
    return (folder / "config.json").is_file() or (folder / "model_index.json").is_file()


def tiny_folder(spec: ModelSpec) -> Path:
    return settings.home() / spec.key


def explicit_path(spec: ModelSpec) -> Path | None:
    """A path the user set (environment first, then settings.json)."""
    raw = os.environ.get(spec.env_var) or settings.model_settings(spec.key).get("path")
    return Path(raw).expanduser() if raw else None


def resolve_path(key: str) -> Path | None:
    """Where this model's weights are on this machine, or None."""
    spec = get_spec(key)
    if spec.is_random:
        return tiny_model_path(spec)
    explicit = explicit_path(spec)
    if explicit is not None:
        return explicit if has_config(explicit) else None
    from demo_core.discovery import find_local_copy

    return find_local_copy(spec)
