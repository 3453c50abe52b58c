"""Streamlit pieces both XComposer2 tabs use: model choice, settings, uploads, background jobs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import streamlit as st

from demo_core.engine.base import GenerationParams
from demo_core.i18n import _, ngettext
from demo_core.jobs import REPLACED, Job
from demo_core.specs import SPECS
from demo_core.xcomposer.export import markdown_text
from demo_core.xcomposer.images import ImageError, ImageInput, load_image
from demo_ui import widgets
from demo_ui.language import fragment
from demo_ui.widgets import kept

IMAGE_TYPES = ["png", "jpg", "jpeg", "webp", "gif", "bmp"]


def model_picker(kind: str, prefix: str, label: str) -> str:
    """The shared model picker over the models of ``kind``, preferring the first real one
    that is on this machine (else the tiny random one); its choice is kept across pages."""
    options = [k for k, s in SPECS.items() if s.kind == kind]
    default = next((k for k in options if not SPECS[k].is_random), options[0])
    return widgets.model_picker(prefix, options, default, label=label)


def context_window(key: str) -> int | None:
    """The model's context window when it is loaded (no load just to ask), else None;
    the composer caps the article to what fits in any case."""
    from demo_ui.resources import get_manager

    manager = get_manager()
    if manager.is_loaded(key):
        return int(manager.get(key).info.context_window)
    return None


def sampling_controls(
    prefix: str,
    defaults: GenerationParams,
    *,
    seed: int | None = None,
    max_tokens_limit: int | None = None,
    max_beams: int = 1,
) -> GenerationParams:
    """Generation settings in an expander, defaulting to the original demo's values.

    Not the shared ``widgets.sampling_controls``: XComposer needs a greedy switch that
    keeps the temperature, a seed (composition is reproducible by design) and token limits
    typed as numbers. Every value is kept across pages like the shared ones; the beam
    size (``max_beams`` > 1 draws it: the original demos' "Beam Size (集束大小)", 1-6 in
    composition, 1-5 in the chat) is saved for the workspace."""
    with st.expander(_("Generation settings")):
        do_sample = st.checkbox(
            _("Sampling"),
            help=_("Off: always the most likely token (greedy)."),
            **kept(f"{prefix}_sample", defaults.do_sample, saved=True),
        )

        def slider(column, label: str, top: float, name: str, value: float) -> float:
            kept_value = kept(f"{prefix}_{name}", value, saved=True)
            return column.slider(label, 0.05, top, step=0.05, disabled=not do_sample, **kept_value)

        c1, c2, c3 = st.columns(3)
        temperature = slider(c1, _("Temperature"), 2.0, "temp", float(defaults.temperature))
        top_p = slider(c2, _("Top-p"), 1.0, "top_p", float(defaults.top_p))
        top_k = c3.number_input(
            _("Top-k"),
            1,
            500,
            disabled=not do_sample,
            **kept(f"{prefix}_top_k", int(defaults.top_k), saved=True),
        )
        c4, c5, c6 = st.columns(3)
        rep = c4.number_input(
            _("Repetition penalty"),
            1.0,
            2.0,
            step=0.001,
            format="%.3f",
            **kept(f"{prefix}_rep", float(defaults.repetition_penalty), saved=True),
        )
        window = max_tokens_limit
        max_tokens_limit = max_tokens_limit or 4096
        limit_key = f"{prefix}_max_new"
        max_new = c5.number_input(
            _("Max new tokens"),
            1,
            max_tokens_limit,
            step=16,
            help=_("At most {n} on this model: its context window.").format(n=window)
            if window
            else None,
            **kept(  # a value kept from a larger model is cut to this one's window
                limit_key,
                min(int(defaults.max_new_tokens), max_tokens_limit),
                saved=True,
                fix=lambda n: min(int(n), max_tokens_limit),
            ),
        )
        chosen_seed = (
            c6.number_input(_("Seed"), 1, 20000, **kept(f"{prefix}_seed", int(seed), saved=True))
            if seed is not None
            else None
        )
        beams = 1
        if max_beams > 1:
            beams = st.columns(3)[0].slider(
                _("Beam size"),
                **kept(f"{prefix}_beams", 1, saved=True),
                min_value=1,
                max_value=max_beams,
                step=1,
                help=_(
                    "As the original demo's Beam Size (集束大小): more than 1 keeps that many "
                    "candidate texts and gives the best (in composition: the article; the "
                    "image steps and edits use one). The text then appears when it is done, "
                    "not word by word; Stop still works. Saved for your workspace."
                ),
            )
    return GenerationParams(
        max_new_tokens=int(max_new),
        temperature=float(temperature),
        top_p=float(top_p),
        top_k=int(top_k),
        repetition_penalty=float(rep),
        do_sample=bool(do_sample),
        seed=int(chosen_seed) if chosen_seed is not None else None,
        num_beams=int(beams),
    )


@dataclass(frozen=True)
class KeptFile:
    """An uploaded file's name and bytes, kept after its uploader forgot it."""

    name: str
    data: bytes

    def getvalue(self) -> bytes:
        return self.data


