"""A streaming HTTP POST that another thread can abort at once, with errors a user can act on.

Built on ``http.client`` rather than a client library because two things matter here
and both need the socket itself: a Stop press must end the request *now* (closing a
socket from another thread does not wake a blocked ``recv`` on Linux, ``shutdown`` does),
and the read timeout must mean "the server went silent for N seconds", not "the whole
answer took N seconds" -- a long story legitimately streams for minutes.
Environment proxies are ignored on purpose: the servers this talks to are local.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from urllib.parse import urlsplit

from demo_core.engine.base import EngineError, ModelUnavailable
from demo_core.i18n import _

MAX_LINE = 4 * 1024 * 1024  # one SSE line; a bigger one is a broken server, not a token


@dataclass(frozen=True)
class Endpoint:
    """A parsed ``base_url`` such as ``http://127.0.0.1:23333/v1``."""

    scheme: str
    host: str
    port: int
    prefix: str  # path prefix without trailing slash, e.g. "/v1"

    @classmethod
    def parse(cls, base_url: str) -> Endpoint:
        parts = urlsplit(base_url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise EngineError(
                _(
                    "base_url {url} is not an http(s) URL; it should look like "
                    "http://127.0.0.1:23333/v1"
                ).format(url=repr(base_url))
            )
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise EngineError(
                _("base_url {url} has an invalid port").format(url=repr(base_url))
            ) from None
        return cls(parts.scheme, parts.hostname, port, parts.path.rstrip("/"))

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}{self.prefix}"


