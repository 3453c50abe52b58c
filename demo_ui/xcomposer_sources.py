"""The composition tab's picture sources: which are on (sidebar), the local image library
(where it is, adding pictures to it), and the attribution shown under each picture.

The choices start from ``settings.json`` (``image_sources``, see
``demo_core.xcomposer.sources.config``) and are kept per user through ``demo_ui.prefs``,
so one student switching Openverse off does not switch it off for the class.
"""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from demo_core.i18n import _
from demo_core.specs import SPECS
from demo_core.xcomposer.composer import Composer
from demo_core.xcomposer.credit import Credit
from demo_core.xcomposer.export import markdown_text, safe_stem
from demo_core.xcomposer.images import ImageError, ImageInput, load_image
from demo_core.xcomposer.library import library_dir, load_library
from demo_core.xcomposer.sources.config import (
    QUERY_MODES,
    TINY_GENERATOR,
    SourceSettings,
    generator_present,
)
from demo_ui.resources import get_manager
from demo_ui.widgets import pref_widget

P = "xc_src"
GENERATORS = [k for k, s in SPECS.items() if s.kind == "text2image"]


def _pref_widget(widget, label: str, name: str, default, **kwargs):
    """A widget whose value is the user's preference ``name`` (default from settings)."""
    return pref_widget(widget, label, f"{P}_{name}", default, **kwargs)


def source_settings() -> SourceSettings:
    """The sources this user has on, drawn in the sidebar, over settings.json's defaults
    (drawn once per run; :func:`make_composer` reuses the run's answer)."""
    base = SourceSettings.load()
    with st.sidebar.expander(_("🖼 Picture sources"), expanded=False):
        lib = _pref_widget(
            st.checkbox,
            _("Image library (this machine)"),
            "library",
            base.library,
            help=_("Pictures in {folder}, matched by caption.").format(folder=library_dir()),
        )

        def online(label: str, name: str, default: bool, url: str) -> bool:
            """An openly licensed collection searched on the internet, at ``url``."""
            hint = _("Openly licensed pictures; the search phrase is sent to {url}.")
            return _pref_widget(st.checkbox, label, name, default, help=hint.format(url=url))

        commons = online(_("Wikimedia Commons (online)"), "commons", base.commons, base.commons_url)
        openverse = online(_("Openverse (online)"), "openverse", base.openverse, base.openverse_url)
        custom = base.custom
        if base.custom_search is not None:
            custom = _pref_widget(
                st.checkbox,
                _("Your image search ({url})").format(url=base.custom_search.url),
                "custom",
                base.custom,
                help=_("The caption is sent to this service (image_search in settings.json)."),
            )
        generate = _pref_widget(
            st.checkbox,
            _("Generate a picture (text-to-image model)"),
            "generate",
            base.generate,
            help=_("Drawn on this machine's GPU; nothing leaves the machine."),
        )
        model = base.generate_model if base.generate_model in GENERATORS else GENERATORS[0]
        if generate:
            model = _pref_widget(
                st.selectbox,
                _("Text-to-image model"),
                "model",
                model if generator_present(model) else TINY_GENERATOR,
                options=GENERATORS,
                format_func=lambda k: (
                    SPECS[k].label
                    + ("" if generator_present(k) or SPECS[k].is_random else _(" — not downloaded"))
                ),
            )
            if not generator_present(model) and not SPECS[model].is_random:
                st.caption(_("Download it on the Models page first."))
        query = _pref_widget(
            st.radio,
            _("Search online with"),
            "query",
            base.query,
            options=list(QUERY_MODES),
            format_func=lambda m: _(QUERY_MODES[m]),
        )
        online = [n for n, on in (("Wikimedia Commons", commons), ("Openverse", openverse)) if on]
        st.caption(
            _("Leaves this machine: the search phrase, to {where}.").format(where=", ".join(online))
            if online
            else _("Nothing leaves this machine.")
        )
    cfg = replace(
        base,
        library=lib,
        commons=commons,
        openverse=openverse,
        custom=custom,
        generate=generate,
        generate_model=model,
        query=query,
    )
    st.session_state[f"_{P}_cfg"] = cfg
    return cfg


