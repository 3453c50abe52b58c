"""The XComposer2 page with the tiny random models, through Streamlit's AppTest."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from demo_core.xcomposer import compose as C
from tests.conftest import open_page


def png_bytes(color="red", size=(32, 24)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def app(studio_home, monkeypatch):
    monkeypatch.setenv("DEMO_STUDIO_DEVICE", "cpu")
    at = open_page("4_XComposer2.py", timeout=120)
    assert not at.exception, at.exception
    return at


JOBS = ("xc_qa_job", "xc_cmp_job")


def settle(at: AppTest, timeout: float = 120) -> AppTest:
    """Wait for the page's background jobs to end, then rerun so it collects them (a
    real browser's poll does this by itself)."""
    for _ in range(10):
        jobs = [at.session_state[k] for k in JOBS if k in at.session_state]
        if not jobs:
            return at
        for job in jobs:
            assert job.wait(timeout), f"{job.label} did not finish"
        at.run()
    raise AssertionError("the page kept starting jobs")


def _press(at: AppTest, prefix: str, button: str, max_new_tokens: int) -> AppTest:
    """On the tab of ``prefix``: a short Max new tokens, then ``button``; the page once the
    job it started is collected."""
    at.number_input(key=f"{prefix}_max_new").set_value(max_new_tokens)
    at.button(key=f"{prefix}_{button}").click()
    return settle(at.run())


def _qa_ask(at: AppTest, question: str, files=None, max_new_tokens: int = 6) -> AppTest:
    if files is not None:
        at.file_uploader(key="xc_qa_files_0").set_value(files)
    at.text_area(key="xc_qa_question").set_value(question)
    return _press(at, "xc_qa", "ask", max_new_tokens)


def test_page_opens_with_random_models_labelled(app):
    assert app.selectbox(key="xc_qa_model").value == "tiny-xcomposer2-vl"
    warnings = " ".join(w.value for w in app.warning)
    assert "Tiny random test model" in warnings and "noise" in warnings


def test_qa_answers_follow_up_regenerate_and_clear(app):
    at = _qa_ask(app, "What colour is it?", [("red.png", png_bytes(), "image/png")])
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    turns = at.session_state["xc_qa_turns"]
    assert len(turns) == 1 and turns[0].images[0].name == "red.png" and turns[0].answer
    assert at.text_area(key="xc_qa_question").value == ""  # cleared after success
    at = _qa_ask(at, "And the shape?")  # follow-up without new images
    assert len(at.session_state["xc_qa_turns"]) == 2
    first_answer = at.session_state["xc_qa_turns"][1].answer
    at.button(key="xc_qa_regen").click()
    settle(at.run())
    turns = at.session_state["xc_qa_turns"]
    assert len(turns) == 2 and turns[1].question == "And the shape?"
    assert isinstance(first_answer, str)
    at.button(key="xc_qa_clear").click()
    at.run()
    assert at.session_state["xc_qa_turns"] == []


def test_corrupt_upload_is_refused_and_nothing_is_lost(app):
    at = _qa_ask(app, "Describe this", [("broken.jpg", b"\xff\xd8 not really", "image/jpeg")])
    assert not at.exception
    assert any("broken.jpg" in e.value for e in at.error)
    assert at.text_area(key="xc_qa_question").value == "Describe this"
    assert at.session_state["xc_qa_turns"] == []


def test_placeholder_mismatch_is_explained(app):
    at = _qa_ask(app, "<ImageHere> vs <ImageHere>?", [("a.png", png_bytes(), "image/png")])
    assert any("placeholder" in e.value for e in at.error)
    assert at.text_area(key="xc_qa_question").value == "<ImageHere> vs <ImageHere>?"


def _compose(at: AppTest, files=None, text_only=False, num=2, instruction="写一篇关于水墨画的文章"):
    at.text_area(key="xc_cmp_instruction").set_value(instruction)
    if files is not None:
        at.file_uploader(key="xc_cmp_files").set_value(files)
    at.selectbox(key="xc_cmp_num").set_value(num)
    at.checkbox(key="xc_cmp_text_only").set_value(text_only)
    return _press(at, "xc_cmp", "go", 60)


def test_compose_with_uploaded_images_then_export(app):
    files = [(f"{c}.png", png_bytes(c), "image/png") for c in ("red", "green", "blue")]
    at = _compose(app, files)
    assert not at.exception, at.exception
    article = at.session_state["xc_cmp_article"]
    assert article.paragraphs and article.instruction == "写一篇关于水墨画的文章"
    chosen = {img.name for img in article.chosen_images()}
    assert chosen and chosen <= {"red.png", "green.png", "blue.png"}
    labels = [b.label for b in at.get("download_button")]
    assert any("zip" in lbl for lbl in labels) and any("HTML" in lbl for lbl in labels)


