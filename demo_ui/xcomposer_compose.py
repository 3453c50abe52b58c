"""The composition tab: instruction -> streamed article -> images -> edits -> export.

Every model request (the article, its images, an edit, a new or re-picked image) runs as
a background job owned by the browser session (``demo_core.xcomposer.tasks``): touching
any widget, asking in the Q&A tab or visiting another page no longer cancels it. Only
Stop, starting a new article, or the session going away (the tab closed) does; what was
made until then is kept and a message says so, shown until the next request. While a job
works on the article its edit controls are disabled, so nothing moves under it. Edits are
proposals: the result is shown for the user to accept (optionally after touching it up)
or discard.
"""

from __future__ import annotations

import streamlit as st

from demo_core.engine.base import GenerationParams
from demo_core.i18n import _
from demo_core.jobs import Job
from demo_core.xcomposer import compose as C
from demo_core.xcomposer import tasks as T
from demo_core.xcomposer.article import Article, EmptyText, Paragraph
from demo_core.xcomposer.composer import Composer
from demo_core.xcomposer.export import markdown_text, to_html, to_zip
from demo_ui import how_it_works
from demo_ui.widgets import forget, kept, load_engine, pref_widget, show_images
from demo_ui.xcomposer_common import (
    IMAGE_TYPES,
    JobSlot,
    context_window,
    image_uploads,
    model_picker,
    read_uploads,
    sampling_controls,
    session_alive_probe,
)
from demo_ui.xcomposer_edits import edit_expander, proposal_ready_note
from demo_ui.xcomposer_saved import (
    new_article,
    persist_article,
    restore_article,
    saved_articles_panel,
)
from demo_ui.xcomposer_sources import candidate_label, make_composer, show_credit, sources_summary

P = "xc_cmp"
META = f"{P}_meta"  # "With Meta": a workspace preference
EXAMPLE = (
    "根据以下标题：“中国水墨画：流动的诗意与东方美学”，创作长文章，字数不少于800字。请结合以下文本素材：\n"
    "“水墨画是由水和墨调配成不同深浅的墨色所画出的画，是绘画的一种形式，更多时候，水墨画被视为中国传统绘画，"
    "也就是国画的代表。基本的水墨画，仅有水与墨，黑与白色，但进阶的水墨画，也有工笔花鸟画，色彩缤纷。”"
)
NUM_CHOICES = [C.AUTO, *range(1, C.MAX_IMAGES + 1)]


def _article() -> Article | None:
    return st.session_state.get(f"{P}_article")


def _note(kind: str, msg: str) -> None:
    """A message that stays on screen until the next request (not a one-run flash: the
    run that would show it may be cut short by a rerun from the other tab)."""
    st.session_state.setdefault(f"{P}_notes", []).append((kind, msg))


def _show_notes() -> None:
    for kind, msg in st.session_state.get(f"{P}_notes", []):
        getattr(st, kind)(msg)


def _collect(job: Job) -> None:
    """Take a finished (or replaced) job's result into the page state, and its messages."""
    for kind, msg in job.notes:
        _note(kind, msg)
    if job.error:
        _note("error", job.error)
    if job.kind == "write" and isinstance(job.result, Article):
        new_article()  # a new saved article: the one edited before is kept in the list
        st.session_state[f"{P}_article"] = job.result
        how_it_works.remember(P, job.result, trace=job.data.get("trace"))
        st.session_state[f"{P}_refs"] = job.data.get("refs", [])
    elif job.kind == "edit" and job.result:
        uid, kind, text = job.result
        st.session_state.setdefault(f"{P}_proposals", {})[uid] = (kind, text)
        forget(f"{P}_prop_{uid}")  # the text box starts from the new proposal
        proposal_ready_note(_article(), uid, _note)


JOB = JobSlot(P, _collect)  # the tab's background job (one at a time)


def _start(job: Job) -> None:
    JOB.stop()  # a job still running is collected first: its notes go with the old request
    st.session_state[f"{P}_notes"] = []
    article = _article()
    if article is not None and job.kind in ("illustrate", "add_image", "repick"):
        article.forget_undo()  # the model is about to change it
    JOB.start(job)
    st.rerun()


def _composer(key: str) -> Composer | None:
    engine = load_engine(key)
    if engine is None:
        return None
    return make_composer(engine, with_meta=bool(st.session_state.get(META, False)))


def _compose(
    key: str, instruction: str, files, image_num, text_only: bool, params: GenerationParams
) -> None:
    if not instruction.strip():
        st.warning(_("Write an instruction first: a title, an outline or some material."))
        return
    refs, errors = read_uploads(files)
    for msg in errors:
        st.error(_("{problem}. Remove it from the reference images and try again.").format(problem=msg))
    if errors:
        return
    composer = _composer(key)
    if composer is None:
        return
    job = T.compose_job(
        composer, instruction, refs, image_num, text_only, params, session_alive_probe()
    )
    job.data["refs"] = refs
    _start(job)


