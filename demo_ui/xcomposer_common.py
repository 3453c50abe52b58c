"""Streamlit pieces both XComposer2 tabs use: model choice, loading, settings, streaming."""

from __future__ import annotations

import time
from collections.abc import Sequence

import streamlit as st

from demo_core.engine.base import Generation, GenerationParams
from demo_core.specs import SPECS, resolve_path
from demo_core.xcomposer.images import ImageError, ImageInput, load_image

IMAGE_TYPES = ["png", "jpg", "jpeg", "webp", "gif", "bmp"]
RANDOM_NOTICE = (
    "**{label}** has random weights: it exists to try the page without downloading a model, "
    "and everything it writes is noise."
)


def model_options(kind: str) -> list[str]:
    return [k for k, s in SPECS.items() if s.kind == kind]


def _present(key: str) -> bool:
    try:
        return resolve_path(key) is not None
    except Exception:
        return False


def model_picker(kind: str, key: str, label: str) -> str:
    """Choose a model of ``kind``: the first real one found on disk, else the tiny one."""
    options = model_options(kind)
    present = {k: SPECS[k].is_random or _present(k) for k in options}
    real = [k for k in options if present[k] and not SPECS[k].is_random]
    default = real[0] if real else next(k for k in options if SPECS[k].is_random)
    if key not in st.session_state:
        st.session_state[key] = default

    def fmt(k: str) -> str:
        return SPECS[k].label + ("" if present[k] else " (not downloaded)")

    choice = st.selectbox(label, options, format_func=fmt, key=key)
    if SPECS[choice].is_random:
        st.warning(RANDOM_NOTICE.format(label=SPECS[choice].label), icon="🎲")
    elif not present[choice]:
        st.info(
            f"{SPECS[choice].label} is not on this machine: download it on the Models page "
            f"or set {SPECS[choice].env_var}."
        )
    return choice


def sampling_controls(
    prefix: str,
    defaults: GenerationParams,
    *,
    seed: int | None = None,
    max_tokens_limit: int = 4096,
) -> GenerationParams:
    """Generation settings in an expander, defaulting to the original demo's values."""
    with st.expander("Generation settings"):
        do_sample = st.checkbox(
            "Sampling",
            value=defaults.do_sample,
            key=f"{prefix}_sample",
            help="Off: always the most likely token (greedy).",
        )
        c1, c2, c3 = st.columns(3)
        temperature = c1.slider(
            "Temperature",
            0.05,
            2.0,
            float(defaults.temperature),
            0.05,
            key=f"{prefix}_temp",
            disabled=not do_sample,
        )
        top_p = c2.slider(
            "Top-p",
            0.05,
            1.0,
            float(defaults.top_p),
            0.05,
            key=f"{prefix}_top_p",
            disabled=not do_sample,
        )
        top_k = c3.number_input(
            "Top-k", 1, 500, int(defaults.top_k), key=f"{prefix}_top_k", disabled=not do_sample
        )
        c4, c5, c6 = st.columns(3)
        rep = c4.number_input(
            "Repetition penalty",
            1.0,
            2.0,
            float(defaults.repetition_penalty),
            0.001,
            format="%.3f",
            key=f"{prefix}_rep",
        )
        max_new = c5.number_input(
            "Max new tokens",
            1,
            max_tokens_limit,
            int(defaults.max_new_tokens),
            16,
            key=f"{prefix}_max_new",
        )
        chosen_seed = (
            c6.number_input("Seed", 1, 20000, int(seed), key=f"{prefix}_seed")
            if seed is not None
            else None
        )
    return GenerationParams(
        max_new_tokens=int(max_new),
        temperature=float(temperature),
        top_p=float(top_p),
        top_k=int(top_k),
        repetition_penalty=float(rep),
        do_sample=bool(do_sample),
        seed=int(chosen_seed) if chosen_seed is not None else None,
    )


def read_uploads(files: Sequence | None) -> tuple[list[ImageInput], list[str]]:
    """Uploaded files -> normalised images (see ``load_image``); unreadable ones become
    messages (and are not used)."""
    images: list[ImageInput] = []
    errors: list[str] = []
    for f in files or []:
        try:
            images.append(load_image(f.getvalue(), f.name))
        except ImageError as exc:
            errors.append(str(exc))
    return images, errors


def stream_to(placeholder, gen: Generation, cursor: str = "▌") -> str:
    """Show a generation as it streams (and the queue position while it waits)."""
    text = ""
    for kind, value in gen.events():
        if kind == "position":
            if value:
                placeholder.info(f"Waiting for the model: {value} request(s) ahead of yours…")
            continue
        text += value  # type: ignore[operator]
        placeholder.markdown(text + cursor)
    placeholder.markdown(text if text.strip() else "_(no text)_")
    return text


def drain(gen: Generation, timeout_s: float = 30.0) -> None:
    """Finish a generation whose viewer went away (a rerun); cancel it first if asked."""
    deadline = time.monotonic() + timeout_s
    try:
        for _ in gen.events(timeout=max(0.1, deadline - time.monotonic())):
            if time.monotonic() > deadline:
                gen.cancel()
    except Exception:  # queue.Empty: the worker is gone; keep what we have
        gen.cancel()


def stats_caption(gen: Generation) -> str:
    s = gen.stats
    speed = f", {s.tokens_per_s:.1f} tok/s" if s.tokens_per_s else ""
    return f"{s.new_tokens} tokens in {s.total_s:.1f} s{speed}"
