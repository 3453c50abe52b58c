"""A scripted OpenAI-compatible ``/v1/completions`` server on 127.0.0.1 for browser tests.

The app under test runs in its own process, so a scripted model cannot be put into its
model manager; it can be *served* instead, through the app's real OpenAI backend
(settings.json ``"backend": "openai"``). Each POST streams the next scripted reply as
server-sent events the way LMDeploy / vLLM do, and every prompt is recorded.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from tests.servers import LoopbackHTTP, QuietHandler


class ScriptedCompletions(LoopbackHTTP):
    def __init__(self, replies: Sequence[str], chunk: int = 6) -> None:
        self.replies = list(replies)
        self.prompts: list[str] = []
        self.chunk = chunk
        owner = self

        class Handler(QuietHandler):
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

        super().__init__(Handler)

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"
