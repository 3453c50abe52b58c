"""Over the OpenAI-compatible API the panel uses the server's logprobs, and says when
there are none. The servers are stand-ins on 127.0.0.1 that record what was asked."""

from __future__ import annotations

import json
import math
import socket
from collections.abc import Callable
from dataclasses import replace

import pytest

from demo_core.engine.base import Generation, GenerationParams
from demo_core.engine.openai_backend import NO_LOGPROBS, OpenAIConfig, OpenAIEngine
from tests.servers import SocketServer, read_request

MSGS = [{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"}]
EXPLAIN = GenerationParams(max_new_tokens=8, do_sample=False, explain=True)


def recording(body: bytes, seen: list):
    def handler(conn: socket.socket) -> None:
        seen.append(read_request(conn))
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        conn.sendall(head + body)
        conn.close()

    return handler


def sse(obj: dict) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def chat_chunk(text, lp=None, top=(), finish=None) -> bytes:
    choice = {"index": 0, "delta": {"content": text} if text else {}}
    if lp is not None:
        choice["logprobs"] = {
            "content": [
                {
                    "token": text,
                    "logprob": lp,
                    "top_logprobs": [{"token": t, "logprob": v} for t, v in top],
                }
            ]
        }
    if finish:
        choice["finish_reason"] = finish
    return sse({"choices": [choice]})


def engine(url: str) -> OpenAIEngine:
    return OpenAIEngine(OpenAIConfig(key="k", base_url=url, model="m"))


def _body(raw: bytes) -> dict:
    return json.loads(raw.split(b"\r\n\r\n", 1)[1])


def served(body: bytes, call: Callable[[OpenAIEngine], Generation]) -> tuple[Generation, str, dict]:
    """``call`` an engine whose server is a stand-in answering ``body``: the generation,
    its text and the JSON the engine sent."""
    seen: list = []
    srv = SocketServer(recording(body, seen))
    try:
        gen = call(engine(srv.base_url))
        text = gen.result()
    finally:
        srv.close()
    return gen, text, _body(seen[0])


def test_chat_logprobs_become_the_token_steps():
    body = (
        chat_chunk("Hel", math.log(0.6), [("Hel", math.log(0.6)), ("Hi", math.log(0.3))])
        + chat_chunk("lo", math.log(0.9), [("lo", math.log(0.9))])
        + chat_chunk(None, finish="stop")
        + b"data: [DONE]\n\n"
    )
    gen, text, sent = served(body, lambda e: e.stream_chat(MSGS, EXPLAIN))
    assert text == "Hello"
    assert sent["logprobs"] is True and sent["top_logprobs"] == 10
    steps = gen.trace.token_steps()
    assert [s.text for s in steps] == ["Hel", "lo"]
    assert steps[0].prob == pytest.approx(0.6)
    assert [(a.text, round(a.prob, 3)) for a in steps[0].top] == [("Hel", 0.6), ("Hi", 0.3)]
    assert gen.trace.source == "openai" and "server reports" in gen.trace.note
    assert gen.trace.prompt_text.startswith("<s><|im_start|>system\nsys")


def test_no_logprobs_says_so_and_off_asks_for_none():
    body = chat_chunk("Hi") + chat_chunk(None, finish="stop") + b"data: [DONE]\n\n"
    for params in (EXPLAIN, GenerationParams(max_new_tokens=8, do_sample=False)):
        gen, text, sent = served(body, lambda e, params=params: e.stream_chat(MSGS, params))
        assert text == "Hi"
        if params.explain:
            assert gen.trace.token_steps() == [] and gen.trace.note == NO_LOGPROBS
        else:
            assert gen.trace is None and "logprobs" not in sent


def test_completion_legacy_logprobs():
    def comp(text, lp, top):
        return sse(
            {
                "choices": [
                    {
                        "index": 0,
                        "text": text,
                        "logprobs": {
                            "tokens": [text],
                            "token_logprobs": [lp],
                            "top_logprobs": [top],
                        },
                    }
                ]
            }
        )

    body = (
        comp("A", math.log(0.5), {"A": math.log(0.5), "B": math.log(0.4)})
        + sse({"choices": [{"index": 0, "text": "", "finish_reason": "stop"}]})
        + b"data: [DONE]\n\n"
    )
    gen, text, sent = served(
        body, lambda e: e.stream_text("<s>raw", replace(EXPLAIN, keep_special_tokens=True))
    )
    assert text == "A"
    assert sent["logprobs"] == 10
    (step,) = gen.trace.token_steps()
    assert step.text == "A" and step.prob == pytest.approx(0.5)
    assert [a.text for a in step.top] == ["A", "B"]