# -- per-paragraph and per-image editing -------------------------------------------------
def _edit_panel(key: str, article: Article, i: int, params: GenerationParams, busy: bool) -> None:
    p = article.paragraphs[i]
    u = p.uid
    kind = st.radio(
        _("Change"),
        C.EDIT_KINDS,
        format_func=lambda k: _(C.EDIT_LABELS[k]),
        horizontal=True,
        **kept(f"{P}_kind_{u}", C.EDIT_KINDS[0]),
    )
    instruction = st.text_input(
        _("Material or outline (needed to insert a paragraph)"),
        disabled=kind == "shorten",
        **kept(f"{P}_instr_{u}", ""),
    )
    proposals = st.session_state.setdefault(f"{P}_proposals", {})
    if st.button("✍️ " + _("Write it"), key=f"{P}_run_{u}", disabled=busy):
        if kind in ("insert_before", "insert_after") and not instruction.strip():
            st.warning(_("Write an outline for the new paragraph first."))
        else:
            composer = _composer(key)
            if composer is not None:
                _start(
                    T.edit_job(
                        composer, article, u, kind, instruction, params, session_alive_probe()
                    )
                )
    if u in proposals:
        pkind, proposed = proposals[u]
        st.text_area(
            _("Proposed ({edit}); edit before accepting").format(edit=_(C.EDIT_LABELS[pkind]).lower()),
            height=120,
            **kept(f"{P}_prop_{u}", proposed),
        )
        c1, c2 = st.columns(2)
        if c1.button("✅ " + _("Accept"), key=f"{P}_accept_{u}", disabled=busy):
            new_text = st.session_state.get(f"{P}_prop_{u}", "")
            try:
                if pkind in ("insert_before", "insert_after"):
                    article.insert(i, new_text, after=pkind == "insert_after")
                else:
                    article.replace_text(i, new_text)
            except EmptyText:
                st.warning(
                    _(
                        "The proposed text is empty, so there is nothing to accept: write some "
                        "text, or Discard it. To remove the paragraph, use 🗑 Delete this paragraph."
                    )
                )
            else:
                proposals.pop(u)
                st.rerun()
        if c2.button("✖ " + _("Discard"), key=f"{P}_discard_{u}"):
            proposals.pop(u)
            st.rerun()
    if st.button("🗑 " + _("Delete this paragraph"), key=f"{P}_delp_{u}", disabled=busy):
        article.delete(i)
        st.rerun()


def _image_panel(key: str, article: Article, i: int, params: GenerationParams, busy: bool) -> None:
    p = article.paragraphs[i]
    u = p.uid
    slot = p.image
    refs = st.session_state.get(f"{P}_refs", [])
    if slot is None:
        if st.button("🖼 " + _("Add an image below"), key=f"{P}_addimg_{u}", disabled=busy):
            composer = _composer(key)
            if composer is not None:
                _start(T.add_image_job(composer, article, u, refs, params, session_alive_probe()))
        return
    caption = st.text_input(
        _("Caption (used to search for images)"), **kept(f"{P}_cap_{u}", slot.caption)
    )
    c1, c2 = st.columns(2)
    if c1.button("🔎 " + _("Re-pick with this caption"), key=f"{P}_repick_{u}", disabled=busy):
        composer = _composer(key)
        if composer is not None:
            _start(T.repick_job(composer, article, u, caption, refs, params, session_alive_probe()))
    if c2.button("🗑 " + _("Delete image"), key=f"{P}_delimg_{u}", disabled=busy):
        article.delete_image(i)
        forget(f"{P}_cap_{u}")  # a new image here gets its own caption
        st.rerun()
    if len(slot.candidates) > 1:
        st.caption(

                _("Candidates: ✓ is the one in the article, 🤖 the model's pick. Use puts another one there.")
                if slot.picked is not None
                else _("Candidates: ✓ is the one in the article. Use puts another one there.")

        )
        cols = st.columns(min(4, len(slot.candidates)))
        for k, cand in enumerate(slot.candidates):
            col = cols[k % len(cols)]
            marks = ("✓ " if k == slot.chosen else "") + ("🤖 " if k == slot.picked else "")
            label = candidate_label(k, cand, marks)
            show_images([cand], captions=[label], width=120, where=col)
            if col.button(_("Use"), key=f"{P}_use_{u}_{k}", disabled=busy or k == slot.chosen):
                article.choose(i, k)
                st.rerun()
    mine = st.file_uploader(_("Replace with my own image"), type=IMAGE_TYPES, key=f"{P}_rep_{u}")
    if mine is not None and st.button(_("Use my image"), key=f"{P}_userep_{u}", disabled=busy):
        images, errors = read_uploads([mine])
        if errors:
            st.error(errors[0])
        else:
            article.replace_image(i, images[0])
            st.rerun()


