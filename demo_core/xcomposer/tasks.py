"""The XComposer2 page's model work as background :class:`~demo_core.jobs.Job` s.

Writing an article with a 7B model takes minutes; run by the Streamlit script it was
cancelled by any click (and the "Stopped" message was lost with the run). Each function
here builds a job that does one user request on its own thread, updates the article (or
the Q&A turn) in place as results arrive, and leaves a message whenever it was
interrupted, saying what was kept. Only the page knows Streamlit; these only know the
composer, the article and the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from demo_core.engine.base import EngineError, Generation, GenerationParams
from demo_core.i18n import _, ngettext
from demo_core.jobs import Job
from demo_core.xcomposer import compose as C
from demo_core.xcomposer.article import Article, ImageSlot
from demo_core.xcomposer.composer import Composer
from demo_core.xcomposer.images import ImageInput
from demo_core.xcomposer.library import library_dir
from demo_core.xcomposer.qa import QATurn, ask, turn_note

Alive = Callable[[], bool] | None


def _raise(gen: Generation) -> None:
    if gen.error is not None:
        raise gen.error


def _cut(job: Job, what: str) -> bool:
    """Whether ``job`` was stopped; if so, ``what`` (a message with ``{why}``) is noted."""
    if job.cancelled:
        job.note("warning", what.format(why=job.why))
    return job.cancelled


def _nothing(job: Job, hint: str) -> None:
    """The note for a generation that gave nothing usable: why it was stopped, or ``hint``."""
    if not _cut(job, _("{why} before the model wrote anything.")):
        job.note("warning", hint)


def _illustrate(
    job: Job,
    composer: Composer,
    article: Article,
    refs: Sequence[ImageInput],
    image_num: int | str,
    params: GenerationParams,
) -> Article:
    """Add ``image_num`` images to ``article`` (in place), noting what went wrong; returns it."""
    try:
        for step in composer.illustrate(article, refs, image_num, params, job.cancel_token):
            job.stream(step.gen, step.label)
    except EngineError as exc:
        job.note("error", _("Adding images stopped: {error}").format(error=exc))
    for note in composer.notices:
        job.note("warning", note)
    if _cut(job, _("{why} while adding images: the images chosen so far are kept.")):
        return article
    missing = [i + 1 for i, p in enumerate(article.paragraphs) if p.image and not p.image.image]
    if missing:
        job.note(
            "info",
            ngettext(
                "No candidate image was found for paragraph {numbers}: upload images, or put "
                "images (with captions in same-named .txt files) in {folder}.",
                "No candidate image was found for paragraphs {numbers}: upload images, or put "
                "images (with captions in same-named .txt files) in {folder}.",
                len(missing),
            ).format(numbers=", ".join(map(str, missing)), folder=library_dir()),
        )
    return article


def article_cap_note(asked: int, room: int, composer: Composer, text_only: bool) -> str:
    window = composer.engine.info.context_window
    if text_only:
        text = _(
            "Max new tokens ({asked}) is more than this model's {window}-token context window "
            "leaves for the article: it was written with at most {room}."
        )
    else:
        text = _(
            "Max new tokens ({asked}) is more than this model's {window}-token context window "
            "leaves for the article: it was written with at most {room}, so the image steps "
            "can read the whole article."
        )
    return text.format(asked=asked, window=window, room=room)


def compose_job(
    composer: Composer,
    instruction: str,
    refs: Sequence[ImageInput],
    image_num: int | str,
    text_only: bool,
    params: GenerationParams,
    alive: Alive = None,
) -> Job:
    """Write the article, then (unless ``text_only``) place, caption and pick images.
    ``job.result`` is the :class:`Article` as soon as the text is written."""
    if refs and (image_num == C.AUTO or int(image_num) > len(refs)):
        image_num = len(refs)  # as the original: no more images than were uploaded

    room = composer.article_room(instruction, refs, text_only)
    write_params = params
    if params.max_new_tokens > room:
        write_params = replace(params, max_new_tokens=room)

    def work(job: Job) -> Article | None:
        if write_params is not params:
            job.note("info", article_cap_note(params.max_new_tokens, room, composer, text_only))
        gen = job.stream(
            composer.write(instruction, refs, write_params, job.cancel_token),
            _("Writing the article"),
        )
        job.data["trace"] = gen.trace  # recorded while the "How it works" panel is open
        _raise(gen)
        texts = C.split_paragraphs(gen.text)
        if not texts:
            _nothing(job, _("The model wrote nothing usable; try again with another seed."))
            return None
        article = Article.from_texts(instruction, texts)
        job.result = article  # the page may show it while images are being added
        if _cut(job, _("{why}: the article below is what was written until then.")) or text_only:
            return article
        return _illustrate(job, composer, article, refs, image_num, params)

    return Job("write", _("Writing the article"), work, alive=alive)


def illustrate_job(
    composer: Composer,
    article: Article,
    refs: Sequence[ImageInput],
    image_num: int | str,
    params: GenerationParams,
    alive: Alive = None,
) -> Job:
    """Add images to an article that has none (e.g. one written with Text only)."""

    def work(job: Job) -> Article:
        return _illustrate(job, composer, article, refs, image_num, params)

    return Job("illustrate", _("Adding images"), work, alive=alive)


def edit_job(
    composer: Composer,
    article: Article,
    uid: str,
    kind: str,
    instruction: str,
    params: GenerationParams,
    alive: Alive = None,
) -> Job:
    """A proposed new text for one paragraph; ``job.result`` is ``(uid, kind, text)``."""
    label = _("{edit}: paragraph {n}").format(edit=_(C.EDIT_LABELS[kind]), n=article.index_of(uid) + 1)

    def work(job: Job) -> tuple[str, str, str] | None:
        i = article.index_of(uid)
        gen = job.stream(
            composer.edit(article, i, kind, instruction, params, job.cancel_token), label
        )
        _raise(gen)
        text = C.clean_edit(gen.text)
        if not text:
            _nothing(job, _("The model returned no text; try again."))
            return None
        _cut(job, _("{why}: the proposal holds what was written until then."))
        return uid, kind, text

    return Job("edit", label, work, alive=alive)


def _fill(
    job: Job,
    composer: Composer,
    article: Article,
    uid: str,
    refs: Sequence[ImageInput],
    params: GenerationParams,
) -> None:
    i = article.index_of(uid)
    for step in composer.fill_slot(article, i, refs, params, job.cancel_token):
        job.stream(step.gen, step.label)
    for note in composer.notices:
        job.note("warning", note)
    slot = article.paragraphs[article.index_of(uid)].image
    if _cut(job, _("{why}: the first candidate is used; pick another below.")):
        return
    if slot is not None and not slot.image:
        job.note(
            "info",
            _(
                "No image matched “{caption}”: upload one below the paragraph, "
                "or add images to {folder}."
            ).format(caption=slot.caption, folder=library_dir()),
        )


def add_image_job(
    composer: Composer,
    article: Article,
    uid: str,
    refs: Sequence[ImageInput],
    params: GenerationParams,
    alive: Alive = None,
) -> Job:
    """Caption a new image after paragraph ``uid`` and fill it."""
    label = _("Adding an image after paragraph {n}").format(n=article.index_of(uid) + 1)

    def work(job: Job) -> None:
        i = article.index_of(uid)
        gen = job.stream(
            composer.caption_for(article, i, params, job.cancel_token), _("Writing a caption")
        )
        _raise(gen)
        if job.cancelled and not gen.text.strip():
            _cut(job, _("{why} before a caption was written; no image was added."))
            return
        caption = C.parse_caption(gen.text, article.paragraphs[i].text)
        article.set_slot(i, ImageSlot(caption=caption))
        if _cut(job, _("{why}: the caption is kept; press Re-pick to find images.")):
            return
        _fill(job, composer, article, uid, refs, params)

    return Job("add_image", label, work, alive=alive)


def repick_job(
    composer: Composer,
    article: Article,
    uid: str,
    caption: str,
    refs: Sequence[ImageInput],
    params: GenerationParams,
    alive: Alive = None,
) -> Job:
    """Find new candidates for the image of paragraph ``uid`` with ``caption``."""
    i = article.index_of(uid)
    slot = article.paragraphs[i].image or ImageSlot()
    slot.caption = caption.strip() or slot.caption
    article.set_slot(i, slot)

    def work(job: Job) -> None:
        _fill(job, composer, article, uid, refs, params)

    return Job("repick", _("Finding images for paragraph {n}").format(n=i + 1), work, alive=alive)


def answer_job(
    engine,
    history: Sequence[QATurn],
    turn: QATurn,
    params: GenerationParams,
    alive: Alive = None,
) -> Job:
    """Answer ``turn``; the answer and its note are written into the turn itself, so it
    is complete (or says why not) whatever happens to the page."""

    def work(job: Job) -> QATurn:
        gen = job.stream(ask(engine, list(history), turn, params, job.cancel_token), "Answering")
        job.data["trace"] = gen.trace  # recorded while the "How it works" panel is open
        turn.answer = gen.text
        turn.note = turn_note(gen, job.why if job.cancelled else "")
        turn.error = str(gen.error) if gen.error is not None else ""
        return turn

    job = Job("answer", _("Answering"), work, alive=alive)
    job.data["turn"] = turn
    return job
