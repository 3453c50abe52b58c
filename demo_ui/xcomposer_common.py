"""Streamlit pieces both XComposer2 tabs use: model choice, settings, uploads, background jobs."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import streamlit as st

from demo_core.engine.base import GenerationParams
from demo_core.jobs import REPLACED, Job
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


POLL_S = 0.5  # how often a page showing a running job looks at it again


def session_alive_probe() -> Callable[[], bool] | None:
    """ "Is this browser session still connected?", callable from any thread, for a
    job's watchdog: a user on another page of the app is still connected (their job goes
    on), a closed or reloaded tab is not. None outside a real server (AppTest), where
    only the page's own polls count as signs of life."""
    try:
        from streamlit.runtime import Runtime, exists
        from streamlit.runtime.scriptrunner import get_script_run_ctx
    except ImportError:
        return None
    ctx = get_script_run_ctx()
    if ctx is None or not exists():
        return None
    runtime, session_id = Runtime.instance(), ctx.session_id
    return lambda: runtime.is_active_session(session_id) is True


def current_job(slot: str) -> Job | None:
    """The job in ``slot`` (running or finished, not yet collected); a sign of life."""
    job = st.session_state.get(slot)
    if job is not None:
        job.beat()
    return job


def start_job(slot: str, job: Job, collect: Callable[[Job], None]) -> Job:
    """Start ``job`` in ``slot``. A job still running there is replaced: stopped, waited
    for, and its partial result handed to ``collect`` so nothing it made is lost."""
    old = st.session_state.pop(slot, None)
    if old is not None:
        old.stop(REPLACED)
        old.wait(30)
        collect(old)
    st.session_state[slot] = job.start()
    return job


def show_job(job: Job, stop_key: str) -> None:
    """The live view of a running job: its steps as they stream and a Stop button.

    A fragment polls the job every ``POLL_S`` seconds (each poll is a sign of life for
    the job's watchdog) and reruns the whole page once the job is over, so the result is
    collected. The first step (e.g. the article) and the current one show their text,
    the others only their label."""

    @st.fragment(run_every=POLL_S)
    def live() -> None:
        job.beat()
        if job.done:
            st.rerun()
        st.button("⏹ Stop", key=stop_key, on_click=job.stop)
        if job.position:
            st.info(f"Waiting for the model: {job.position} request(s) ahead of yours…")
        steps = list(job.steps)
        for n, step in enumerate(steps):
            mark = "✓" if step.done else "⏳"
            st.caption(f"{mark} {step.label}")
            if n in (0, len(steps) - 1) and step.text:
                st.markdown(step.text + ("" if step.done else "▌"))
        if not steps:
            st.caption(f"⏳ {job.label}…")

    live()