def test_compose_text_only_and_paragraph_edits(app):
    at = _compose(app, text_only=True)
    article = at.session_state["xc_cmp_article"]
    assert article.paragraphs and not article.slots
    uid = article.paragraphs[0].uid
    at.radio(key=f"xc_cmp_kind_{uid}").set_value("expand")
    at.text_input(key=f"xc_cmp_instr_{uid}").set_value("more about ink")
    at.button(key=f"xc_cmp_run_{uid}").click()
    settle(at.run())
    assert not at.exception, at.exception
    proposal = at.text_area(key=f"xc_cmp_prop_{uid}").value
    assert proposal
    at.text_area(key=f"xc_cmp_prop_{uid}").set_value("Edited by hand.")
    at.button(key=f"xc_cmp_accept_{uid}").click()
    at.run()
    assert at.session_state["xc_cmp_article"].paragraphs[0].text == "Edited by hand."
    # inserting needs an outline: refused with a message, nothing changes
    n = len(at.session_state["xc_cmp_article"].paragraphs)
    at.radio(key=f"xc_cmp_kind_{uid}").set_value("insert_after")
    at.text_input(key=f"xc_cmp_instr_{uid}").set_value("  ")
    at.button(key=f"xc_cmp_run_{uid}").click()
    at.run()
    assert any("outline" in w.value for w in at.warning)
    assert len(at.session_state["xc_cmp_article"].paragraphs) == n


def test_image_edits_pick_use_and_delete(app):
    files = [(f"{c}.png", png_bytes(c), "image/png") for c in ("red", "green", "blue")]
    at = _compose(app, files, num=1)
    article = at.session_state["xc_cmp_article"]
    (i,) = article.slots
    p = article.paragraphs[i]
    picked = p.image.picked
    assert picked == p.image.chosen and picked is not None  # the model picked among three
    other = next(k for k in range(len(p.image.candidates)) if k != p.image.chosen)
    at.button(key=f"xc_cmp_use_{p.uid}_{other}").click()
    at.run()
    assert at.session_state["xc_cmp_article"].paragraphs[i].image.chosen == other
    # the hint tells which is which, truthfully: ✓ in the article, 🤖 the model's pick
    assert any("✓ is the one in the article, 🤖 the model's pick" in c.value for c in at.caption)
    imgs = at.get("image")
    captions = [c.caption for el in imgs for c in el.proto.imgs]
    assert any(c.startswith(f"✓ {chr(65 + other)} ·") for c in captions), captions
    assert any(c.startswith(f"🤖 {chr(65 + picked)} ·") for c in captions), captions
    at.button(key=f"xc_cmp_delimg_{p.uid}").click()
    at.run()
    assert at.session_state["xc_cmp_article"].slots == []


def test_compose_refuses_bad_input_without_losing_it(app):
    at = _compose(app, instruction="   ")
    assert any("instruction" in w.value for w in at.warning)
    at = _compose(at, files=[("bad.png", b"garbage", "image/png")], instruction="My outline")
    assert any("bad.png" in e.value for e in at.error)
    assert at.text_area(key="xc_cmp_instruction").value == "My outline"
    assert (
        at.session_state["xc_cmp_article"] is None if "xc_cmp_article" in at.session_state else True
    )


def test_failed_answer_keeps_the_question_as_a_turn(app):
    at = _qa_ask(app, "word " * 3000, [("red.png", png_bytes(), "image/png")])
    assert not at.exception, at.exception
    (turn,) = at.session_state["xc_qa_turns"]
    assert turn.question.startswith("word") and turn.images[0].name == "red.png"
    assert "context window" in turn.error
    assert [e.value for e in at.error if "context window" in e.value] == [turn.error]  # once
    assert not [c.value for c in at.caption if "context window" in c.value]


