"""A first-come-first-served lock that tells each waiter its place in line.

One in-process model serves every browser session, so generations must take turns.
``threading.Lock`` gives no order and no way to say "you are 3rd"; this does, and a
waiter whose user pressed Stop leaves the line without ever touching the model.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class Cancelled(Exception):
    """The waiter was cancelled before its turn came."""


class FairQueue:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._line: list[object] = []  # tickets, head holds the model
        self._listeners: dict[object, Callable[[int], None]] = {}

    def __len__(self) -> int:
        with self._cond:
            return len(self._line)

    def acquire(
        self,
        on_position: Callable[[int], None] | None = None,
        is_cancelled: Callable[[], bool] = lambda: False,
        poll_s: float = 0.1,
    ) -> object:
        """Wait for our turn; ``on_position(n)`` hears "n ahead of you" whenever it changes."""
        ticket = object()
        with self._cond:
            self._line.append(ticket)
            if on_position:
                self._listeners[ticket] = on_position
            self._announce()
            while self._line[0] is not ticket:
                if is_cancelled():
                    self._leave(ticket)
                    raise Cancelled
                self._cond.wait(poll_s)
        return ticket

    def release(self, ticket: object) -> None:
        with self._cond:
            self._leave(ticket)

    def _leave(self, ticket: object) -> None:
        if ticket in self._line:
            self._line.remove(ticket)
        self._listeners.pop(ticket, None)
        self._announce()
        self._cond.notify_all()

    def _announce(self) -> None:
        for pos, ticket in enumerate(self._line):
            listener = self._listeners.get(ticket)
            if listener:
                listener(pos)
