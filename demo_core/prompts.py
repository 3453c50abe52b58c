"""Default prompts of the lesson's demos."""

from demo_core.i18n import N_

INTERNLM_META = (
    "You are InternLM (书生·浦语), a helpful, honest, and harmless AI assistant developed by "
    "Shanghai AI Laboratory (上海人工智能实验室)."
)

STORY_PRESETS = [
    (N_("📖 300-character story"), "请创作一个 300 字的小故事"),
    (N_("🐉 Story in English"), "Write a 300-word story about a dragon who is afraid of the dark."),
    (N_("👋 Introduce yourself"), "你好，请介绍一下你自己"),
]
