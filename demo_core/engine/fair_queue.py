"""A first-come-first-served lock that tells each waiter its place in line.

One in-process model serves every browser session, so generations must take turns.
``threading.Lock`` gives no order and no way to say "you are 3rd"; this does, and a
waiter whose user pressed Stop leaves the line without ever touching the model.

With continuous batching the model holds several requests at once: the queue then has
``capacity`` slots, a batched request takes ``weight`` of them (its share of the KV cache)
and one that runs ``generate()`` alone takes all of them. Admission stays strictly in
order -- nobody overtakes a waiter, not even a small request that would fit -- so the
places shown only ever go down.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class Cancelled(Exception):
    """The waiter was cancelled before its turn came."""


class FairQueue:
    def __init__(self, capacity: int = 1) -> None:
        self.capacity = max(1, capacity)
        self._cond = threading.Condition()
        self._line: list[object] = []  # tickets in arrival order; admitted ones hold slots
        self._weights: dict[object, int] = {}
        self._admitted: set[object] = set()
        self._listeners: dict[object, Callable[[int], None]] = {}

    def __len__(self) -> int:
        with self._cond:
            return len(self._line)

    def acquire(
        self,
        on_position: Callable[[int], None] | None = None,
        is_cancelled: Callable[[], bool] = lambda: False,
        poll_s: float = 0.1,
        weight: int | None = None,
    ) -> object:
        """Wait for our turn; ``on_position(n)`` hears "n ahead of you" whenever it changes.

        ``weight``: slots taken (default: all of them, i.e. the model alone)."""
        ticket = object()
        with self._cond:
            self._line.append(ticket)
            self._weights[ticket] = min(self.capacity, weight or self.capacity)
            if on_position:
                self._listeners[ticket] = on_position
            self._admit()
            self._announce()
            while ticket not in self._admitted:
                if is_cancelled():
                    self._leave(ticket)
                    raise Cancelled
                self._cond.wait(poll_s)
        return ticket

    def release(self, ticket: object) -> None:
        with self._cond:
            self._leave(ticket)

    def _admit(self) -> None:
        used = sum(self._weights[t] for t in self._admitted)
        for ticket in self._line:
            if ticket in self._admitted:
                continue
            if used + self._weights[ticket] > self.capacity:
                break  # first come, first served: nobody behind may overtake
            self._admitted.add(ticket)
            used += self._weights[ticket]

    def _leave(self, ticket: object) -> None:
        if ticket in self._line:
            self._line.remove(ticket)
        self._admitted.discard(ticket)
        self._weights.pop(ticket, None)
        self._listeners.pop(ticket, None)
        self._admit()
        self._announce()
        self._cond.notify_all()

    def _announce(self) -> None:
        for pos, ticket in enumerate(self._line):
            listener = self._listeners.get(ticket)
            if listener:
                listener(0 if ticket in self._admitted else pos)