def error_message(body: bytes) -> str:
    """The human part of an error body, whichever server wrote it.

    OpenAI/vLLM: ``{"error": {"message": ...}}``; LMDeploy: ``{"message": ..., "code": ...}``;
    FastAPI (transformers serve): ``{"detail": "..."}`` or a list of validation errors.
    """
    text = body.decode("utf-8", errors="replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:500] or "(empty body)"
    return _message_from(data)[:500]


def _message_from(data: object) -> str:
    if isinstance(data, str):
        return data
    if isinstance(data, list):
        return "; ".join(_message_from(d) for d in data)
    if isinstance(data, dict):
        for key in ("error", "message", "detail", "msg"):
            if key in data and data[key]:
                return _message_from(data[key])
    return json.dumps(data, ensure_ascii=False)


class HttpStatusError(EngineError):
    """The server answered with an HTTP error status; :attr:`status` lets callers react."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _hint(status: int, message: str) -> str:
    if status in (401, 403):
        return " " + _("Check api_key in settings.json.")
    if status == 404:
        return " " + _(
            "Check that base_url ends with /v1 and that model names a model the server serves."
        )
    if "unexpected field" in message.lower() or "extra inputs" in message.lower():
        return " " + _(
            "This server accepts only standard OpenAI fields: set "
            '"extended_params": false for this model in settings.json.'
        )
    return ""


class HttpStream:
    """One POST whose response is read line by line; :meth:`abort` works from any thread."""

    def __init__(
        self,
        endpoint: Endpoint,
        path: str,
        body: dict | None,
        *,
        api_key: str = "",
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 120.0,
        method: str = "POST",
    ) -> None:
        self.endpoint = endpoint
        self.path = endpoint.prefix + path
        self.body = body
        self.api_key = api_key
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self.method = method
        self._conn: http.client.HTTPConnection | None = None
        self._resp: http.client.HTTPResponse | None = None
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._aborted = False

    @property
    def aborted(self) -> bool:
        return self._aborted

    # -- opening -------------------------------------------------------------------
    def open(self) -> http.client.HTTPResponse:
        """Connect, send, and read the status; an HTTP error becomes an :class:`EngineError`."""
        ep = self.endpoint
        cls = http.client.HTTPSConnection if ep.scheme == "https" else http.client.HTTPConnection
        conn = cls(ep.host, ep.port, timeout=self.connect_timeout_s)
        with self._lock:
            self._conn = conn
            if self._aborted:
                raise EngineError(_("request cancelled"))
        try:
            conn.connect()
        except ConnectionRefusedError:
            raise ModelUnavailable(
                _(
                    "No model server is running at {url} (connection refused). Start the server "
                    "(see the README: lmdeploy serve api_server / vllm serve) or fix base_url in "
                    "settings.json."
                ).format(url=ep.url)
            ) from None
        except TimeoutError:
            raise ModelUnavailable(
                _(
                    "The model server at {url} did not accept a connection within "
                    "{s} s. Is the address right and the machine up?"
                ).format(url=ep.url, s=f"{self.connect_timeout_s:g}")
            ) from None
        except socket.gaierror as exc:
            raise ModelUnavailable(
                _("Cannot resolve the host of {url}: {error}.").format(url=ep.url, error=exc)
            ) from None
        except OSError as exc:
            raise ModelUnavailable(
                _("Cannot reach the model server at {url}: {error}.").format(url=ep.url, error=exc)
            ) from None
        with self._lock:
            self._sock = conn.sock
            if self._aborted:
                self._shutdown()
                raise EngineError(_("request cancelled"))
        conn.sock.settimeout(self.read_timeout_s)  # from now on: max silence between bytes
        headers = {"Accept": "text/event-stream, application/json"}
        payload = None
        if self.body is not None:
            payload = json.dumps(self.body, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        try:
            conn.request(self.method, self.path, body=payload, headers=headers)
            resp = conn.getresponse()
        except Exception as exc:
            raise self._read_error(exc) from None
        self._resp = resp
        if resp.status >= 400:
            try:
                body = resp.read(64 * 1024)
            except Exception:
                body = b""
            msg = error_message(body)
            self.close()
            raise HttpStatusError(
                _("The model server answered HTTP {status} {reason}: {message}.").format(
                    status=resp.status, reason=resp.reason, message=msg
                )
                + _hint(resp.status, msg),
                resp.status,
            )
        return resp

    # -- reading -------------------------------------------------------------------
    def lines(self) -> Iterator[bytes]:
        """Raw response lines (without the line ending) until the server closes."""
        resp = self._resp or self.open()
        while True:
            try:
                line = resp.readline(MAX_LINE + 1)
            except Exception as exc:
                raise self._read_error(exc) from None
            if not line:
                return
            if len(line) > MAX_LINE:
                raise EngineError(_("The model server sent a line longer than 4 MiB; giving up."))
            yield line.rstrip(b"\r\n")

    def read_all(self, limit: int = 16 * 1024 * 1024) -> bytes:
        resp = self._resp or self.open()
        try:
            return resp.read(limit)
        except Exception as exc:
            raise self._read_error(exc) from None

    def _read_error(self, exc: BaseException) -> EngineError:
        if self._aborted:
            return EngineError(_("request cancelled"))
        if isinstance(exc, TimeoutError):
            return EngineError(
                _(
                    "The model server at {url} accepted the request but sent nothing "
                    "for {s} s: it may be overloaded or stuck. Try again, or "
                    "raise timeout_s for this model in settings.json."
                ).format(url=self.endpoint.url, s=f"{self.read_timeout_s:g}")
            )
        if isinstance(exc, (http.client.RemoteDisconnected, ConnectionError)):
            return EngineError(
                _(
                    "The model server at {url} closed the connection before answering "
                    "completely (did it crash or restart?)."
                ).format(url=self.endpoint.url)
            )
        if isinstance(exc, http.client.HTTPException):
            return EngineError(
                _("The model server at {url} sent a malformed HTTP response ({error}).").format(
                    url=self.endpoint.url, error=repr(exc)
                )
            )
        return EngineError(
            _("Talking to the model server at {url} failed: {error}").format(
                url=self.endpoint.url, error=exc
            )
        )

    # -- ending --------------------------------------------------------------------
    def abort(self) -> None:
        """Stop now, from any thread: wakes a blocked read and drops the connection, which
        is how an OpenAI-compatible server learns to stop generating."""
        with self._lock:
            self._aborted = True
            self._shutdown()

    def _shutdown(self) -> None:
        if self._sock is not None:
            with suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        conn = self._conn
        if conn is not None:
            with suppress(Exception):
                conn.close()


def iter_sse_data(lines: Iterator[bytes]) -> Iterator[str]:
    """The ``data`` payloads of a server-sent-event stream, one string per event.

    Handles multi-line data fields and comments; stops at ``[DONE]``. A line that is not
    SSE at all (say an HTML error page sent with status 200) is a malformed stream.
    """
    buf: list[str] = []
    for raw in lines:
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise EngineError(_("The model server sent a stream that is not UTF-8.")) from None
        if not line:
            if buf:
                data = "\n".join(buf)
                buf = []
                if data.strip() == "[DONE]":
                    return
                yield data
            continue
        if line.startswith(":"):
            continue  # comment / keep-alive
        field, _sep, value = line.partition(":")
        if field == "data":
            buf.append(value[1:] if value.startswith(" ") else value)
        elif field in ("event", "id", "retry"):
            continue
        else:
            raise EngineError(
                _(
                    "The model server sent a malformed event stream (line {line}); is "
                    "base_url pointing at an OpenAI-compatible /v1 API?"
                ).format(line=repr(line[:120]))
            )
    if buf:
        data = "\n".join(buf)
        if data.strip() != "[DONE]":
            yield data
