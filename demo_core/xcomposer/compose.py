"""The composition demo's prompts and the parsing of the model's answers, as pure functions.

Prompts are the original demo's (Chinese instructions, ``<Seg{i}>`` paragraph tags,
``<image>`` placeholders, answer prefixes the model continues). The model's answers are
free text, so every parser has a fallback that keeps the flow going with something
sensible -- evenly spaced image slots, a caption taken from the paragraph, candidate A.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from demo_core.engine.base import EngineError, GenerationParams
from demo_core.i18n import N_
from demo_core.xcomposer.prompt import COMPOSE_PLACEHOLDER, Markers, user_turn

MAX_SECTIONS = 60
MAX_IMAGES = 15
DEFAULT_IMAGES = 6
DEFAULT_SEED = 8909
MAX_BEAMS = 6  # the original's "Beam Size (集束大小)" slider: 1-6, default 1
AUTO = "auto"

ARTICLE_DEFAULTS = GenerationParams(
    max_new_tokens=4096,
    temperature=1.0,
    top_p=0.8,
    top_k=40,
    repetition_penalty=1.005,
    do_sample=True,
    seed=DEFAULT_SEED,
)
STEP_TOKENS = {"locate": 200, "caption": 200, "query": 24, "pick": 10, "edit": 500}

EDIT_KINDS = ("rewrite", "expand", "shorten", "insert_before", "insert_after")
EDIT_LABELS = {
    "rewrite": N_("Rewrite"),
    "expand": N_("Expand"),
    "shorten": N_("Shorten"),
    "insert_before": N_("Insert a paragraph before"),
    "insert_after": N_("Insert a paragraph after"),
}

_SEG_RE = re.compile(r"<Seg\s*(\d+)\s*>")


class ComposeError(EngineError):
    """A request the composition flow cannot run (the message says why)."""


def image_prefix(n_images: int) -> str:
    return " ".join([COMPOSE_PLACEHOLDER] * n_images)


# -- 1. the article ---------------------------------------------------------------------
def article_prompt(instruction: str, n_ref_images: int, markers: Markers) -> str:
    """Reference images (if any) go in front of the instruction, as in the original,
    which sends the instruction as typed: its whitespace is kept, not stripped."""
    if not instruction.strip():
        raise ComposeError("write an instruction first: a title, an outline or material")
    return user_turn(image_prefix(n_ref_images) + instruction, markers)


def split_paragraphs(text: str, max_sections: int = MAX_SECTIONS) -> list[str]:
    """One paragraph per non-empty line (the original's split), at most ``max_sections``."""
    lines = [line.strip() for line in re.split(r"\n\s*", text.strip())]
    return [line for line in lines if line][:max_sections]


def seg_sections(paragraphs: Sequence[str]) -> list[str]:
    return [f"<Seg{i}> {p}\n" for i, p in enumerate(paragraphs)]


# -- 2. where images go ------------------------------------------------------------------
LOCATE_ANSWER_PREFIX = "适合插入图像的行是"


def locate_prompt(
    paragraphs: Sequence[str], n_ref_images: int, image_num: int | str, markers: Markers
) -> str:
    count = "" if image_num == AUTO else str(int(image_num))
    body = (
        image_prefix(n_ref_images)
        + (" " if n_ref_images else "")
        + f'给定文章"{"".join(seg_sections(paragraphs))}" 根据上述文章，选择适合插入图像的{count}行'
    )
    return user_turn(body, markers) + LOCATE_ANSWER_PREFIX


def parse_positions(answer: str, n_paragraphs: int, wanted: int | str) -> list[int]:
    """``<Seg3>`` tags in the answer -> sorted unique valid paragraph indices, at most
    ``wanted``; when the answer names none, spread ``wanted`` (auto: about one per three
    paragraphs) evenly over the article."""
    limit = None if wanted == AUTO else max(0, int(wanted))
    found: list[int] = []
    for m in _SEG_RE.finditer(answer):
        i = int(m.group(1))
        if 0 <= i < n_paragraphs and i not in found:
            found.append(i)
    if limit is not None:
        found = found[:limit]
    if found:
        return sorted(found)
    return spread_positions(n_paragraphs, limit)


def spread_positions(n_paragraphs: int, wanted: int | None) -> list[int]:
    if n_paragraphs <= 0:
        return []
    k = wanted if wanted is not None else max(1, round(n_paragraphs / 3))
    k = min(k, n_paragraphs)
    if k <= 0:
        return []
    return sorted({min(n_paragraphs - 1, (j * n_paragraphs) // k) for j in range(k)})


# -- 3. captions ---------------------------------------------------------------------------
CAPTION_ANSWER_PREFIX = '标题是"'


def caption_prompt(
    paragraphs: Sequence[str], pos: int, previous: Sequence[tuple[int, str]], markers: Markers
) -> str:
    """Caption for an image after paragraph ``pos``; earlier captions are recalled."""
    full = "".join(seg_sections(paragraphs)[: pos + 2])
    past = ""
    for k, (p, cap) in enumerate(previous):
        past += ("现在" if k == 0 else "") + f'<Seg{p}>后插入图像对应的标题是"{cap}"， '
    if past:
        past = past[:-2] + "。"
    body = f'给定文章"{full}" {past}给出适合在<Seg{pos}>后插入的图像对应的标题。'
    return user_turn(body, markers) + CAPTION_ANSWER_PREFIX


def parse_caption(answer: str, paragraph: str, max_chars: int = 60) -> str:
    """Text up to the closing quote; falls back to the paragraph's first sentence."""
    cap = re.split(r'["“”\n]', answer, maxsplit=1)[0].strip()
    cap = cap.strip("。，,. ")
    if cap:
        return cap[:max_chars]
    first = re.split(r"(?<=[。！？.!?])\s*", paragraph.strip(), maxsplit=1)[0]
    return first.strip()[:max_chars] or "illustration"


# -- 4a. a search phrase for the online sources and the picture generator --------------
# Not in the original (its retrieval service took the Chinese caption). Openverse indexes
# titles, descriptions and tags that are overwhelmingly English, Commons' file pages and
# categories mostly English, and SD-Turbo's text encoder was trained on English captions:
# so the model is asked for a few English words, and the caption is the fallback.
QUERY_ANSWER_PREFIX = '英文关键词是"'
_QUERY_CHARS = re.compile(r"[^A-Za-z0-9' -]+")


def query_prompt(caption: str, markers: Markers) -> str:
    body = f'为配图"{caption}"写一个用于图片搜索的简短英文关键词（2到6个英文单词）。'
    return user_turn(body, markers) + QUERY_ANSWER_PREFIX


def parse_query(answer: str, caption: str, max_words: int = 8) -> str:
    """The English words up to the closing quote, at most ``max_words``; the caption when
    the answer holds no English word (a tiny random model's noise, or Chinese)."""
    head = re.split(r'["“”\n]', answer, maxsplit=1)[0]
    words = _QUERY_CHARS.sub(" ", head).split()
    words = [w.strip("'-") for w in words if re.search(r"[A-Za-z]{2}", w)][:max_words]
    return " ".join(words) if words else caption


# -- 4/5. the model picks among candidates ----------------------------------------------
PICK_ANSWER_PREFIX = "最合适的图是"


def letters(n: int) -> list[str]:
    if n > 26:
        raise ComposeError("at most 26 candidate images can be offered at once")
    return [chr(ord("A") + j) for j in range(n)]


def pick_prompt(context_chunks: Sequence[str], n_candidates: int, markers: Markers) -> str:
    """``context_chunks``: the article up to this slot, cut at each earlier slot; the
    images already chosen for those slots go between the chunks, then the candidates."""
    if n_candidates < 1:
        raise ComposeError("no candidate images to choose from")
    body = (
        "根据给定上下文和候选图像，选择合适的配图："
        + COMPOSE_PLACEHOLDER.join(context_chunks)
        + "候选图像包括: "
        + "\n".join(f"{c}.{COMPOSE_PLACEHOLDER}" for c in letters(n_candidates))
    )
    return user_turn(body, markers) + PICK_ANSWER_PREFIX


def context_chunks(paragraphs: Sequence[str], slots: Sequence[int], upto: int) -> list[str]:
    """Article text up to and including paragraph ``upto``, split after every earlier
    slot in ``slots`` (where that slot's chosen image sits)."""
    chunks, cur = [], ""
    for i, p in enumerate(paragraphs[: upto + 1]):
        cur += p + "\n"
        if i in slots and i < upto:
            chunks.append(cur)
            cur = ""
    chunks.append(cur)
    return chunks


def parse_choice(answer: str, n_candidates: int) -> int:
    """Index of the first stand-alone candidate letter in the answer ("C", " B.", "是D",
    "Answer is B"); 0 (A) when there is none."""
    valid = set(letters(n_candidates))
    for m in re.finditer(r"(?<![A-Za-z])([A-Z])(?![A-Za-z])", answer):
        if m.group(1) in valid:
            return ord(m.group(1)) - ord("A")
    return 0


# -- edits ----------------------------------------------------------------------------------
def edit_prompt(
    kind: str,
    text: str,
    instruction: str,
    markers: Markers,
    before: str = "",
    after: str = "",
) -> str:
    """The original demo's paragraph edits. Inserting needs an outline; rewrite and
    expand may use extra material; shorten takes none."""
    instruction = instruction.strip()
    if kind == "expand":
        body = f"扩写以下段落：{text}\n基于以下素材：{instruction}"
    elif kind == "rewrite":
        body = f"改写以下段落：{text}\n基于以下素材：{instruction}"
    elif kind == "shorten":
        body = "缩写以下段落：" + text
    elif kind in ("insert_before", "insert_after"):
        if not instruction:
            raise ComposeError("write an outline for the new paragraph first")
        first, second = (before, text) if kind == "insert_before" else (text, after)
        body = f"在以下两段中插入一段。\n第一段：{first}\n第二段：{second}\n插入段的大纲：{instruction}"
    else:
        raise ComposeError(f"unknown edit {kind!r}; use one of {', '.join(EDIT_KINDS)}")
    return user_turn(body, markers)


def clean_edit(answer: str) -> str:
    """An edited paragraph stays one paragraph (the original joined its lines)."""
    return re.sub(r"\n+", " ", answer).strip()
