"""Small Streamlit widgets shared by every page."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import streamlit as st
from streamlit.errors import StreamlitAPIException

from demo_core.engine.base import SAMPLING_LIMITS, ChatEngine, EngineError, GenerationParams
from demo_core.engine.manager import GB
from demo_core.specs import SPECS, resolve_path
from demo_ui.resources import get_manager

PAGES_DIR = Path(__file__).resolve().parents[1] / "pages"
T = TypeVar("T")


def page_link(file: str, label: str, icon: str) -> None:
    """A link to another page; plain text if that page is not installed."""
    if (PAGES_DIR / file).exists():
        st.page_link(f"pages/{file}", label=label, icon=icon)
    else:
        st.markdown(f"{icon} {label}")


def nav_menu() -> None:
    """Links to every demo. When a page file is run on its own (``streamlit run
    pages/X.py``) the other pages are not part of the app, so there is no menu."""
    from demo_ui.home import DEMOS

    try:
        st.page_link("app.py", label="Home", icon="🏠")
    except StreamlitAPIException:
        return
    for file, icon, title, _ in DEMOS:
        if (PAGES_DIR / file).exists():
            st.page_link(f"pages/{file}", label=title, icon=icon)
    st.divider()


def page_header(title: str, icon: str, caption: str) -> None:
    st.set_page_config(page_title=f"{title} · InternLM Demo Studio", page_icon=icon, layout="wide")
    with st.sidebar:
        nav_menu()
    st.title(f"{icon} {title}")
    st.caption(caption)


def keep(key: str, default: T, fix: Callable[[T], T] | None = None) -> T:
    """Value for a widget ``key`` that survives switching pages.

    Streamlit forgets a widget's state when its page is not shown; we mirror it into a
    plain session key and hand it back as the widget's starting value. ``fix`` turns a
    remembered value the widget can no longer take (a slider value outside the range,
    say) into one it can, instead of letting the widget raise.
    """
    store = f"_kept_{key}"
    if key not in st.session_state:
        st.session_state[key] = st.session_state.get(store, default)
    if fix is not None:
        value = st.session_state[key]
        fixed = fix(value)
        if type(fixed) is not type(value) or fixed != value:
            st.session_state[key] = fixed
    st.session_state[store] = st.session_state[key]
    return st.session_state[key]


def _remember(key: str) -> None:
    st.session_state[f"_kept_{key}"] = st.session_state[key]


def model_label(key: str) -> str:
    spec = SPECS[key]
    if spec.is_random:
        return f"{spec.label}"
    present = "" if resolve_path(key) is not None else " — not downloaded"
    return f"{spec.label}{present}"


def first_available(keys: Sequence[str], preferred: str) -> str:
    """The preferred model if its weights are here, else the first that is (the tiny
    random model is always "here"), so a fresh machine opens on something that works."""
    ordered = [preferred, *[k for k in keys if k != preferred and not SPECS[k].is_random]]
    for key in ordered:
        if key in keys and (SPECS[key].is_random or resolve_path(key) is not None):
            return key
    return next((k for k in keys if SPECS[k].is_random), preferred)


def missing_model_notice(key: str) -> None:
    """Says a page's model is not here, with a link to the page that downloads it; the
    one notice every page uses (the story page had plain text, Bajie a link)."""
    st.info(f"{SPECS[key].label} is not downloaded yet.", icon="📦")
    # short: a sidebar link does not wrap, and the notice above names the model
    page_link("5_Models.py", "Download it on the Models page", "⬇️")


def sentence(text: str) -> str:
    """``text`` with a capital first letter.

    Engine errors are written as clauses ("the message is too long for this model…")
    so they can follow "Could not load X:"; shown on their own they start a sentence."""
    return text[:1].upper() + text[1:]


def model_picker(prefix: str, keys: Sequence[str], default: str) -> str:
    """A selectbox of models; says which are missing or random."""
    wkey = f"{prefix}_model"
    keep(wkey, first_available(keys, default))
    key = st.selectbox(
        "Model", list(keys), key=wkey, format_func=model_label, on_change=_remember, args=(wkey,)
    )
    if key != default and resolve_path(default) is None:
        missing_model_notice(default)
    if SPECS[key].is_random:
        st.warning(
            "Tiny random test model: its replies are noise. Use it to try the app without weights.",
            icon="🎲",
        )
    return key


def sampling_controls(prefix: str, defaults: GenerationParams | None = None) -> GenerationParams:
    """Sliders for the sampling settings, ranges from :data:`SAMPLING_LIMITS` (the same
    table the persona validator checks files against)."""
    d = defaults or GenerationParams()
    with st.expander("Sampling", expanded=False):
        values = {}
        for name, limit in SAMPLING_LIMITS.items():
            wkey = f"{prefix}_{name}"
            kind = int if limit.integer else float
            keep(wkey, limit.clamp(getattr(d, name)), fix=limit.clamp)
            values[name] = st.slider(
                limit.label,
                min_value=kind(limit.low),
                max_value=kind(limit.high),
                step=kind(limit.step),
                key=wkey,
                on_change=_remember,
                args=(wkey,),
            )
        if st.button("Reset to defaults", key=f"{prefix}_reset_sampling"):
            for name in values:
                st.session_state.pop(f"{prefix}_{name}", None)
                st.session_state.pop(f"_kept_{prefix}_{name}", None)
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
            with st.spinner(f"Loading {SPECS[key].label} (first use takes a while)…"):
                engine = manager.get(key)
    except EngineError as exc:
        return None, sentence(str(exc))
    except Exception as exc:  # a classroom must never see a traceback for a bad model
        return None, f"Could not load {SPECS[key].label}: {exc}"
    for note in manager.notices[seen:]:
        st.toast(note, icon="🔁" if "Unloaded" in note else "✅")
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
    return f"{m.device} · {len(m.loaded_keys())} model(s) loaded · {used:.1f} / {m.budget_bytes / GB:.1f} GB budget"
