"""InternLM-XComposer2 without remote code: Partial-LoRA InternLM2, CLIP tower, projector.

Modules: ``config`` (what a checkpoint says), ``plora`` (image-position LoRA),
``vision`` (CLIP tower + projector), ``convert`` (official keys), ``loader``, ``images``
(uploads -> pixels), ``prompt`` (markers, interleaving), ``engine`` (streaming, manager
loaders), ``qa`` (image Q&A turns), ``compose`` (composition prompts and parsers),
``article`` (the article and its edits), ``library`` (local image search), ``export``,
``composer`` (the composition flow), ``tiny`` (random test checkpoints).
"""