def make_composer(engine, with_meta: bool = False) -> Composer:
    """A composer over the sources this user has on (the sidebar's choices);
    ``with_meta``: the original's "With Meta" (a system turn before every prompt)."""
    cfg = st.session_state.get(f"_{P}_cfg") or SourceSettings.load()
    seed = int(st.session_state.get("xc_cmp_seed", 8909) or 8909)
    sources = cfg.build(load_library(), get_manager(), seed)
    return Composer(engine, sources=sources, query=cfg.query, with_meta=with_meta)


def sources_summary(where) -> None:
    """One line under the compose controls: which sources are on, and the library."""
    cfg = source_settings()
    names = []
    if cfg.library:
        names.append(_("library ({n})").format(n=len(load_library())))
    names += [n for n, on in (("Commons", cfg.commons), ("Openverse", cfg.openverse)) if on]
    if cfg.custom:
        names.append(_("your search"))
    if cfg.generate:
        names.append(_("generated ({model})").format(model=SPECS[cfg.generate_model].label))
    if names:
        where.caption(
            _("Pictures from: {names} (change in the sidebar).").format(names=", ".join(names))
        )
    else:
        where.caption(_("Every picture source is off (sidebar): only uploaded images are used."))
    library_panel(where)


# -- the library ---------------------------------------------------------------------------
def add_to_library(image: ImageInput, description: str = "") -> str:
    """Save ``image`` into the library folder (never over an existing file) with an
    optional description in a same-named .txt; returns the file name."""
    folder = library_dir()
    folder.mkdir(parents=True, exist_ok=True)
    stem = safe_stem(image.name)
    path = folder / f"{stem}.{image.extension}"
    n = 2
    while path.exists():
        path = folder / f"{stem}-{n}.{image.extension}"
        n += 1
    path.write_bytes(image.data)
    if description.strip():
        path.with_suffix(".txt").write_text(description.strip() + "\n", encoding="utf-8")
    return path.name


def library_panel(where) -> None:
    """Where the library is, what is in it, and adding pictures to it."""
    folder = library_dir()
    lib = load_library()
    with where.popover(_("📁 Image library ({n})").format(n=len(lib))):
        st.caption(_("Folder on the machine that runs the app (copy the path to open it):"))
        st.code(str(folder), language=None)
        if lib.items:
            st.caption(
                ", ".join(i.path.name for i in lib.items[:30]) + (" …" if len(lib) > 30 else "")
            )
        else:
            st.caption(_("Empty. Add pictures below, or copy them into the folder."))
        files = st.file_uploader(
            _("Add pictures to the library"),
            type=["png", "jpg", "jpeg", "webp", "gif", "bmp"],
            accept_multiple_files=True,
            key=f"{P}_lib_files",
        )
        text = st.text_input(
            _("Description (matched against captions; optional)"), key=f"{P}_lib_text"
        )
        if st.button(_("Add to library"), key=f"{P}_lib_add", disabled=not files):
            added = []
            for f in files or []:
                try:
                    added.append(add_to_library(load_image(f.getvalue(), f.name), text))
                except (ImageError, OSError) as exc:
                    st.error(str(exc))
            if added:
                st.success(_("Added: {names}").format(names=", ".join(added)))


# -- attribution ----------------------------------------------------------------------------
def credit_line(credit: Credit | None) -> str:
    return credit.markdown(markdown_text) if credit is not None else ""


def show_credit(image: ImageInput | None) -> None:
    """The picture's attribution under it (source page, author, licence; or "generated")."""
    if image is not None and image.credit is not None:
        icon = "🎨" if image.credit.generated else "©"
        st.caption(f"{icon} {credit_line(image.credit)}")


def candidate_label(k: int, image: ImageInput, marks: str) -> str:
    src = image.credit.source if image.credit is not None else image.name
    if image.credit is not None and image.credit.generated:
        src = _("generated")
    return f"{marks}{chr(65 + k)} · {src}"
