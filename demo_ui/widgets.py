"""Small Streamlit widgets shared by every page."""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import streamlit as st

from demo_core import i18n
from demo_core.engine.base import SAMPLING_LIMITS, ChatEngine, EngineError, GenerationParams
from demo_core.engine.manager import GB
from demo_core.i18n import _, format_number, ngettext
from demo_core.serving import served_label, served_url
from demo_core.specs import SPECS, resolve_path
from demo_ui.classroom import follow_server_reset, presentation_toggle
from demo_ui.language import entered_through_app, language_switch, use_language
from demo_ui.navigation import leave_old_multipage_mode
from demo_ui.prefs import get_pref, set_pref
from demo_ui.resources import get_manager

PAGES_DIR = Path(__file__).resolve().parents[1] / "pages"
T = TypeVar("T")


def page_link(file: str, label: str, icon: str) -> None:
    """A link to another page; plain text if that page is not installed."""
    if (PAGES_DIR / file).exists():
        st.page_link(f"pages/{file}", label=label, icon=icon)
    else:
        st.markdown(f"{icon} {label}")


def page_header(title: str, icon: str, caption: str) -> None:
    """Title and caption of a page, given as msgids (``N_("Story chat")``) and translated
    here, after the language is set; then the sidebar's workspace and presentation-mode
    controls and the store's one-line notices.

    Every run normally starts in app.py, which sets the language and draws the menu and
    the language switch. When Streamlit ran a page file without it (see
    ``leave_old_multipage_mode``) the run is redone through app.py; a page run on its
    own (``streamlit run pages/X.py``) gets the language and the switch from here."""
    from demo_ui.workspace import store_notices, workspace_panel

    entered = entered_through_app()
    if not entered:
        leave_old_multipage_mode()  # reruns through app.py when Streamlit skipped it
    use_language()
    if not entered:
        language_switch()  # the run did not draw it (AppTest, streamlit run pages/X.py)
    title, caption = _(title), _(caption)
    st.set_page_config(page_title=f"{title} · {_('InternLM Demo Studio')}", page_icon=icon, layout="wide")
    follow_server_reset()
    with st.sidebar:
        workspace_panel()
        presentation_toggle()
    store_notices()
    st.title(f"{icon} {title}")
    st.caption(caption)


def keep(key: str, default: T, fix: Callable[[T], T] | None = None, *, saved: bool = False) -> T:
    """Value for a widget ``key`` that survives switching pages.

    Streamlit forgets a widget's state when its page is not shown; we mirror it into a
    plain session key and hand it back as the widget's starting value. ``fix`` turns a
    remembered value the widget can no longer take (a slider value outside the range,
    say) into one it can, instead of letting the widget raise.

    ``saved``: the value is also a preference of the workspace (kept in the store), so a
    reload, a restart or another device starts from it -- the sampling settings are.
    This is the one way a setting becomes a workspace preference: pass ``saved=True``.
    """
    store = f"_kept_{key}"
    if key not in st.session_state:
        start = st.session_state.get(store, default)
        if saved and store not in st.session_state:
            remembered = get_pref(key)
            start = default if remembered is None else remembered
        st.session_state[key] = start
    if fix is not None:
        value = st.session_state[key]
        fixed = fix(value)
        if type(fixed) is not type(value) or fixed != value:
            st.session_state[key] = fixed
    st.session_state[store] = st.session_state[key]
    if saved:
        set_pref(key, st.session_state[key])
    return st.session_state[key]


def _remember(key: str, saved: bool = False) -> None:
    st.session_state[f"_kept_{key}"] = st.session_state[key]
    if saved:  # the change may be the last run on this page
        set_pref(key, st.session_state[key])


def kept(key: str, default, *, saved: bool = False, fix: Callable | None = None) -> dict:
    """Widget keyword arguments for an input that survives switching pages:
    ``st.text_area("Label", **kept("my_key", "default"))``.

    :func:`keep` restores the value; the ``on_change`` mirrors a change made just before
    leaving the page (the run that would mirror it is the other page's). Pass no
    ``value=``: the value comes from the session state. ``saved``, ``fix``: see :func:`keep`."""
    keep(key, default, fix, saved=saved)
    return {"key": key, "on_change": _remember, "args": (key, saved)}


def forget(*keys: str, saved: bool = False) -> None:
    """Drop inputs and their kept copies, so they start again from their defaults
    (``saved``: their workspace preferences too)."""
    for key in keys:
        st.session_state.pop(key, None)
        st.session_state.pop(f"_kept_{key}", None)
        if saved:
            set_pref(key, None)


