"""Bytes, speed and ETA of one download, readable from another thread at any time.

The download thread only calls :meth:`Meter.add`; the UI (another thread, another
browser tab) reads :meth:`Meter.snapshot`. Speed is measured over a sliding window so it
reacts to a stalled link within seconds instead of averaging over the whole run, and it
counts only bytes moved in *this* run -- resumed bytes are not a speed.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

from demo_core.i18n import _, format_size

WINDOW_S = 5.0


@dataclass(frozen=True)
class Snapshot:
    done: int  # bytes on disk for this job (resumed + new)
    total: int | None
    speed: float  # bytes/s over the last few seconds
    current_file: str
    files_done: int
    files_total: int

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(1.0, self.done / self.total)

    @property
    def eta_s(self) -> float | None:
        if not self.total or self.speed <= 0:
            return None
        return max(0.0, (self.total - self.done) / self.speed)

    def line(self) -> str:
        """One human line: ``12.3 / 30.0 MB · 5.1 MB/s · ETA 4 s · file 2/7 model.safetensors``."""
        parts = [f"{fmt_bytes(self.done)} / {fmt_bytes(self.total) if self.total else '?'}"]
        parts.append(f"{fmt_bytes(self.speed)}/s")
        eta = self.eta_s
        if eta is not None:
            parts.append(_("ETA {time}").format(time=fmt_duration(eta)))
        if self.files_total:
            parts.append(
                _("file {n}/{total}").format(
                    n=min(self.files_done + 1, self.files_total), total=self.files_total
                )
            )
        if self.current_file:
            parts.append(self.current_file)
        return " · ".join(parts)


class Meter:
    def __init__(self, clock=time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._samples: deque[tuple[float, int]] = deque()
        self._moved = 0  # bytes transferred in this run
        self.done = 0
        self.total: int | None = None
        self.current_file = ""
        self.files_done = 0
        self.files_total = 0

    def start(self, total: int | None, files_total: int, already: int = 0) -> None:
        with self._lock:
            self.total, self.files_total, self.done = total, files_total, already

    def add(self, n: int) -> None:
        now = self._clock()
        with self._lock:
            self.done += n
            self._moved += n
            self._samples.append((now, self._moved))
            while len(self._samples) > 2 and now - self._samples[0][0] > WINDOW_S:
                self._samples.popleft()

    def file(self, name: str, files_done: int) -> None:
        with self._lock:
            self.current_file, self.files_done = name, files_done

    def speed(self) -> float:
        now = self._clock()
        with self._lock:
            while len(self._samples) > 1 and now - self._samples[0][0] > WINDOW_S:
                self._samples.popleft()
            if not self._samples:
                return 0.0
            t0, b0 = self._samples[0]
            if now - self._samples[-1][0] > WINDOW_S:  # stalled
                return 0.0
            span = max(now - t0, 1e-3)
            moved = self._moved - b0
            return moved / span if len(self._samples) > 1 else 0.0

    def snapshot(self) -> Snapshot:
        speed = self.speed()
        with self._lock:
            return Snapshot(
                self.done,
                self.total,
                speed,
                self.current_file,
                self.files_done,
                self.files_total,
            )


def fmt_bytes(n: float | None) -> str:
    """Bytes in decimal units, in the current language (demo_core.i18n.format_size)."""
    if n is None:
        return "?"
    return format_size(n)


def fmt_duration(s: float) -> str:
    s = int(round(s))
    if s < 60:
        return _("{s} s").format(s=s)
    if s < 3600:
        return _("{m} min {s} s").format(m=s // 60, s=f"{s % 60:02d}")
    return _("{h} h {m} min").format(h=s // 3600, m=f"{s % 3600 // 60:02d}")
