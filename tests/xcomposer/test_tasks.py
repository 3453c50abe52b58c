"""The XComposer page's model work as background jobs: what an interrupted job keeps,
and that every kind of request (including adding or re-picking an image) can be stopped."""

from __future__ import annotations

import io
import time
from dataclasses import replace

import pytest
from PIL import Image

from demo_core.engine.base import GenerationParams
from demo_core.jobs import ABANDONED, STOPPED
from demo_core.xcomposer import compose as C
from demo_core.xcomposer import tasks as T
from demo_core.xcomposer.article import Article
from demo_core.xcomposer.composer import Composer
from demo_core.xcomposer.images import ImageInput
from demo_core.xcomposer.qa import QATurn
from tests.test_jobs import endless, wait_until


def png(color: str = "red") -> ImageInput:
    buf = io.BytesIO()
    Image.new("RGB", (16, 12), color).save(buf, format="PNG")
    return ImageInput(f"{color}.png", buf.getvalue())


class EndlessComposer:
    """A composer whose model writes "line" paragraphs until it is cancelled."""

    notices: list[str] = []

    def write(self, instruction, refs, params, cancel):
        return endless(cancel, "line\n")

    def article_room(self, instruction, refs, text_only):
        return 10**6


@pytest.mark.parametrize("reason", [STOPPED, ABANDONED])
def test_interrupted_article_is_kept_and_says_why(reason):
    job = T.compose_job(EndlessComposer(), "x", [], 2, False, GenerationParams()).start()
    wait_until(lambda: job.current is not None and job.current.text.count("\n") >= 3)
    job.stop(reason)
    assert job.wait(5)
    article = job.result
    assert isinstance(article, Article) and len(article.paragraphs) >= 3
    assert set(article.texts) == {"line"}
    why = "Stopped" if reason == STOPPED else "Interrupted because the page was closed"
    assert job.notes == [("warning", f"{why}: the article below is what was written until then.")]


def _article_with_slot() -> Article:
    article = Article.from_texts("x", ["The red sun.", "The blue sea."])
    return article


@pytest.mark.parametrize("kind", ["add_image", "repick"])
def test_add_image_and_repick_can_be_stopped(compose_engine, kind):
    """These steps had no cancel token: Stop did nothing and a closed tab kept the model
    busy. Here the model is busy with someone else, so the job waits in line; Stop must
    take it out at once."""
    article = _article_with_slot()
    uid = article.paragraphs[0].uid
    composer = Composer(compose_engine)
    params = GenerationParams(max_new_tokens=8, do_sample=False)
    refs = [png("red"), png("blue"), png("green")]
    holder = compose_engine.queue.acquire()
    try:
        if kind == "add_image":
            job = T.add_image_job(composer, article, uid, refs, params).start()
        else:
            job = T.repick_job(composer, article, uid, "a red sun", refs, params).start()
        wait_until(lambda: job.position == 1)
        t0 = time.monotonic()
        job.stop()
        assert job.wait(5) and time.monotonic() - t0 < 2
    finally:
        compose_engine.queue.release(holder)
    assert job.end_reason == STOPPED and job.error is None
    assert any(level == "warning" and msg.startswith("Stopped") for level, msg in job.notes)
    assert len(compose_engine.queue) == 0


def test_add_image_job_fills_the_slot(compose_engine):
    article = _article_with_slot()
    uid = article.paragraphs[1].uid
    composer = Composer(compose_engine)
    refs = [png("red"), png("blue")]
    job = T.add_image_job(
        composer, article, uid, refs, GenerationParams(max_new_tokens=8, do_sample=False)
    ).start()
    assert job.wait(60) and job.error is None and job.end_reason is None
    slot = article.paragraphs[1].image
    assert slot is not None and slot.caption and slot.image is not None
    assert [s.label for s in job.steps][0] == "Writing a caption"


def test_answer_job_writes_the_turn_and_a_stop_marks_it(vl_engine):
    params = replace(GenerationParams(), max_new_tokens=6, do_sample=False)
    turn = QATurn("What colour?", [png()])
    job = T.answer_job(vl_engine, [], turn, params).start()
    assert job.wait(60) and turn.answer == job.steps[0].text and "tokens in" in turn.note
    waiting = QATurn("And now?", [png("blue")])
    holder = vl_engine.queue.acquire()
    try:
        job = T.answer_job(vl_engine, [turn], waiting, params).start()
        wait_until(lambda: job.position == 1)
        job.stop()
        assert job.wait(5)
    finally:
        vl_engine.queue.release(holder)
    assert waiting.note == "⏹ stopped" and waiting.answer == ""


def test_compose_job_text_only_with_the_real_model(compose_engine):
    params = replace(C.ARTICLE_DEFAULTS, max_new_tokens=40)
    job = T.compose_job(Composer(compose_engine), "写一篇文章", [], 2, True, params).start()
    assert job.wait(60) and job.error is None
    assert job.result is None or job.result.texts == C.split_paragraphs(job.steps[0].text)


def test_compose_with_the_defaults_fits_the_tiny_model(compose_engine):
    """The default Max new tokens (4096, the original demo's) is more than the tiny
    model's window: the article is capped so that choosing image places can still read
    it, and the user is told which setting was limited (it used to end in "the prompt
    needs 1049 tokens but the context window is 1024. Use a shorter text")."""
    from demo_ui.xcomposer_compose import EXAMPLE

    window = compose_engine.info.context_window
    assert C.ARTICLE_DEFAULTS.max_new_tokens > window
    job = T.compose_job(
        Composer(compose_engine), EXAMPLE, [], C.DEFAULT_IMAGES, False, C.ARTICLE_DEFAULTS
    ).start()
    assert job.wait(300)
    errors = [msg for kind, msg in job.notes if kind == "error"]
    assert job.error is None and not errors, (job.error, errors)
    assert any("Max new tokens (4096)" in msg for _, msg in job.notes), job.notes
    assert job.result is not None and job.result.paragraphs


def test_an_article_too_long_to_place_images_blames_max_new_tokens(compose_engine):
    composer = Composer(compose_engine)
    window = compose_engine.info.context_window
    gen = composer.locate(["字" * window], [], 2, C.ARTICLE_DEFAULTS)
    assert gen.done and gen.error is not None
    assert "Max new tokens" in str(gen.error) and "shorter text" not in str(gen.error)
