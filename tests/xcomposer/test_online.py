"""The optional online image source, against a real HTTP server on loopback."""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from urllib.parse import parse_qs, urlparse

import pytest
from PIL import Image

from demo_core import settings
from demo_core.xcomposer.composer import Composer
from demo_core.xcomposer.online import OnlineImageSearch, OnlineSearchError


def _png(color: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 12), color).save(buf, format="PNG")
    return buf.getvalue()


class _Handler(BaseHTTPRequestHandler):
    mode = "ok"
    queries: list[dict] = []

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:  # noqa: N802 -- http.server's name
        url = urlparse(self.path)
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        if url.path == "/search":
            type(self).queries.append(parse_qs(url.query))
            if self.mode == "500":
                return self._send(500, b"boom", "text/plain")
            body = {
                "images": [
                    {"url": f"{base}/img/red.png", "caption": "red"},
                    {"url": f"{base}/img/broken.png"},
                    {"url": "ftp://elsewhere/x.png"},
                    {"url": f"{base}/img/blue.png"},
                ]
            }
            return self._send(200, json.dumps(body).encode(), "application/json")
        if url.path == "/img/red.png":
            return self._send(200, _png("red"), "image/png")
        if url.path == "/img/blue.png":
            return self._send(200, _png("blue"), "image/png")
        if url.path == "/img/broken.png":
            return self._send(200, b"\x89PNG not really", "image/png")
        self._send(404, b"missing", "text/plain")

    def _send(self, code: int, body: bytes, ctype: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server():
    _Handler.mode, _Handler.queries = "ok", []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_search_downloads_and_checks_images(server):
    images, problems = OnlineImageSearch(f"{server}/search").search("红色的太阳", 4)
    assert [i.name for i in images] == ["online-1-red.png", "online-4-blue.png"]
    assert images[0].open().getpixel((0, 0)) == (255, 0, 0)
    assert len(problems) == 2 and any("no http(s)" in p for p in problems)
    assert _Handler.queries[0] == {"q": ["红色的太阳"], "k": ["4"]}


def test_http_error_and_unreachable_and_silent_servers(server):
    _Handler.mode = "500"
    with pytest.raises(OnlineSearchError, match="HTTP 500"):
        OnlineImageSearch(f"{server}/search").search("x", 2)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    with pytest.raises(OnlineSearchError, match="cannot reach"):
        OnlineImageSearch(f"http://127.0.0.1:{dead}/search", timeout_s=2).search("x", 2)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()  # accepts, never answers
    try:
        t0 = time.monotonic()
        with pytest.raises(OnlineSearchError, match="cannot reach"):
            OnlineImageSearch(
                f"http://127.0.0.1:{silent.getsockname()[1]}/s", timeout_s=0.5
            ).search("x", 1)
        assert time.monotonic() - t0 < 5
    finally:
        silent.close()


def test_off_unless_configured(studio_home, server):
    assert OnlineImageSearch.from_settings() is None
    settings.save({"image_search": {"url": f"{server}/search", "timeout_s": 3}})
    assert OnlineImageSearch.from_settings() == OnlineImageSearch(f"{server}/search", 3.0)


def test_composer_tops_up_candidates_online_and_reports_failures(server):
    engine = SimpleNamespace(markers=None)
    offline = Composer(engine)
    assert offline.candidates("sun", [], set(), k=3) == [] and offline.notices == []
    online = Composer(engine, online=OnlineImageSearch(f"{server}/search"))
    found = online.candidates("sun", [], {"online-4-blue.png"}, k=4)  # blue is already used
    assert [i.name for i in found] == ["online-1-red.png"]
    assert online.notices  # the broken image and the ftp link were reported
    _Handler.mode = "500"
    failing = Composer(engine, online=OnlineImageSearch(f"{server}/search"))
    assert failing.candidates("sun", [], set(), k=3) == []
    assert any("HTTP 500" in n for n in failing.notices)
