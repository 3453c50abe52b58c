"""The composition tab: instruction -> streamed article -> images -> edits -> export.

Everything the model produced is stored in session state as soon as it exists (the
article right after it is written, each image slot as it is filled), so pressing Stop or
touching a widget mid-way keeps the work done so far. Edits are proposals: the streamed
result is shown for the user to accept (optionally after touching it up) or discard.
"""

from __future__ import annotations

import streamlit as st

from demo_core.engine.base import CancelToken, EngineError, GenerationParams
from demo_core.xcomposer import compose as C
from demo_core.xcomposer.article import Article, ImageSlot, Paragraph
from demo_core.xcomposer.composer import Composer
from demo_core.xcomposer.export import to_html, to_zip
from demo_core.xcomposer.library import library_dir, load_library
from demo_core.xcomposer.online import OnlineImageSearch
from demo_ui.widgets import load_engine, show_images
from demo_ui.xcomposer_common import (
    IMAGE_TYPES,
    drain,
    model_picker,
    read_uploads,
    sampling_controls,
    stream_to,
)

P = "xc_cmp"
EXAMPLE = (
    "根据以下标题：“中国水墨画：流动的诗意与东方美学”，创作长文章，字数不少于800字。请结合以下文本素材：\n"
    "“水墨画是由水和墨调配成不同深浅的墨色所画出的画，是绘画的一种形式，更多时候，水墨画被视为中国传统绘画，"
    "也就是国画的代表。基本的水墨画，仅有水与墨，黑与白色，但进阶的水墨画，也有工笔花鸟画，色彩缤纷。”"
)
NUM_CHOICES = [C.AUTO, *range(1, C.MAX_IMAGES + 1)]


def _article() -> Article | None:
    return st.session_state.get(f"{P}_article")


def _flash(kind: str, msg: str) -> None:
    st.session_state.setdefault(f"{P}_flash", []).append((kind, msg))


def _show_flashes() -> None:
    for kind, msg in st.session_state.pop(f"{P}_flash", []):
        getattr(st, kind)(msg)


def _settle_pending() -> None:
    pending = st.session_state.pop(f"{P}_pending", None)
    if pending is None:
        return
    gen = pending["gen"]
    gen.cancel()
    drain(gen)
    if pending["kind"] == "write" and gen.text.strip():
        texts = C.split_paragraphs(gen.text)
        st.session_state[f"{P}_article"] = Article.from_texts(pending["instruction"], texts)
        _flash("warning", "Stopped: the article below is what was written until then.")
    elif pending["kind"] == "illustrate":
        _flash("warning", "Stopped: the images chosen so far are kept.")


def _composer(key: str) -> Composer | None:
    engine = load_engine(key)
    if engine is None:
        return None
    online = OnlineImageSearch.from_settings() if st.session_state.get(f"{P}_online") else None
    return Composer(engine, load_library(), online)


def _stop_button(cancel: CancelToken, key: str) -> None:
    st.button("⏹ Stop", key=key, on_click=cancel.cancel)


def _run_illustrate(composer: Composer, article: Article, refs, image_num, params, cancel) -> None:
    with st.status("Adding images…", expanded=True) as status:
        try:
            for step in composer.illustrate(article, refs, image_num, params, cancel):
                st.session_state[f"{P}_pending"] = {"kind": "illustrate", "gen": step.gen}
                st.write(step.label)
                stream_to(st.empty(), step.gen)
        except EngineError as exc:
            _flash("error", f"Adding images stopped: {exc}")
        finally:
            st.session_state.pop(f"{P}_pending", None)
        for note in dict.fromkeys(composer.notices):  # once each
            _flash("warning", note)
        missing = [i + 1 for i, p in enumerate(article.paragraphs) if p.image and not p.image.image]
        if missing:
            _flash(
                "info",
                f"No candidate image was found for paragraph(s) {', '.join(map(str, missing))}: "
                f"upload images, or put images (with captions in same-named .txt files) in "
                f"{library_dir()}.",
            )
        status.update(label="Images added", state="complete")


