"""The composition flow on top of the engine: article -> slots -> captions -> candidates
-> the model's pick, plus the per-paragraph and per-image edits.

Every model step is one streamed :class:`Generation` so the page can show it as it comes;
:meth:`Composer.illustrate` yields them one by one and reads each result once the page has
streamed it (or drains it itself). Where candidate images come from: the user's uploads
first (the original offered all uploaded images), else every enabled picture source
(:mod:`demo_core.xcomposer.sources`: the library, Wikimedia Commons, Openverse, your own
service, the text-to-image model), searched with a short English phrase the model writes
for the caption where a source wants one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from demo_core.engine.base import CancelToken, EngineError, Generation, GenerationParams
from demo_core.i18n import _
from demo_core.xcomposer import compose as C
from demo_core.xcomposer.article import Article, ImageSlot
from demo_core.xcomposer.images import ImageInput
from demo_core.xcomposer.library import ImageLibrary
from demo_core.xcomposer.online import OnlineImageSearch
from demo_core.xcomposer.prompt import COMPOSE_META, COMPOSE_PLACEHOLDER, split_interleaved
from demo_core.xcomposer.sources import ImageSource, SearchRequest, gather
from demo_core.xcomposer.sources.local import CustomSource, LibrarySource

MAX_UPLOAD_CANDIDATES = 10  # the original demo's upload limit
# The article is read again by the image steps, tokenized afresh: text decoded from byte-
# fallback tokens (a half character, noise from a random model) can take more tokens than
# writing it did (x1.46 measured on the tiny model), so a third of the room is kept spare.
REREAD_SPARE = 1.5


@dataclass
class Step:
    """One model call of the flow, for the page to stream."""

    kind: str  # locate | caption | query | pick
    paragraph: int | None
    gen: Generation
    label: str


def _step_params(params: GenerationParams, step: str, seed: int | None = None) -> GenerationParams:
    """The settings of a step after the article: as the original demo, its own token
    budget and one beam (its "Beam Size" is the article's; the steps and edits sample)."""
    return replace(params, max_new_tokens=C.STEP_TOKENS[step], seed=seed, num_beams=1)


class Composer:
    def __init__(
        self,
        engine,
        library: ImageLibrary | None = None,
        online: OnlineImageSearch | None = None,
        *,
        sources: Sequence[ImageSource] | None = None,
        query: str = "en",
        with_meta: bool = False,
    ) -> None:
        """``sources``: where candidates come from (see ``SourceSettings.build``); without
        it, ``library`` and ``online`` (your own service) are the sources -- none given:
        uploads only, and nothing touches the network. ``query``: "en" asks the model for
        an English search phrase for the sources that want one, "caption" uses the caption.
        ``with_meta``: the original's "With Meta (使用meta指令)": every prompt starts with
        its system turn (:data:`COMPOSE_META`); off, as there by default, none has one."""
        self.engine = engine
        if sources is None:
            sources = [LibrarySource(library)] if library is not None else []
            sources += [CustomSource(online)] if online is not None else []
        self.sources = list(sources)
        self.query = query
        self.markers = replace(engine.markers, meta=COMPOSE_META) if with_meta else engine.markers
        self.notices: list[str] = []  # problems the image sources met, for the UI

    def _notice(self, message: str) -> None:
        if message not in self.notices:  # the same failure for every slot is said once
            self.notices.append(message)

    def _stream(
        self,
        text: str,
        images: Sequence[ImageInput],
        params: GenerationParams,
        cancel: CancelToken | None,
    ) -> Generation:
        return self.engine.stream_interleaved(
            text, list(images), params, cancel, placeholder=COMPOSE_PLACEHOLDER, bos="first"
        )

    def _error(self, exc: EngineError, cancel: CancelToken | None) -> Generation:
        gen = Generation(cancel)
        gen.finish("error", exc)
        return gen

    def _tokens(self, text: str, n_images: int) -> int:
        parts = split_interleaved(text, n_images, COMPOSE_PLACEHOLDER)
        return self.engine.prompt_length(self.engine.tokenize_parts(parts, "first"))

    def article_room(self, instruction: str, refs: Sequence[ImageInput], text_only: bool) -> int:
        """The most new tokens the article may take on this model: what its prompt leaves
        of the context window, and, when images follow, what leaves the image-placement
        step room to read the whole article (with its ``<Seg>`` tags) and answer.

        "Max new tokens" defaults to the original demo's 4096, more than the tiny
        model's 1024-token window; capping it here is what lets the later steps run, and
        the error they would give otherwise blamed the text instead of this setting."""
        window = self.engine.info.context_window
        try:
            prompt = self._tokens(C.article_prompt(instruction, len(refs), self.markers), len(refs))
        except EngineError:
            return 1
        room = window - prompt
        if not text_only:
            fixed = self._tokens(C.locate_prompt([""], len(refs), C.AUTO, self.markers), len(refs))
            tags = window // 16  # <Seg{i}> per paragraph: a few tokens each
            room = min(room, int((window - fixed - tags - C.STEP_TOKENS["locate"]) / REREAD_SPARE))
        return max(1, room)

    # -- the article --------------------------------------------------------------------
    def write(
        self,
        instruction: str,
        refs: Sequence[ImageInput],
        params: GenerationParams,
        cancel: CancelToken | None = None,
    ) -> Generation:
        try:
            text = C.article_prompt(instruction, len(refs), self.markers)
        except EngineError as exc:
            return self._error(exc, cancel)
        return self._stream(text, refs, params, cancel)

    # -- illustration steps ---------------------------------------------------------------
    def locate(
        self,
        paragraphs: Sequence[str],
        refs: Sequence[ImageInput],
        image_num: int | str,
        params: GenerationParams,
        cancel: CancelToken | None = None,
    ) -> Generation:
        text = C.locate_prompt(paragraphs, len(refs), image_num, self.markers)
        window = self.engine.info.context_window
        need = self._tokens(text, len(refs)) + 1  # the prompt and at least one answer token
        if need > window:
            return self._error(
                C.ComposeError(
                    f"the article is too long for this model to choose where images go: that "
                    f"step needs {need} tokens and the context window is {window}. Lower "
                    f'"Max new tokens" in Generation settings (now {params.max_new_tokens}) '
                    "and compose again, or delete paragraphs and add images again"
                ),
                cancel,
            )
        return self._stream(text, refs, _step_params(params, "locate", params.seed), cancel)

    def caption(
        self,
        paragraphs: Sequence[str],
        pos: int,
        previous: Sequence[tuple[int, str]],
        params: GenerationParams,
        cancel: CancelToken | None = None,
    ) -> Generation:
        text = C.caption_prompt(paragraphs, pos, previous, self.markers)
        return self._stream(text, [], _step_params(params, "caption"), cancel)

    def candidates(
        self,
        caption: str,
        uploads: Sequence[ImageInput],
        exclude: set[str],
        k: int = 4,
        context: str = "",
        query: str = "",
    ) -> list[ImageInput]:
        """Unused uploads if there are any; else candidates from every enabled source
        (the library matches the caption, then the paragraph text ``context``; online
        sources and the generator get ``query``, the caption when it is empty)."""
        unused = [u for u in uploads if u.name not in exclude][:MAX_UPLOAD_CANDIDATES]
        if unused:
            return unused
        request = SearchRequest(caption, query or caption, context, k, frozenset(exclude))
        images, problems = gather(self.sources, request)
        for problem in problems:
            self._notice(problem)
        return images

    def wants_query(self, uploads: Sequence[ImageInput], exclude: set[str]) -> bool:
        """Whether the slot's candidates will come from a source searched with a phrase."""
        if self.query != "en" or any(u.name not in exclude for u in uploads):
            return False
        return any(getattr(s, "wants_query", False) for s in self.sources)

    def search_phrase(
        self, caption: str, params: GenerationParams, cancel: CancelToken | None = None
    ) -> Generation:
        text = C.query_prompt(caption, self.markers)
        return self._stream(text, [], _step_params(params, "query"), cancel)

    def pick(
        self,
        article: Article,
        pos: int,
        candidates: Sequence[ImageInput],
        params: GenerationParams,
        cancel: CancelToken | None = None,
    ) -> Generation | None:
        """Ask the model which candidate suits paragraph ``pos``; None when there is only
        one (nothing to choose)."""
        if len(candidates) <= 1:
            return None
        earlier = [i for i in article.slots if i < pos]
        chosen = article.chosen_images(before=pos)
        window = self.engine.info.context_window - C.STEP_TOKENS["pick"]
        while True:  # leave out the oldest context (and its image) until the prompt fits
            chunks = C.context_chunks(article.texts, earlier, pos)
            text = C.pick_prompt(chunks, len(candidates), self.markers)
            images = [*chosen, *candidates]
            parts = split_interleaved(text, len(images), COMPOSE_PLACEHOLDER)
            n = self.engine.prompt_length(self.engine.tokenize_parts(parts, "first"))
            if n <= window or not earlier:
                break
            first = earlier.pop(0)
            chosen = chosen[1:]
            article = Article(article.instruction, article.paragraphs[first + 1 :])
            pos -= first + 1
            earlier = [i - first - 1 for i in earlier]
        return self._stream(text, images, _step_params(params, "pick"), cancel)

    def illustrate(
        self,
        article: Article,
        refs: Sequence[ImageInput],
        image_num: int | str,
        params: GenerationParams,
        cancel: CancelToken | None = None,
    ) -> Iterator[Step]:
        """Place, caption and pick images for ``article`` in place, step by step."""
        paragraphs = article.texts
        gen = self.locate(paragraphs, refs, image_num, params, cancel)
        yield Step("locate", None, gen, _("Choosing where images fit"))
        answer = _finish(gen)
        if answer is None:
            return
        positions = C.parse_positions(answer, len(paragraphs), image_num)
        previous: list[tuple[int, str]] = []
        for pos in positions:
            gen = self.caption(paragraphs, pos, previous, params, cancel)
            yield Step(
                "caption", pos, gen, _("Captioning the image after paragraph {n}").format(n=pos + 1)
            )
            answer = _finish(gen)
            if answer is None:
                return
            cap = C.parse_caption(answer, paragraphs[pos])
            previous.append((pos, cap))
            article.set_slot(pos, ImageSlot(caption=cap))
        for pos in positions:
            if cancel is not None and cancel.cancelled:
                return
            yield from self.fill_slot(article, pos, refs, params, cancel)

    def fill_slot(
        self,
        article: Article,
        pos: int,
        uploads: Sequence[ImageInput],
        params: GenerationParams,
        cancel: CancelToken | None = None,
    ) -> Iterator[Step]:
        """Find candidates for the slot's caption and let the model pick one."""
        slot = article.paragraphs[pos].image or ImageSlot()
        article.set_slot(pos, slot)
        exclude = article.used_names() - ({slot.image.name} if slot.image else set())
        query = ""
        if self.wants_query(uploads, exclude):
            gen = self.search_phrase(slot.caption, params, cancel)
            yield Step("query", pos, gen, f"Search phrase for the image after paragraph {pos + 1}")
            answer = _finish(gen)
            if answer is None:
                return
            query = C.parse_query(answer, slot.caption)
        slot.query = query
        slot.candidates = self.candidates(
            slot.caption, uploads, exclude, context=article.paragraphs[pos].text, query=query
        )
        slot.chosen = 0 if slot.candidates else None
        slot.picked = None
        gen = self.pick(article, pos, slot.candidates, params, cancel)
        if gen is None:
            return
        yield Step("pick", pos, gen, _("Picking the image for paragraph {n}").format(n=pos + 1))
        answer = _finish(gen)
        if answer is not None:
            slot.chosen = slot.picked = C.parse_choice(answer, len(slot.candidates))

    def caption_for(
        self,
        article: Article,
        pos: int,
        params: GenerationParams,
        cancel: CancelToken | None = None,
    ) -> Generation:
        """A caption for a new image after paragraph ``pos`` (the "add image" edit)."""
        previous = [
            (i, p.image.caption)
            for i, p in enumerate(article.paragraphs)
            if p.image and p.image.caption and i < pos
        ]
        return self.caption(article.texts, pos, previous, params, cancel)

    # -- paragraph edits ------------------------------------------------------------------
    def edit(
        self,
        article: Article,
        i: int,
        kind: str,
        instruction: str,
        params: GenerationParams,
        cancel: CancelToken | None = None,
    ) -> Generation:
        texts = article.texts
        try:
            text = C.edit_prompt(
                kind,
                texts[i],
                instruction,
                self.markers,
                before=texts[i - 1] if i > 0 else "",
                after=texts[i + 1] if i + 1 < len(texts) else "",
            )
        except EngineError as exc:
            return self._error(exc, cancel)
        return self._stream(text, [], _step_params(params, "edit"), cancel)


def _finish(gen: Generation) -> str | None:
    """The step's text once it is done; None if it was cancelled. Errors propagate."""
    text = gen.result()
    if gen.stats.finish_reason == "cancelled":
        return None
    return text