def test_add_image_repick_and_replace_by_upload(app):
    at = _compose(app, text_only=True)
    p = at.session_state["xc_cmp_article"].paragraphs[0]
    at.checkbox(key="xc_cmp_text_only").set_value(False)
    at.button(key=f"xc_cmp_addimg_{p.uid}").click()
    settle(at.run())
    assert not at.exception, at.exception
    slot = at.session_state["xc_cmp_article"].paragraphs[0].image
    assert slot is not None and slot.caption and slot.image is None  # no uploads, no library
    assert any("No image matched" in i.value for i in at.info)
    at.text_input(key=f"xc_cmp_cap_{p.uid}").set_value("a red square")
    at.button(key=f"xc_cmp_repick_{p.uid}").click()
    settle(at.run())
    assert at.session_state["xc_cmp_article"].paragraphs[0].image.caption == "a red square"
    at.file_uploader(key=f"xc_cmp_rep_{p.uid}").set_value(
        ("mine.png", png_bytes("red"), "image/png")
    )
    at.run()
    at.button(key=f"xc_cmp_userep_{p.uid}").click()
    at.run()
    assert at.session_state["xc_cmp_article"].paragraphs[0].image.image.name == "mine.png"


def _gray16_png() -> bytes:
    import numpy as np

    img = Image.fromarray(np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (16, 1)))
    assert img.mode == "I;16"
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def test_16_bit_upload_is_shown_and_does_not_lock_the_session(app):
    """st.image could not encode I;16 as JPEG: the turn crashed, and every rerun after."""
    at = _qa_ask(app, "grey?", [("gray16.png", _gray16_png(), "image/png")])
    assert not at.exception, at.exception
    (turn,) = at.session_state["xc_qa_turns"]
    assert Image.open(io.BytesIO(turn.images[0].data)).mode == "RGB"
    at.run()
    assert not at.exception, at.exception


def test_a_stored_unshowable_image_becomes_a_caption_not_a_crash(app):
    """An image kept before normalisation existed (or any other surprise) must never
    make every rerun of the session fail."""
    from demo_core.xcomposer.images import ImageInput
    from demo_core.xcomposer.qa import QATurn

    raw = ImageInput("old.png", _gray16_png())  # raw I;16 bytes, as stored before the fix
    app.session_state["xc_qa_turns"] = [QATurn("q", [raw], "a", "note")]
    at = app.run()
    assert not at.exception, at.exception
    assert any("old.png" in c.value and "cannot be shown" in c.value for c in at.caption)


@pytest.fixture
def endless_compose_model(app, monkeypatch):
    """The page's composition model, made to write for a minute: its end-of-text id
    replaced by one outside the vocabulary and its window widened, so only a
    cancellation stops it in a test's time."""
    from demo_ui.resources import get_manager

    engine = get_manager().get("tiny-xcomposer2")
    monkeypatch.setattr(engine.loaded, "stop_ids", [engine.model.config.vocab_size + 7])
    monkeypatch.setattr(engine.info, "context_window", 8192)
    return engine


def _start_long_article(at: AppTest) -> AppTest:
    at.text_area(key="xc_cmp_instruction").set_value("A long article please.")
    at.checkbox(key="xc_cmp_text_only").set_value(True)
    at.number_input(key="xc_cmp_max_new").set_value(4000)
    at.button(key="xc_cmp_go").click()
    return at.run()


def _wait(cond, timeout_s: float = 60) -> None:
    import time

    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_composition_survives_reruns_and_stop_keeps_the_text(app, endless_compose_model):
    """Asking in the Q&A tab (or touching any widget) reran the script, which cancelled
    the article being written; and the one-time "Stopped" message was lost because that
    rerun happened in the same run that showed it."""
    at = _start_long_article(app)
    job = at.session_state["xc_cmp_job"]
    _wait(lambda: job.current is not None and len(job.current.text) > 10)
    # a rerun from the other tab, with its own background answer
    at.text_area(key="xc_qa_question").set_value("hello?")
    at.number_input(key="xc_qa_max_new").set_value(6)
    at.button(key="xc_qa_ask").click()
    at.run()
    at.session_state["xc_qa_job"].wait(60)
    at.run()
    assert not at.exception, at.exception
    assert at.session_state["xc_qa_turns"][0].answer is not None
    assert not job.cancelled and not job.done, "the article was cancelled by a rerun"
    assert at.session_state["xc_cmp_job"] is job
    at.button(key="xc_cmp_stop").click()
    at.run()
    assert job.wait(10) and job.end_reason == "stopped"
    at.run()
    written = job.steps[0].text
    article = at.session_state["xc_cmp_article"]
    assert article.texts == C.split_paragraphs(written) and article.texts
    msg = "Stopped: the article below is what was written until then."
    assert any(w.value == msg for w in at.warning)
    at.run()  # still said on the next run: it stays until the next request
    assert any(w.value == msg for w in at.warning)
    assert len(endless_compose_model.queue) == 0