def _compose(
    key: str, instruction: str, files, image_num, text_only: bool, params: GenerationParams
) -> None:
    if not instruction.strip():
        st.warning("Write an instruction first: a title, an outline or some material.")
        return
    refs, errors = read_uploads(files)
    for msg in errors:
        st.error(f"{msg}. Remove it from the reference images and try again.")
    if errors:
        return
    composer = _composer(key)
    if composer is None:
        return
    if refs and (image_num == C.AUTO or int(image_num) > len(refs)):
        image_num = len(refs)  # as the original: no more images than were uploaded
    cancel = CancelToken()
    _stop_button(cancel, f"{P}_stop")
    gen = composer.write(instruction, refs, params, cancel)
    st.session_state[f"{P}_pending"] = {"kind": "write", "gen": gen, "instruction": instruction}
    text = stream_to(st.empty(), gen)
    st.session_state.pop(f"{P}_pending", None)
    if gen.error is not None:
        st.error(str(gen.error))
        return
    texts = C.split_paragraphs(text)
    if not texts:
        st.warning("The model wrote nothing usable; try again with another seed.")
        return
    article = Article.from_texts(instruction, texts)
    st.session_state[f"{P}_article"] = article
    st.session_state[f"{P}_refs"] = refs
    if not text_only and not cancel.cancelled:
        _run_illustrate(composer, article, refs, image_num, params, cancel)
    st.rerun()


# -- per-paragraph and per-image editing -------------------------------------------------
def _edit_panel(key: str, article: Article, i: int, params: GenerationParams) -> None:
    p = article.paragraphs[i]
    u = p.uid
    kind = st.radio(
        "Change", C.EDIT_KINDS, format_func=C.EDIT_LABELS.get, horizontal=True, key=f"{P}_kind_{u}"
    )
    instruction = st.text_input(
        "Material or outline (needed to insert a paragraph)",
        key=f"{P}_instr_{u}",
        disabled=kind == "shorten",
    )
    proposals = st.session_state.setdefault(f"{P}_proposals", {})
    if st.button("✍️ Write it", key=f"{P}_run_{u}"):
        if kind in ("insert_before", "insert_after") and not instruction.strip():
            st.warning("Write an outline for the new paragraph first.")
        else:
            composer = _composer(key)
            if composer is not None:
                cancel = CancelToken()
                _stop_button(cancel, f"{P}_stop_edit_{u}")
                gen = composer.edit(article, i, kind, instruction, params, cancel)
                text = stream_to(st.empty(), gen)
                if gen.error is not None:
                    st.error(str(gen.error))
                elif C.clean_edit(text):
                    proposals[u] = (kind, C.clean_edit(text))
                    st.session_state[f"{P}_prop_{u}"] = C.clean_edit(text)
                    st.rerun()
                else:
                    st.warning("The model returned no text; try again.")
    if u in proposals:
        pkind, _ = proposals[u]
        st.text_area(
            f"Proposed ({C.EDIT_LABELS[pkind].lower()}); edit before accepting",
            key=f"{P}_prop_{u}",
            height=120,
        )
        c1, c2 = st.columns(2)
        if c1.button("✅ Accept", key=f"{P}_accept_{u}"):
            new_text = st.session_state.get(f"{P}_prop_{u}", "")
            proposals.pop(u)
            if pkind in ("insert_before", "insert_after"):
                if new_text.strip():
                    article.insert(i, new_text, after=pkind == "insert_after")
            else:
                article.replace_text(i, new_text)
            st.rerun()
        if c2.button("✖ Discard", key=f"{P}_discard_{u}"):
            proposals.pop(u)
            st.rerun()
    if st.button("🗑 Delete this paragraph", key=f"{P}_delp_{u}"):
        article.delete(i)
        st.rerun()


def _image_panel(key: str, article: Article, i: int, params: GenerationParams) -> None:
    p = article.paragraphs[i]
    u = p.uid
    slot = p.image
    refs = st.session_state.get(f"{P}_refs", [])
    if slot is None:
        if st.button("🖼 Add an image below", key=f"{P}_addimg_{u}"):
            composer = _composer(key)
            if composer is not None:
                gen = composer.caption_for(article, i, params)
                answer = stream_to(st.empty(), gen)
                if gen.error is not None:
                    st.error(str(gen.error))
                    return
                article.set_slot(i, ImageSlot(caption=C.parse_caption(answer, p.text)))
                _fill(composer, article, i, refs, params)
        return
    caption = st.text_input(
        "Caption (used to search for images)", value=slot.caption, key=f"{P}_cap_{u}"
    )
    c1, c2 = st.columns(2)
    if c1.button("🔎 Re-pick with this caption", key=f"{P}_repick_{u}"):
        composer = _composer(key)
        if composer is not None:
            slot.caption = caption.strip() or slot.caption
            _fill(composer, article, i, refs, params)
    if c2.button("🗑 Delete image", key=f"{P}_delimg_{u}"):
        article.delete_image(i)
        st.rerun()
    if len(slot.candidates) > 1:
        st.caption("Candidates (the model's pick is highlighted in the article):")
        cols = st.columns(min(4, len(slot.candidates)))
        for k, cand in enumerate(slot.candidates):
            col = cols[k % len(cols)]
            show_images([cand], captions=[f"{chr(65 + k)} · {cand.name}"], width=120, where=col)
            if col.button("Use", key=f"{P}_use_{u}_{k}", disabled=k == slot.chosen):
                article.choose(i, k)
                st.rerun()
    mine = st.file_uploader("Replace with my own image", type=IMAGE_TYPES, key=f"{P}_rep_{u}")
    if mine is not None and st.button("Use my image", key=f"{P}_userep_{u}"):
        images, errors = read_uploads([mine])
        if errors:
            st.error(errors[0])
        else:
            article.replace_image(i, images[0])
            st.rerun()