def image_uploads(label: str, key: str, store: str, *, help: str | None = None) -> list:
    """A multi-image uploader whose files survive a visit to another page.

    Streamlit empties a file uploader whose page is not shown, and unlike other inputs it
    cannot be given its files back. So the files are mirrored under ``store``; when the
    page comes back with an empty uploader, the mirrored ones are listed as kept (with a
    button to drop them) and returned with whatever is uploaded next."""
    ss = st.session_state
    live, kept = f"_kept_{store}", f"_kept_{store}_restored"
    if key not in ss and ss.get(live):  # we come back from another page
        ss[kept] = list(ss.pop(live).values())
    files = st.file_uploader(
        label, type=IMAGE_TYPES, accept_multiple_files=True, key=key, help=help
    )
    before: dict = ss.get(live, {})
    ss[live] = {
        f.file_id: before.get(f.file_id) or KeptFile(f.name, f.getvalue()) for f in files or []
    }
    restored = ss.get(kept, [])
    if restored:
        c1, c2 = st.columns([5, 1], vertical_alignment="center")
        c1.caption(
            "📎 " + _("Kept from before you left this page:") + " " + ", ".join(f.name for f in restored)
        )
        if c2.button("✖ " + _("Remove"), key=f"{store}_drop_kept", help=_("Drop the kept files")):
            ss.pop(kept, None)
            st.rerun()
    return [*restored, *ss[live].values()]


def forget_uploads(store: str) -> None:
    """The uploads were used (e.g. sent with a question): nothing to keep any more."""
    st.session_state.pop(f"_kept_{store}", None)
    st.session_state.pop(f"_kept_{store}_restored", None)


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


@dataclass(frozen=True)
class JobSlot:
    """A tab's background job, one at a time: kept in the session under ``{prefix}_job``,
    with its Stop button ``{prefix}_stop``; ``collect`` takes a finished (or replaced)
    job's result and messages into the tab's state, so nothing it made is lost."""

    prefix: str
    collect: Callable[[Job], None]

    @property
    def key(self) -> str:
        return f"{self.prefix}_job"

    def current(self) -> Job | None:
        """The job (running or finished, not yet collected); a sign of life."""
        job = st.session_state.get(self.key)
        if job is not None:
            job.beat()
        return job

    def running(self) -> Job | None:
        """The job while it runs; a finished one is collected and the slot emptied."""
        job = self.current()
        if job is not None and job.done:
            st.session_state.pop(self.key, None)
            self.collect(job)
            return None
        return job

    def stop(self) -> None:
        """Stop the job (as replaced), wait for it, and collect its partial result."""
        old = st.session_state.pop(self.key, None)
        if old is not None:
            old.stop(REPLACED)
            old.wait(30)
            self.collect(old)

    def discard(self) -> None:
        """Stop the job without collecting it: what it makes is not wanted any more."""
        old = st.session_state.pop(self.key, None)
        if old is not None:
            old.stop()

    def start(self, job: Job) -> Job:
        """Start ``job`` here, replacing (:meth:`stop`) one still running."""
        self.stop()
        st.session_state[self.key] = job.start()
        return job

    def show(self, job: Job, *, plain: bool = False) -> None:
        """The running ``job``'s live view (:func:`show_job`) with this slot's Stop button."""
        show_job(job, f"{self.prefix}_stop", slot=self.key, plain=plain)


def stop_current(slot: str) -> None:
    """Stop's callback: stop the job that is in ``slot`` when the click arrives.

    Not the job the button was drawn for: a click can reach the server after the page
    moved on (Stop, then a new question at once, then Stop on the button still drawn),
    and a callback bound to the old, finished job did nothing -- the new answer went on
    and the next question reported it as "interrupted by a new request"."""
    job = st.session_state.get(slot)
    if job is not None:
        job.stop()


def show_job(job: Job, stop_key: str, *, slot: str, plain: bool = False) -> None:
    """The live view of the job running in ``slot``: its steps as they stream and a
    Stop button (:func:`stop_current`).

    A fragment polls the job every ``POLL_S`` seconds (each poll is a sign of life for
    the job's watchdog) and reruns the whole page once the job is over, so the result is
    collected. The first step (e.g. the article) and the current one show their text,
    the others only their label. ``plain``: show the text as text, one line per line,
    as the composition tab shows articles (not as Markdown, like a chat answer)."""

    @fragment(run_every=POLL_S)
    def live() -> None:
        job.beat()
        if job.done:
            st.rerun()
        st.button("⏹ " + _("Stop"), key=stop_key, on_click=stop_current, args=(slot,))
        if job.position:
            st.info(
                ngettext(
                    "Waiting for the model: {n} request ahead of yours…",
                    "Waiting for the model: {n} requests ahead of yours…",
                    job.position,
                ).format(n=job.position)
            )
        steps = list(job.steps)
        for n, step in enumerate(steps):
            mark = "✓" if step.done else "⏳"
            st.caption(f"{mark} {step.label}")
            if n in (0, len(steps) - 1) and step.text:
                text = markdown_text(step.text).replace("\n", "  \n") if plain else step.text
                st.markdown(text + ("" if step.done else "▌"))
            elif step.steps and not step.done:
                st.caption(widgets.beams_note(step.steps))
        if not steps:
            st.caption(f"⏳ {job.label}…")

    live()