def test_a_page_that_stops_polling_loses_its_job(app, endless_compose_model, monkeypatch):
    """A closed tab used to keep the model busy for everyone until max_new_tokens."""
    monkeypatch.setenv("DEMO_STUDIO_JOB_GRACE_S", "1")
    at = _start_long_article(app)
    job = at.session_state["xc_cmp_job"]
    _wait(lambda: len(endless_compose_model.queue) == 1)
    assert job.wait(10), "nobody polled, yet the job went on"  # no at.run(): the tab is gone
    assert job.end_reason == "abandoned" and len(endless_compose_model.queue) == 0
    at.run()
    assert any(w.value.startswith("Interrupted because the page was closed") for w in at.warning)


def test_inputs_survive_a_visit_to_another_page(app):
    """Streamlit drops a widget's state when its page is not shown: coming back reset the
    instruction (to the example text), Text only, Max new tokens, Seed, the question..."""
    at = app
    values = {
        ("text_area", "xc_cmp_instruction"): "MY CAREFULLY WRITTEN OUTLINE",
        ("checkbox", "xc_cmp_text_only"): True,
        ("selectbox", "xc_cmp_num"): 3,
        ("number_input", "xc_cmp_max_new"): 333,
        ("number_input", "xc_cmp_seed"): 45,
        ("checkbox", "xc_cmp_sample"): False,
        ("number_input", "xc_cmp_top_k"): 7,
        ("text_area", "xc_qa_question"): "my half-typed question",
        ("number_input", "xc_qa_max_new"): 77,
        ("slider", "xc_qa_temp"): 0.5,
    }
    for (kind, key), value in values.items():
        getattr(at, kind)(key=key).set_value(value)
    at.run()
    at.switch_page("pages/5_Models.py")
    at.run()
    assert not at.exception, at.exception
    at.switch_page("pages/4_XComposer2.py")
    at.run()
    assert not at.exception, at.exception
    for (kind, key), value in values.items():
        assert getattr(at, kind)(key=key).value == value, key


def test_accepting_an_empty_rewrite_keeps_the_paragraph_and_delete_can_be_undone(app):
    at = _compose(app, text_only=True)
    article = at.session_state["xc_cmp_article"]
    article.paragraphs[1:] = []
    article.insert(0, "Second paragraph.", after=True)
    n = len(article.paragraphs)
    uid = article.paragraphs[0].uid
    at.run()
    at.button(key=f"xc_cmp_run_{uid}").click()  # rewrite
    settle(at.run())
    at.text_area(key=f"xc_cmp_prop_{uid}").set_value("   ")
    at.button(key=f"xc_cmp_accept_{uid}").click()
    at.run()
    assert not at.exception, at.exception
    assert len(at.session_state["xc_cmp_article"].paragraphs) == n
    assert any("nothing to accept" in w.value for w in at.warning)
    assert at.text_area(key=f"xc_cmp_prop_{uid}").value == "   "  # the proposal is still there
    at.button(key=f"xc_cmp_delp_{uid}").click()
    at.run()
    assert len(at.session_state["xc_cmp_article"].paragraphs) == n - 1
    at.button(key="xc_cmp_undo").click()
    at.run()
    article = at.session_state["xc_cmp_article"]
    assert len(article.paragraphs) == n and article.paragraphs[0].uid == uid
    article.paragraphs[1:] = []  # the last paragraph deleted: Undo must still be offered
    at.button(key=f"xc_cmp_delp_{uid}").click()
    at.run()
    assert at.session_state["xc_cmp_article"].paragraphs == []
    at.button(key="xc_cmp_undo").click()
    at.run()
    assert [p.uid for p in at.session_state["xc_cmp_article"].paragraphs] == [uid]


def test_the_page_shows_paragraphs_as_the_export_does(app):
    """A paragraph starting with "#" was a big heading on the page (and raw HTML in the
    Markdown export): the page now renders the export's escaped text."""
    from demo_core.xcomposer.article import Article
    from demo_core.xcomposer.export import markdown_text

    text = "# Not a heading <b>nor bold</b>"
    app.session_state["xc_cmp_article"] = Article.from_texts("x", [text])
    at = app.run()
    shown = [m.value for m in at.markdown]
    assert markdown_text(text) in shown and text not in shown