def _show_paragraph(
    key: str, article: Article, i: int, p: Paragraph, params, busy: bool = False
) -> None:
    st.markdown(markdown_text(p.text))  # as the export shows it: text, never markup
    if p.image is not None:
        if p.image.image is not None:
            show_images([p.image.image], captions=[p.image.caption], max_width=480)
            show_credit(p.image.image)
        else:
            st.caption("🖼 " + _("{caption} (no image yet)").format(caption=p.image.caption))
    with edit_expander(P, p.uid, i):
        if busy:
            st.caption(_("The model is working on this article: editing resumes when it is done."))
        _edit_panel(key, article, i, params, busy)
        st.divider()
        _image_panel(key, article, i, params, busy)


def _export(article: Article) -> None:
    c1, c2 = st.columns(2)
    c1.download_button(
        "⬇ " + _("Markdown + images (.zip)"),
        data=to_zip(article),
        file_name="article.zip",
        mime="application/zip",
        key=f"{P}_zip",
    )
    c2.download_button(
        "⬇ " + _("Single HTML page"),
        data=to_html(article).encode("utf-8"),
        file_name="article.html",
        mime="text/html",
        key=f"{P}_html",
    )


def render_compose_tab() -> None:
    ss = st.session_state
    restore_article()
    persist_article()  # an edit made by the last run's click
    key = model_picker("xcomposer2", P, _("Composition model"))
    instruction = st.text_area(
        _("Instruction: a title, an outline, material to use"),
        height=140,
        **kept(f"{P}_instruction", EXAMPLE),
    )
    files = image_uploads(
        _("Reference images (optional; also offered as illustrations)"), f"{P}_files", f"{P}_files"
    )
    c1, c2, c3, c4 = st.columns([1, 1, 1, 2])
    image_num = c1.selectbox(
        _("Number of images"),
        NUM_CHOICES,
        format_func=lambda v: _("Automatic") if v == C.AUTO else str(v),
        **kept(f"{P}_num", C.DEFAULT_IMAGES, saved=True),
    )
    text_only = c2.checkbox(
        _("Text only"),
        help=_(
            "Write the article without looking for images: the original demo's LLM Only "
            "(纯文本写作)."
        ),
        **kept(f"{P}_text_only", False, saved=True),
    )
    pref_widget(
        c3.checkbox,
        _("With meta"),
        META,
        False,
        help=_(
            "As the original demo's With Meta (使用meta指令): every prompt starts with its "
            "system prompt (\"You are an AI assistant whose name is InternLM-XComposer "
            "(浦语·灵笔)…\"). Off, as there by default, the prompts have none. Saved for "
            "your workspace."
        ),
    )
    sources_summary(c4)
    params = how_it_works.flag(
        sampling_controls(
            P,
            C.ARTICLE_DEFAULTS,
            seed=C.DEFAULT_SEED,
            max_tokens_limit=context_window(key),
            max_beams=C.MAX_BEAMS,
        )
    )
    job = JOB.running()
    persist_article()
    saved_articles_panel(busy=job is not None)
    go = st.button("📝 " + _("Compose"), type="primary", key=f"{P}_go")
    if go:
        _compose(key, instruction, files, image_num, text_only, params)
    if job is not None:
        JOB.show(job, plain=True)
    _show_notes()
    how_it_works.compose_panel(P, None if job is not None else _article())

    article = _article()
    if article is None or (job is not None and job.kind == "write"):
        return  # a new article is being written: it replaces this one
    busy = job is not None
    st.divider()
    if article.undo_label and st.button(
        "↩ " + _("Undo: {what}").format(what=article.undo_label), key=f"{P}_undo", disabled=busy
    ):
        article.undo()
        st.rerun()
    if not article.paragraphs:
        st.info(_("The article is empty."))
        return
    if not text_only and not any(p.image for p in article.paragraphs):
        if st.button("🖼 " + _("Add images to this article"), key=f"{P}_illustrate", disabled=busy):
            composer = _composer(key)
            if composer is not None:
                _start(
                    T.illustrate_job(
                        composer,
                        article,
                        ss.get(f"{P}_refs", []),
                        image_num,
                        params,
                        session_alive_probe(),
                    )
                )
    for i, p in enumerate(list(article.paragraphs)):
        _show_paragraph(key, article, i, p, params, busy)
    st.divider()
    _export(article)
