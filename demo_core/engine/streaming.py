"""Turn generated token ids into clean text deltas as they arrive.

Decoding each new token alone breaks words: sentencepiece drops a leading space when a
piece starts a decode (the lesson's CLI demo lost its spaces this way) and a Chinese
character or emoji split over byte-fallback tokens decodes as U+FFFD until its last byte
arrives. So we decode a short window that starts a few tokens back (``prefix``) and emit
only what it adds beyond the already-emitted part (``read``), holding back while the
tail is an incomplete character.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable


class IncrementalDecoder:
    def __init__(self, decode: Callable[[list[int]], str], skip_ids: Iterable[int] = ()) -> None:
        self._decode = decode
        self._skip = set(skip_ids)
        self._ids: list[int] = []
        self._prefix = 0  # window start
        self._read = 0  # tokens already emitted as text

    def push(self, token_id: int) -> str:
        """Add one token; return the text it completes (maybe "")."""
        if token_id in self._skip:
            return ""
        self._ids.append(token_id)
        before = self._decode(self._ids[self._prefix : self._read])
        after = self._decode(self._ids[self._prefix :])
        if after.endswith("\ufffd") or len(after) <= len(before):
            return ""
        self._prefix, self._read = self._read, len(self._ids)
        return after[len(before) :]

    def flush(self) -> str:
        """Whatever is still held back at the end (e.g. a truly invalid byte)."""
        before = self._decode(self._ids[self._prefix : self._read])
        after = self._decode(self._ids[self._prefix :])
        self._prefix = self._read = len(self._ids)
        return after[len(before) :] if len(after) > len(before) else ""


def find_stop_word(text: str, stop_words: Iterable[str]) -> int:
    """Index of the earliest stop word in ``text`` (-1 if none)."""
    hits = [i for w in stop_words if w and (i := text.find(w)) >= 0]
    return min(hits) if hits else -1


def partial_stop_suffix(text: str, stop_words: Iterable[str]) -> int:
    """Length of the longest tail of ``text`` that could still become a stop word,
    so that half a stop word is never shown and then taken back."""
    best = 0
    for w in stop_words:
        for n in range(min(len(w) - 1, len(text)), 0, -1):
            if text.endswith(w[:n]):
                best = max(best, n)
                break
    return best
