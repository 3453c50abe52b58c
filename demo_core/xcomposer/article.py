"""An illustrated article: paragraphs, each with at most one image slot, and its edits.

Kept free of Streamlit and of the model so edits are plain, testable operations; the UI
stores one :class:`Article` per browser session. The user's edits can be undone one step
(:meth:`Article.undo`): a paragraph is gone with one click, and it may carry an image.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field

from demo_core.i18n import _
from demo_core.xcomposer.images import ImageInput


@dataclass
class ImageSlot:
    """An image after a paragraph: its caption, the candidates offered, the one chosen."""

    caption: str = ""
    candidates: list[ImageInput] = field(default_factory=list)
    chosen: int | None = None  # index into candidates
    picked: int | None = None  # the model's choice (the user may have chosen another)
    query: str = ""  # the search phrase the sources were asked with ("" = the caption)

    @property
    def image(self) -> ImageInput | None:
        if self.chosen is None or not (0 <= self.chosen < len(self.candidates)):
            return None
        return self.candidates[self.chosen]


@dataclass
class Paragraph:
    text: str
    image: ImageSlot | None = None
    uid: str = field(default_factory=lambda: uuid.uuid4().hex[:10])  # stable widget keys


class EmptyText(ValueError):
    """An edit would leave a paragraph without text (use delete to remove one)."""


@dataclass
class Article:
    instruction: str = ""
    paragraphs: list[Paragraph] = field(default_factory=list)
    # the state before the user's last edit, and what that edit was
    _undo: tuple[str, list[Paragraph]] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_texts(cls, instruction: str, texts: list[str]) -> Article:
        return cls(instruction, [Paragraph(t) for t in texts])

    @property
    def texts(self) -> list[str]:
        return [p.text for p in self.paragraphs]

    @property
    def slots(self) -> list[int]:
        """Paragraph indices that carry a chosen image."""
        return [i for i, p in enumerate(self.paragraphs) if p.image and p.image.image]

    def chosen_images(self, before: int | None = None) -> list[ImageInput]:
        return [
            self.paragraphs[i].image.image  # type: ignore[union-attr,misc]
            for i in self.slots
            if before is None or i < before
        ]

    def used_names(self) -> set[str]:
        return {img.name for img in self.chosen_images()}

    # -- paragraph edits ----------------------------------------------------------------
    def index_of(self, uid: str) -> int:
        """Where paragraph ``uid`` is now (work running in the background refers to
        paragraphs by uid, not by a position that an edit could shift)."""
        for i, p in enumerate(self.paragraphs):
            if p.uid == uid:
                return i
        raise IndexError("that paragraph is no longer in the article")

    def _check(self, i: int) -> None:
        if not 0 <= i < len(self.paragraphs):
            raise IndexError(f"no paragraph {i + 1}; the article has {len(self.paragraphs)}")

    # -- undo -----------------------------------------------------------------------------
    def _remember(self, what: str) -> None:
        """Keep the state before a user's edit (images are shared, not copied: cheap)."""
        self._undo = (what, copy.deepcopy(self.paragraphs))

    @property
    def undo_label(self) -> str | None:
        """What :meth:`undo` would take back ("Delete paragraph 2"), or None."""
        return self._undo[0] if self._undo else None

    def undo(self) -> str | None:
        """Take back the last edit; returns its label (None: nothing to undo)."""
        if self._undo is None:
            return None
        what, self.paragraphs = self._undo
        self._undo = None
        return what

    def forget_undo(self) -> None:
        """Called when the model changes the article: an older state is no longer a
        one-step undo of anything the user sees."""
        self._undo = None

    # -- paragraph edits ------------------------------------------------------------------
    def replace_text(self, i: int, text: str) -> None:
        """New text for paragraph ``i``. An empty text is refused (:class:`EmptyText`):
        the original demo deleted the paragraph -- and its image -- without a word;
        deleting is :meth:`delete`'s job."""
        self._check(i)
        if not text.strip():
            raise EmptyText(
                f"the new text of paragraph {i + 1} is empty; to remove the paragraph, "
                "delete it instead"
            )
        self._remember(_("Rewrite of paragraph {n}").format(n=i + 1))
        self.paragraphs[i].text = text.strip()

    def insert(self, i: int, text: str, after: bool) -> int:
        """Insert a new paragraph before/after paragraph ``i``; returns its index."""
        self._check(i)
        if not text.strip():
            raise EmptyText("the new paragraph is empty")
        at = i + 1 if after else i
        self._remember(_("New paragraph {n}").format(n=at + 1))
        self.paragraphs.insert(at, Paragraph(text.strip()))
        return at

    def delete(self, i: int) -> None:
        self._check(i)
        self._remember(_("Delete paragraph {n}").format(n=i + 1))
        del self.paragraphs[i]

    # -- image edits ----------------------------------------------------------------------
    def set_slot(self, i: int, slot: ImageSlot | None) -> None:
        self._check(i)
        self.paragraphs[i].image = slot

    def choose(self, i: int, k: int) -> None:
        self._check(i)
        slot = self.paragraphs[i].image
        if slot is None or not 0 <= k < len(slot.candidates):
            raise IndexError(f"paragraph {i + 1} has no candidate {k + 1}")
        self._remember(_("Image choice for paragraph {n}").format(n=i + 1))
        self.paragraphs[i].image.chosen = k  # type: ignore[union-attr]

    def replace_image(self, i: int, image: ImageInput) -> None:
        """Put the user's own image in the slot (kept as an extra candidate). The same
        picture again -- "Use my image" pressed twice, or an image that already is a
        candidate -- is chosen, not added once more (compared by content, not name)."""
        self._check(i)
        self._remember(_("New image for paragraph {n}").format(n=i + 1))
        slot = self.paragraphs[i].image or ImageSlot()
        same = [k for k, c in enumerate(slot.candidates) if c.digest == image.digest]
        if same:
            slot.chosen = same[0]
        else:
            slot.candidates = [*slot.candidates, image]
            slot.chosen = len(slot.candidates) - 1
        self.paragraphs[i].image = slot

    def delete_image(self, i: int) -> None:
        self._check(i)
        self._remember(_("Delete the image of paragraph {n}").format(n=i + 1))
        self.paragraphs[i].image = None
