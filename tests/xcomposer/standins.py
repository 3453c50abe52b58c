"""Local stand-ins for Wikimedia Commons' Action API and Openverse's image search, on
127.0.0.1, answering as the real services do (fixtures in ``fixtures/``, recorded from
their documented formats): the search answers with results, image URLs and licence
metadata, no results, refused requests, HTTP 429 with ``Retry-After``, silence past
the timeout, HTML where JSON was expected, and pictures that fail to download.

``python -m tests.xcomposer.standins PORT`` serves them by hand, for trying the UI.
"""

from __future__ import annotations

import io
import json
import sys
import threading
import time
import zlib
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from PIL import Image, ImageDraw

from tests.servers import LoopbackHTTP, QuietHandler

FIXTURES = Path(__file__).parent / "fixtures"
PICTURE_SOURCES = ("library", "commons", "openverse", "generate")
# each picture source alone, then all of them: the switches of SourceSettings
SOURCES = {
    **{name: {s: s == name for s in PICTURE_SOURCES} for name in PICTURE_SOURCES},
    "all": dict.fromkeys(PICTURE_SOURCES, True),
}


def fixture(name: str, base: str) -> bytes:
    return (FIXTURES / name).read_text(encoding="utf-8").replace("{base}", base).encode("utf-8")


def picture(seed: str, fmt: str = "JPEG") -> bytes:
    """A recognisable picture per URL: a colour from the name, a few shapes."""
    h = zlib.crc32(seed.encode())
    colour = (h & 0xFF, (h >> 8) & 0xFF, (h >> 16) & 0xFF)
    img = Image.new("RGB", (320, 240), colour)
    draw = ImageDraw.Draw(img)
    draw.ellipse((40, 40, 200, 200), fill=(255 - colour[0], 255 - colour[1], 255 - colour[2]))
    draw.rectangle((180, 120, 300, 220), outline=(255, 255, 255), width=6)
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


class State:
    def __init__(self) -> None:
        self.commons = "ok"  # ok | none | error | 429 | slow | html | badimages
        self.openverse = "ok"  # ok | none | 400 | 429 | slow | html | badimages
        self.slow_s = 3.0
        self.requests: list[tuple[str, dict]] = []  # (service, query) of each search
        self.lock = threading.Lock()

    def log(self, service: str, query: dict) -> None:
        with self.lock:
            self.requests.append((service, query))

    def count(self, service: str) -> int:
        with self.lock:
            return sum(1 for s, _ in self.requests if s == service)


def make_handler(state: State):
    class Handler(QuietHandler):
        def do_GET(self) -> None:  # noqa: N802
            url = urlparse(self.path)
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            if url.path == "/w/api.php":
                return self.commons(q, base)
            if url.path == "/v1/images/":
                return self.openverse(q, base)
            if url.path.startswith(("/upload/", "/provider/")) or url.path.endswith("/thumb/"):
                service = (
                    "openverse" if "/v1/" in url.path or "/provider/" in url.path else "commons"
                )
                if getattr(state, service) == "badimages":
                    return self.send(404, b"<html>Not Found</html>", "text/html")
                fmt = "PNG" if url.path.endswith(".png") else "JPEG"
                return self.send(200, picture(url.path, fmt), f"image/{fmt.lower()}")
            self.send(404, b"not found", "text/plain")

        def commons(self, q: dict, base: str) -> None:
            state.log("commons", q)
            mode = state.commons
            if q.get("action") != "query" or q.get("generator") != "search":
                return self.send(200, fixture("commons_error.json", base), "application/json")
            if mode == "429":  # Wikimedia's edge: HTML body, Retry-After in seconds
                return self.send(
                    429,
                    b"<html><body>Too many requests</body></html>",
                    "text/html",
                    {"Retry-After": "120"},
                )
            if mode == "slow":
                time.sleep(state.slow_s)
            if mode == "html":
                return self.send(200, b"<!DOCTYPE html><html>Wikimedia Error</html>", "text/html")
            name = {"none": "commons_no_results.json", "error": "commons_error.json"}.get(
                mode, "commons_search.json"
            )
            headers = {"MediaWiki-API-Error": "badvalue"} if mode == "error" else {}
            self.send(200, fixture(name, base), "application/json; charset=utf-8", headers)

        def openverse(self, q: dict, base: str) -> None:
            state.log("openverse", q)
            mode = state.openverse
            if mode == "429":  # Django REST Framework's throttle
                return self.send(
                    429,
                    fixture("openverse_429.json", base),
                    "application/json",
                    {"Retry-After": "120"},
                )
            if mode == "400" or int(q.get("page_size", "20")) > 20:
                return self.send(400, fixture("openverse_400.json", base), "application/json")
            if mode == "slow":
                time.sleep(state.slow_s)
            if mode == "html":
                return self.send(200, b"<html>502 Bad Gateway</html>", "text/html")
            name = "openverse_no_results.json" if mode == "none" else "openverse_search.json"
            self.send(200, fixture(name, base), "application/json")

        def send(self, code: int, body: bytes, ctype: str, headers: dict | None = None) -> None:
            try:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

    return Handler


class StandIns(LoopbackHTTP):
    """Both services on one loopback port; ``commons_url``/``openverse_url`` are what
    settings.json's ``image_sources`` takes."""

    def __init__(self, port: int = 0) -> None:
        self.state = State()
        super().__init__(make_handler(self.state), port)
        self.commons_url = f"{self.url}/w/api.php"
        self.openverse_url = f"{self.url}/v1/images/"

    def settings(self, **extra) -> dict:
        return {"commons_url": self.commons_url, "openverse_url": self.openverse_url, **extra}

    def source_settings(self, which: str):
        """``SourceSettings`` with the sources of ``SOURCES[which]`` on: Commons and
        Openverse are these stand-ins, pictures are drawn by tiny-sd."""
        from demo_core.xcomposer.sources.config import SourceSettings

        return replace(
            SourceSettings(),
            **SOURCES[which],
            generate_model="tiny-sd",
            commons_url=self.commons_url,
            openverse_url=self.openverse_url,
        )


if __name__ == "__main__":
    with StandIns(int(sys.argv[1]) if len(sys.argv) > 1 else 0) as s:
        print(json.dumps({"image_sources": s.settings()}), flush=True)
        s.thread.join()