def _fill(composer: Composer, article: Article, i: int, refs, params) -> None:
    try:
        for step in composer.fill_slot(article, i, refs, params):
            stream_to(st.empty(), step.gen)
    except EngineError as exc:
        st.error(str(exc))
        return
    slot = article.paragraphs[i].image
    if slot is not None and not slot.image:
        _flash(
            "info",
            f"No image matched “{slot.caption}”: upload one below the paragraph, "
            f"or add images to {library_dir()}.",
        )
    st.rerun()


def _show_paragraph(key: str, article: Article, i: int, p: Paragraph, params) -> None:
    st.markdown(p.text)
    if p.image is not None:
        if p.image.image is not None:
            show_images([p.image.image], captions=[p.image.caption], width=480)
        else:
            st.caption(f"🖼 {p.image.caption} (no image yet)")
    with st.expander(f"✏️ Edit paragraph {i + 1}"):
        _edit_panel(key, article, i, params)
        st.divider()
        _image_panel(key, article, i, params)


def _export(article: Article) -> None:
    c1, c2 = st.columns(2)
    c1.download_button(
        "⬇ Markdown + images (.zip)",
        data=to_zip(article),
        file_name="article.zip",
        mime="application/zip",
        key=f"{P}_zip",
    )
    c2.download_button(
        "⬇ Single HTML page",
        data=to_html(article).encode("utf-8"),
        file_name="article.html",
        mime="text/html",
        key=f"{P}_html",
    )


def render_compose_tab() -> None:
    ss = st.session_state
    key = model_picker("xcomposer2", f"{P}_model", "Composition model")
    ss.setdefault(f"{P}_instruction", EXAMPLE)
    instruction = st.text_area(
        "Instruction: a title, an outline, material to use", key=f"{P}_instruction", height=140
    )
    files = st.file_uploader(
        "Reference images (optional; also offered as illustrations)",
        type=IMAGE_TYPES,
        accept_multiple_files=True,
        key=f"{P}_files",
    )
    c1, c2, c3 = st.columns([1, 1, 2])
    ss.setdefault(f"{P}_num", C.DEFAULT_IMAGES)
    image_num = c1.selectbox(
        "Number of images",
        NUM_CHOICES,
        key=f"{P}_num",
        format_func=lambda v: "Automatic" if v == C.AUTO else str(v),
    )
    text_only = c2.checkbox(
        "Text only", key=f"{P}_text_only", help="Write the article without looking for images."
    )
    lib = load_library()
    c3.caption(
        f"Image library: {len(lib)} image(s) in `{library_dir()}`. Captions are matched "
        "against file names and same-named .txt files."
    )
    source = OnlineImageSearch.from_settings()
    c3.checkbox(
        "Also search online" + (f" ({source.url})" if source else ""),
        key=f"{P}_online",
        value=False,
        disabled=source is None,
        help="Off by default: composition works offline. To enable, set "
        '"image_search": {"url": ...} in settings.json.',
    )
    params = sampling_controls(P, C.ARTICLE_DEFAULTS, seed=C.DEFAULT_SEED)
    _settle_pending()
    go = st.button("📝 Compose", type="primary", key=f"{P}_go")
    _show_flashes()
    if go:
        _compose(key, instruction, files, image_num, text_only, params)

    article = _article()
    if article is None:
        return
    st.divider()
    if not article.paragraphs:
        st.info("The article is empty.")
        return
    if not text_only and not any(p.image for p in article.paragraphs):
        if st.button("🖼 Add images to this article", key=f"{P}_illustrate"):
            composer = _composer(key)
            if composer is not None:
                cancel = CancelToken()
                _stop_button(cancel, f"{P}_stop_ill")
                _run_illustrate(
                    composer, article, ss.get(f"{P}_refs", []), image_num, params, cancel
                )
                st.rerun()
    for i, p in enumerate(list(article.paragraphs)):
        _show_paragraph(key, article, i, p, params)
    st.divider()
    _export(article)
