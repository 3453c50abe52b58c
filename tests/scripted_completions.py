"""A scripted OpenAI-compatible ``/v1/completions`` server on 127.0.0.1 for browser tests.

The app under test runs in its own process, so a scripted model cannot be put into its
model manager; it can be *served* instead, through the app's real OpenAI backend
(settings.json ``"backend": "openai"``). Each POST streams the next scripted reply as
server-sent events the way LMDeploy / vLLM do, and every prompt is recorded.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ScriptedCompletions:
    def __init__(self, replies: Sequence[str], chunk: int = 6) -> None:
        self.replies = list(replies)
        self.prompts: list[str] = []
        self.chunk = chunk
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                owner.prompts.append(body.get("prompt", ""))
                text = owner.replies.pop(0) if owner.replies else "Final Answer: (no more)"
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                for i in range(0, len(text), owner.chunk):
                    event = {"choices": [{"index": 0, "text": text[i : i + owner.chunk]}]}
                    self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                    self.wfile.flush()
                done = {"choices": [{"index": 0, "text": "", "finish_reason": "stop"}]}
                self.wfile.write(f"data: {json.dumps(done)}\n\ndata: [DONE]\n\n".encode())
                self.wfile.flush()
                self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> ScriptedCompletions:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
