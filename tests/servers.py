"""Servers on 127.0.0.1 for the tests: the real OpenAI one, broken ones, and the base of
every HTTP stand-in.

``transformers serve`` is a real OpenAI-compatible server (FastAPI + uvicorn) that pip
installs in seconds; it serves the tiny checkpoint exported to Llama layout. The broken
servers are raw sockets that misbehave the ways a real deployment does: never answer,
answer with junk, drop the stream. :class:`LoopbackHTTP` and :class:`QuietHandler` are
what the ``http.server`` stand-ins (hub, OpenXLab, scripted completions, picture
services) share: a threaded server on a free loopback port, served while in a ``with``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def suppress_byte_tokens(model_dir: Path) -> None:
    """Zero the output rows of the ``<0x..>`` byte-fallback pieces of a tiny checkpoint.

    Random weights otherwise emit lone UTF-8 bytes, and ``transformers serve``'s stream
    decoder fails on some of those sequences ("Invalid prefix encountered while decoding
    stream") and drops a trailing incomplete character -- bugs of that server, not of the
    client under test. With zero logits those tokens never win a greedy argmax.
    """
    import sentencepiece as spm
    from safetensors.torch import load_file, save_file

    sp = spm.SentencePieceProcessor(model_file=str(model_dir / "tokenizer.model"))
    byte_ids = [i for i in range(sp.get_piece_size()) if sp.is_byte(i)]
    path = model_dir / "model.safetensors"
    sd = load_file(str(path))
    sd["output.weight"][byte_ids] = 0.0
    save_file(sd, str(path), metadata={"format": "pt"})


class TransformersServe:
    """``transformers serve <folder>`` as a subprocess on a free loopback port."""

    def __init__(self, model_dir: Path, log_path: Path) -> None:
        self.model_dir = model_dir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.model_id = str(model_dir)
        self.log_path = log_path
        env = dict(os.environ)
        env.update(
            HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
            HF_HUB_DISABLE_UPDATE_CHECK="1",
            HF_HUB_DISABLE_TELEMETRY="1",
            OMP_NUM_THREADS="1",
        )
        cmd = [
            sys.executable,
            "-m",
            "transformers.cli.transformers",
            "serve",
            str(model_dir),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--device",
            "cpu",
            "--dtype",
            "float32",
        ]
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env)

    def wait_healthy(self, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"transformers serve exited:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.25)
        raise RuntimeError(f"transformers serve not healthy in {timeout_s} s:\n{self.log_tail()}")

    def log_tail(self, n: int = 3000) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-n:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


def read_request(conn: socket.socket) -> bytes:
    """Read one HTTP request (headers and a Content-Length body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


class SocketServer:
    """A loopback TCP server whose every connection is handled by ``handler(conn)``."""

    def __init__(self, handler: Callable[[socket.socket], None]) -> None:
        self.handler = handler
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.connections: list[socket.socket] = []
        self.closed_by_client = threading.Event()
        self._stop = threading.Event()
        # set here, not in the thread: a server closed before its thread ran would make
        # settimeout() raise EBADF there
        self.sock.settimeout(0.2)
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self.handler(conn)
        except OSError:
            pass

    def wait_for_client_close(self, conn: socket.socket, timeout_s: float) -> bool:
        """True if the client closed ``conn`` (EOF) within ``timeout_s``."""
        conn.settimeout(timeout_s)
        try:
            while True:
                if conn.recv(65536) == b"":
                    return True
        except (TimeoutError, OSError):
            return False

    def close(self) -> None:
        self._stop.set()
        self._thread.join()  # no accept() on a socket being closed
        for c in self.connections:
            try:
                c.close()
            except OSError:
                pass
        self.sock.close()


def canned(status: str, body: bytes, content_type: str = "text/event-stream") -> Callable:
    """A handler that reads the request and sends one fixed response, then closes."""

    def handler(conn: socket.socket) -> None:
        read_request(conn)
        head = (
            f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        conn.sendall(head + body)
        conn.close()

    return handler


def silent(conn: socket.socket) -> None:
    """Accept, read the request, never answer (the connection stays open)."""
    read_request(conn)


class Quiet:
    """An ``http.server`` handler mixin that logs nothing (keeps pytest output clean)."""

    def log_message(self, *args) -> None:
        pass


class QuietHandler(Quiet, BaseHTTPRequestHandler):
    """The base of the stand-ins' handlers: HTTP/1.1 (keep-alive, like the real services)."""

    protocol_version = "HTTP/1.1"


class LoopbackHTTP:
    """A threaded ``http.server`` on 127.0.0.1 (a free port unless ``port``), serving from a
    daemon thread between ``start()`` and ``stop()`` -- or inside a ``with``."""

    def __init__(self, handler, port: int = 0, poll_interval: float = 0.5) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": poll_interval}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