def pref_widget(widget, label: str, key: str, default: Any, **kwargs) -> Any:
    """A widget (``st.checkbox``, ``col.slider``...) whose value is this workspace's
    preference ``key`` (:func:`kept` with ``saved=True``): it starts from the saved value
    (``default`` the first time), so it survives other pages, reloads and other devices."""
    return widget(label, **kept(key, default, saved=True), **kwargs)


@functools.lru_cache(maxsize=64)
def _at_most(data: bytes, max_width: int) -> bytes:
    """A copy of the image no wider than ``max_width`` (PNG), for display only."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        if img.width <= max_width:
            return data
        height = max(1, round(img.height * max_width / img.width))
        small = img.convert("RGB").resize((max_width, height), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    small.save(buf, format="PNG")
    return buf.getvalue()


def show_images(
    images: Sequence,
    *,
    captions: Sequence[str] | None = None,
    width: int | str = "content",
    max_width: int | None = None,
    where=None,
) -> None:
    """Show images (``ImageInput``-like: ``.data``/``.name``, or raw bytes) and never raise.

    ``st.image`` re-encodes what it shows and raises on images it cannot convert (e.g.
    16-bit greyscale as JPEG). Images are normalised when they enter the app, but one
    stored before that, or any other surprise, must not crash every rerun of the session
    (the image is already part of a turn or an article, so it is drawn on every run):
    here a failure becomes a caption in the image's place instead.

    ``max_width``: shown at most that wide and never wider than the column (a fixed
    ``width`` overflows a phone screen): the image is scaled down to it and shown at its
    own size, which Streamlit caps at the container's width.
    """
    where = where if where is not None else st
    if not images:
        return
    datas = [getattr(i, "data", i) for i in images]
    if max_width is not None:
        try:
            datas = [_at_most(d, max_width) for d in datas]
        except Exception:  # unreadable: st.image below fails too and says so
            pass
    names = list(captions) if captions is not None else [getattr(i, "name", "") for i in images]
    try:
        where.image(
            datas if len(datas) > 1 else datas[0],
            caption=names if len(datas) > 1 else (names[0] or None),
            width=width,
        )
        return
    except Exception:  # one bad image in a list fails the whole call: show them one by one
        pass
    for data, name in zip(datas, names, strict=True):
        try:
            where.image(data, caption=name or None, width=width)
        except Exception:
            where.caption("🖼 " + _("{name} (this image cannot be shown)").format(name=name or _("image")))


def model_label(key: str) -> str:
    spec = SPECS[key]
    if spec.is_random:
        return _(spec.label)
    served = served_label(key)
    if served:
        return f"{_(spec.label)} — {served}"
    present = "" if resolve_path(key) is not None else " — " + _("not downloaded")
    return f"{spec.label}{present}"


def usable(key: str) -> bool:
    """Here to use: served over the API, loaded, weights on this machine, or generated."""
    if SPECS[key].is_random or served_url(key) is not None or get_manager().is_loaded(key):
        return True
    return resolve_path(key) is not None


def first_available(keys: Sequence[str], preferred: str) -> str:
    """The preferred model if its weights are here, else the first that is (the tiny
    random model is always "here"), so a fresh machine opens on something that works."""
    ordered = [preferred, *[k for k in keys if k != preferred and not SPECS[k].is_random]]
    for key in ordered:
        if key in keys and usable(key):
            return key
    return next((k for k in keys if SPECS[k].is_random), preferred)


def missing_model_notice(key: str) -> None:
    """Says a page's model is not here, with a link to the page that downloads it; the
    one notice every page uses (the story page had plain text, Bajie a link)."""
    st.info(_("{model} is not downloaded yet.").format(model=_(SPECS[key].label)), icon="📦")
    # short: a sidebar link does not wrap, and the notice above names the model
    page_link("5_Models.py", _("Download it on the Models page"), "⬇️")


def sentence(text: str) -> str:
    """``text`` with a capital first letter.

    Engine errors are written as clauses ("the message is too long for this model…")
    so they can follow "Could not load X:"; shown on their own they start a sentence."""
    return text[:1].upper() + text[1:]


def model_picker(prefix: str, keys: Sequence[str], default: str, label: str | None = None) -> str:
    """A selectbox of models (kept across pages); says which are missing or random."""
    wkey = f"{prefix}_model"
    key = st.selectbox(
        label or _("Model"), list(keys), format_func=model_label, **kept(wkey, first_available(keys, default))
    )
    if not usable(key):
        missing_model_notice(key)
    elif key != default and not usable(default):
        missing_model_notice(default)
    if SPECS[key].is_random:
        st.warning(
            _("Tiny random test model: its replies are noise. Use it to try the app without weights."),
            icon="🎲",
        )
    return key


# why a setting matters beyond the reply itself (shown as the slider's help)
_SAMPLING_HELP = {
    "repetition_penalty": i18n.N_(
        "At 1.0 your reply decodes together with other sessions' replies on the same model "
        "(faster when several people chat); any other value waits for the model alone."
    ),
    "num_beams": i18n.N_(
        "More than 1: beam search keeps that many candidate replies and gives the best. The "
        "reply then appears when it is done, not word by word, and waits for the model "
        "alone; Stop still works. Kept for your workspace."
    ),
}
# sampling settings saved for the workspace (the others are kept for this browser session)

def beams_note(n: int) -> str:
    """What happens to a reply decoded with ``n`` beams (shown while it runs)."""
    return ngettext(
        "Beam search: {n} step done. The text appears when the search ends (it cannot "
        "stream word by word).",
        "Beam search: {n} steps done. The text appears when the search ends (it cannot "
        "stream word by word).",
        n,
    ).format(n=n)


def step_format(step: float) -> str:
    """A slider format showing as many decimals as the step has: a repetition penalty of
    1.005 (step 0.005) was drawn as "1.00"."""
    decimals = len(f"{step:.6f}".rstrip("0").split(".")[1])
    return f"%.{max(2, decimals)}f"


def sampling_controls(prefix: str, defaults: GenerationParams | None = None) -> GenerationParams:
    """Sliders for the sampling settings, ranges from :data:`SAMPLING_LIMITS` (the same
    table the persona validator checks files against)."""
    d = defaults or GenerationParams()
    with st.expander(_("Sampling"), expanded=False):
        values = {}
        for name, limit in SAMPLING_LIMITS.items():
            wkey = f"{prefix}_{name}"
            kind = int if limit.integer else float
            keep(wkey, limit.clamp(getattr(d, name)), fix=limit.clamp, saved=True)
            values[name] = st.slider(
                _(limit.label),
                min_value=kind(limit.low),
                max_value=kind(limit.high),
                step=kind(limit.step),
                format=None if limit.integer else step_format(limit.step),
                key=wkey,
                on_change=_remember,
                args=(wkey, True),
                help=i18n._(_SAMPLING_HELP[name]) if name in _SAMPLING_HELP else None,
            )
        if st.button(_("Reset to defaults"), key=f"{prefix}_reset_sampling"):
            forget(*(f"{prefix}_{name}" for name in values), saved=True)
            st.rerun()
    return GenerationParams(**{**d.to_dict(), **values, "do_sample": values["temperature"] > 0})


def open_engine(key: str) -> tuple[ChatEngine | None, str | None]:
    """``(engine, None)``, loading the model if needed, or ``(None, why not)``.

    The reason is returned rather than shown so a caller can keep it: the chat stores it
    in the conversation, where it survives the next rerun."""
    manager = get_manager()
    seen = len(manager.notices)
    try:
        if manager.is_loaded(key):
            engine = manager.get(key)
        else:
            with st.spinner(_("Loading {model} (first use takes a while)…").format(model=_(SPECS[key].label))):
                engine = manager.get(key)
    except EngineError as exc:
        return None, sentence(str(exc))
    except Exception as exc:  # a classroom must never see a traceback for a bad model
        return None, _("Could not load {model}: {error}").format(model=SPECS[key].label, error=exc)
    for note in manager.notices[seen:]:
        st.toast(note, icon="🔁" if note.startswith(_("Unloaded {model}.").split("{")[0]) else "✅")
    return engine, None


def load_engine(key: str) -> ChatEngine | None:
    """Get (maybe load) a model, telling the user what happens; None if it failed."""
    engine, problem = open_engine(key)
    if problem:
        st.error(problem, icon="⚠️")
    return engine


def memory_line() -> str:
    m = get_manager()
    used = m.resident_bytes() / GB
    n = len(m.loaded_keys())
    loaded = ngettext("{n} model loaded", "{n} models loaded", n).format(n=n)
    budget = _("{used} / {budget} GB budget").format(
        used=format_number(used, 1), budget=format_number(m.budget_bytes / GB, 1)
    )
    return f"{m.device} · {loaded} · {budget}"