def test_uploaded_images_survive_a_visit_to_another_page(app):
    """A file uploader cannot be given its files back; they are kept beside it."""
    at = app
    at.file_uploader(key="xc_cmp_files").set_value([("ref.png", png_bytes("red"), "image/png")])
    at.file_uploader(key="xc_qa_files_0").set_value([("q.png", png_bytes("blue"), "image/png")])
    at.run()
    at.switch_page("pages/5_Models.py")
    at.run()
    at.switch_page("pages/4_XComposer2.py")
    at.run()
    assert not at.exception, at.exception
    kept = [c.value for c in at.caption if c.value.startswith("📎 Kept")]
    assert any("ref.png" in c for c in kept) and any("q.png" in c for c in kept), kept
    at = _qa_ask(at, "What is it?", max_new_tokens=4)
    (turn,) = at.session_state["xc_qa_turns"]
    assert [i.name for i in turn.images] == ["q.png"]
    assert not any("q.png" in c.value for c in at.caption if c.value.startswith("📎 Kept"))
    at = _compose(at, text_only=True)
    assert [r.name for r in at.session_state["xc_cmp_refs"]] == ["ref.png"]


def test_edited_article_survives_a_new_session_and_a_compose(app):
    """The article is written to the workspace store on every edit: a new browser session
    of the same workspace (a reload, a restart) gets it back, and a Compose makes a new
    saved article instead of replacing the edited one."""
    from streamlit.testing.v1 import AppTest

    from demo_core.store import get_store
    from tests.conftest import ROOT

    files = [("red.png", png_bytes("red"), "image/png")]
    at = _compose(app, files)
    article = at.session_state["xc_cmp_article"]
    uid = article.paragraphs[0].uid
    at.button(key=f"xc_cmp_delp_{uid}").click().run()  # an edit: the first paragraph goes
    edited = [p.text for p in at.session_state["xc_cmp_article"].paragraphs]
    ws = at.session_state["_workspace_id"]

    again = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    again.session_state["_workspace_id"] = ws  # what the URL gives a reloaded tab
    again.run()
    again.switch_page("pages/4_XComposer2.py").run()
    assert not again.exception, again.exception
    back = again.session_state["xc_cmp_article"]
    assert [p.text for p in back.paragraphs] == edited
    assert [i.name for i in back.chosen_images()] == [
        i.name for i in at.session_state["xc_cmp_article"].chosen_images()
    ]
    first_doc = again.session_state["xc_cmp_doc"]
    _compose(again, text_only=True, instruction="another article")
    docs = get_store().docs(ws, "article")
    assert len(docs) == 2 and again.session_state["xc_cmp_doc"] != first_doc
    old = get_store().doc(first_doc)["body"]
    assert [p["text"] for p in old["paragraphs"]] == edited  # the edited one is kept
    # reopen it from the list
    again.button(key=f"xc_cmp_doc_open_{first_doc}").click().run()
    assert [p.text for p in again.session_state["xc_cmp_article"].paragraphs] == edited


def _until_stopped(job) -> None:
    import time

    while not job.cancelled:
        time.sleep(0.02)


def test_stop_stops_the_job_running_when_the_click_arrives(app, endless_compose_model):
    """Stop, a new request at once, then Stop again: the second click can reach the
    server before the page has drawn the new job's button. It stopped the old, finished
    job, so the new one went on and the next request reported it as "interrupted by a
    new request" though the user had stopped it (issue 14)."""
    from demo_core.jobs import Job

    at = _start_long_article(app)
    first = at.session_state["xc_cmp_job"]
    _wait(lambda: first.current is not None)
    # the page moved on: the first job is over and a new one runs in its place, while
    # the Stop button the browser shows is still the one drawn for the first
    first.stop()
    assert first.wait(10)
    newer = Job("write", "Writing the article", _until_stopped).start()
    at.session_state["xc_cmp_job"] = newer
    at.button(key="xc_cmp_stop").click()
    at.run()
    assert newer.wait(10) and newer.end_reason == "stopped"


def test_a_replaced_job_leaves_no_interrupted_note_over_the_new_one(app, endless_compose_model):
    """Compose while an article is still being written: the old job is replaced, and its
    "Interrupted by a new request" note belongs to the old request, not on screen while
    the new one runs (issue 14 item 11, the composition tab's case)."""
    at = _start_long_article(app)
    first = at.session_state["xc_cmp_job"]
    _wait(lambda: first.current is not None)
    at.button(key="xc_cmp_go").click()
    at.run()
    second = at.session_state["xc_cmp_job"]
    try:
        assert second is not first and first.end_reason == "replaced"
        kinds = ("info", "warning", "error", "success")
        shown = [e.value for kind in kinds for e in getattr(at, kind)]
        assert not any("Interrupted by a new request" in str(v) for v in shown), shown
    finally:
        second.stop()
        second.wait(10)
