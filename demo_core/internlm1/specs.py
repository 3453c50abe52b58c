"""The first-generation models (the lesson's camp-1 write-ups), joined into ``SPECS``.

Kept here, not in :mod:`demo_core.specs`, so the family lives in one package; the
shared table imports this list at its end.
"""

from __future__ import annotations

from demo_core.i18n import N_
from demo_core.specs import ModelSpec

PAGES_CHAT = (N_("Story chat"), N_("Bajie (base model + persona)"), N_("Data-analysis agent (ReAct)"))

V1_SPECS: list[ModelSpec] = [
    ModelSpec(
        "internlm-chat-7b",
        "InternLM-Chat-7B (first generation)",
        "internlm",
        "internlm/internlm-chat-7b",
        "Shanghai_AI_Laboratory/internlm-chat-7b",
        int(14.5e9),
        PAGES_CHAT,
        "32 layers, hidden 4096, 32 heads, q/k/v/o biases, vocab 103168; the camp-1 story and "
        "agent model.",
        openxlab_id="OpenLMLab/InternLM-chat-7b",
        extra={"chat_format": "eoh"},
    ),
    ModelSpec(
        "internlm-7b",
        "InternLM-7B (first generation, base model)",
        "internlm",
        "internlm/internlm-7b",
        "Shanghai_AI_Laboratory/internlm-7b",
        int(14.5e9),
        PAGES_CHAT,
        "Base (not chat-tuned) model of InternLM-Chat-7B; the lesson's openxlab.model.download "
        "example.",
        openxlab_id="OpenLMLab/InternLM-7b",
        extra={"chat_format": "eoh"},
    ),
    ModelSpec(
        "internlm-chat-20b",
        "InternLM-Chat-20B (first generation)",
        "internlm",
        "internlm/internlm-chat-20b",
        "Shanghai_AI_Laboratory/internlm-chat-20b",
        int(40e9),
        PAGES_CHAT,
        "60 layers, hidden 5120, 40 heads, no biases, 4096 positions, vocab 103168.",
        openxlab_id="OpenLMLab/InternLM-chat-20b",
        extra={"chat_format": "eoh"},
    ),
    ModelSpec(
        "internlm-20b",
        "InternLM-20B (first generation, base model)",
        "internlm",
        "internlm/internlm-20b",
        "Shanghai_AI_Laboratory/internlm-20b",
        int(40e9),
        PAGES_CHAT,
        "Base model; its config.json is the lesson's huggingface_hub homework.",
        openxlab_id="OpenLMLab/InternLM-20b",
        extra={"chat_format": "eoh"},
    ),
    ModelSpec(
        "tiny-internlm",
        N_("Tiny random InternLM, first generation (test model, output is noise)"),
        "internlm",
        None,
        None,
        2_000_000,
        ("every chat page",),
        "Generated on this machine with random weights in the official v1 layout "
        "(internlm-chat-7b style), for trying the UI.",
        is_random=True,
        extra={
            "tiny_builder": "demo_core.internlm1.tiny:build_tiny_internlm1",
            "tiny_kwargs": {"release": "chat-7b", "max_position_embeddings": 1024},
            "chat_format": "eoh",
        },
    ),
]
