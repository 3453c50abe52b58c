"""What the benchmarks share: their command line and the random InternLM2 they measure.

Each benchmark stays a script run from the app's folder (``.venv/bin/python
benchmarks/<name>.py``, see README.md); it puts the folder on ``sys.path`` first and then
imports this module as ``benchmarks._common``.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def arguments(description: str | None = None, **defaults: int | float) -> argparse.ArgumentParser:
    """A parser with one option per default, typed like it: ``runs=5, load_runs=3`` gives
    ``--runs`` (5) and ``--load-runs`` (3); the caller adds any other option."""
    ap = argparse.ArgumentParser(description=description)
    for name, default in defaults.items():
        ap.add_argument(f"--{name.replace('_', '-')}", type=type(default), default=default)
    return ap


def model_shape(hidden: int, layers: int, **extra) -> dict:
    """The benchmarks' InternLM2 of width ``hidden`` and ``layers`` layers: the MLP 11/4 as
    wide, heads of 64 (at least 4), 2 key/value heads, as the real models are proportioned."""
    return dict(
        hidden_size=hidden,
        intermediate_size=hidden * 11 // 4,
        num_hidden_layers=layers,
        num_attention_heads=max(4, hidden // 64),
        num_key_value_heads=2,
        **extra,
    )


def build_model(
    dest: Path, hidden: int, layers: int, *, weights_format: str = "safetensors", **extra
) -> Path:
    """A random checkpoint of :func:`model_shape` in the official layout, at ``dest``."""
    from demo_core.internlm2.tiny import build_tiny_internlm2

    shape = model_shape(hidden, layers, **extra)
    return build_tiny_internlm2(dest, weights_format=weights_format, **shape)
