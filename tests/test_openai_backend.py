"""The OpenAI-compatible backend against a real server (``transformers serve``) and broken ones.

The real server serves the tiny random checkpoint exported to Llama layout; the
in-process engine loads the very same checkpoint, so greedy decoding through the HTTP
backend must give exactly the in-process text and token count.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

import pytest

from demo_core.engine.base import (
    EngineError,
    EngineInfo,
    GenerationParams,
    ModelUnavailable,
)
from demo_core.engine.content_parts import image_data_url, text_of, to_wire
from demo_core.engine.http_stream import Endpoint, error_message, iter_sse_data
from demo_core.engine.local import TransformersEngine
from demo_core.engine.openai_backend import OpenAIConfig, OpenAIEngine, config_from_settings
from demo_core.internlm2.export_llama import export_llama
from demo_core.internlm2.loader import load_internlm2
from demo_core.internlm2.tiny import build_tiny_internlm2
from tests.servers import (
    SocketServer,
    TransformersServe,
    canned,
    free_port,
    silent,
    suppress_byte_tokens,
)

GREEDY = GenerationParams(max_new_tokens=24, do_sample=False, repetition_penalty=1.0)
CONVERSATIONS = [
    [{"role": "user", "content": "Hello story"}],
    [{"role": "user", "content": "请写一个三百字的小故事。"}],
    [
        {"role": "system", "content": "You are InternLM, a helpful assistant."},
        {"role": "user", "content": "Once upon a time"},
        {"role": "assistant", "content": "there was a robot."},
        {"role": "user", "content": "The quick brown fox"},
    ],
]


# -- the real server ------------------------------------------------------------------
@pytest.fixture(scope="module")
def internlm2_dir(tmp_path_factory) -> Path:
    path = build_tiny_internlm2(tmp_path_factory.mktemp("served") / "tiny-internlm2", seed=0)
    suppress_byte_tokens(path)
    return path


@pytest.fixture(scope="module")
def server(internlm2_dir, tmp_path_factory):
    if not os.environ.get("CI"):  # in CI the test extra is installed: a skip would hide it
        pytest.importorskip("fastapi", reason="transformers serve needs the test extra")
    llama_dir = export_llama(internlm2_dir, tmp_path_factory.mktemp("served") / "tiny-llama")
    srv = TransformersServe(llama_dir, tmp_path_factory.mktemp("logs") / "serve.log")
    try:
        srv.wait_healthy()
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def local_engine(internlm2_dir) -> TransformersEngine:
    loaded = load_internlm2(internlm2_dir)
    return TransformersEngine(
        loaded, EngineInfo("tiny", "tiny", "transformers", context_window=loaded.context_window)
    )


def remote_engine(server, **overrides) -> OpenAIEngine:
    cfg = dict(
        key="tiny-internlm2",
        base_url=server.base_url,
        model=server.model_id,
        api_key="sk-local-test",
        context_window=1024,
        extended_params=False,  # transformers serve rejects top_k / repetition_penalty
    )
    cfg.update(overrides)
    return OpenAIEngine(OpenAIConfig(**cfg))


def post_json(url: str, body: dict) -> dict:
    req = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def test_health_lists_the_served_model(server):
    assert remote_engine(server).health() == [server.model_id]


def test_health_names_the_served_models_when_configured_model_is_wrong(server):
    with pytest.raises(ModelUnavailable, match="does not serve 'internlm2-chat-7b'") as exc:
        remote_engine(server, model="internlm2-chat-7b").health()
    assert server.model_id in str(exc.value)


@pytest.mark.parametrize("conversation", CONVERSATIONS, ids=["en", "zh", "multi-turn"])
def test_streamed_chat_equals_in_process_greedy_and_non_streaming(
    server, local_engine, conversation
):
    remote = remote_engine(server).stream_chat(conversation, GREEDY)
    deltas = list(remote)
    assert remote.error is None, remote.error
    local = local_engine.stream_chat(conversation, GREEDY)
    expected = local.result()

    assert len(deltas) > 1  # it really streamed
    assert remote.text == expected
    assert remote.stats.new_tokens == local.stats.new_tokens  # from the server's usage
    assert remote.stats.prompt_tokens == local.stats.prompt_tokens  # same template, same ids
    assert remote.stats.finish_reason == local.stats.finish_reason
    assert remote.stats.ttft_s is not None and remote.stats.ttft_s <= remote.stats.total_s

    whole = post_json(
        f"{server.base_url}/chat/completions",
        {"model": server.model_id, "messages": conversation, "max_tokens": 24, "temperature": 0},
    )
    assert whole["choices"][0]["message"]["content"] == remote.text


def test_raw_completion_equals_in_process_stream_text(server, local_engine):
    """The agent's path: raw protocol text through /v1/completions (server adds BOS)."""
    prompt = local_engine.render_chat([{"role": "user", "content": "Once upon a time"}])
    assert prompt.startswith("<s>")
    remote = remote_engine(server).stream_text(prompt, GREEDY)
    local = local_engine.stream_text(prompt, GREEDY)
    assert remote.result() == local.result()
    assert remote.stats.new_tokens == local.stats.new_tokens
    assert remote.stats.prompt_tokens == local.stats.prompt_tokens  # exactly one BOS


def test_cancel_mid_stream_stops_and_server_keeps_serving(server, local_engine):
    conversation = CONVERSATIONS[0]
    long = GenerationParams(max_new_tokens=600, do_sample=False, repetition_penalty=1.0)
    full = local_engine.stream_chat(conversation, long).result()
    assert len(full) > 40, "the tiny model must talk long enough to be interrupted"

    gen = remote_engine(server).stream_chat(conversation, long)
    got = []
    t0 = time.perf_counter()
    for delta in gen:
        got.append(delta)
        if len(got) == 3:
            gen.cancel()
    assert time.perf_counter() - t0 < 10
    assert gen.stats.finish_reason == "cancelled"
    assert gen.error is None
    assert 3 <= len(got) and len(gen.text) < len(full)
    assert full.startswith(gen.text)
    # the dropped connection did not hurt the server
    again = remote_engine(server).stream_chat(conversation, GREEDY)
    assert again.result() == local_engine.stream_chat(conversation, GREEDY).result()


def test_stop_words_cut_the_answer(server, local_engine):
    conversation = CONVERSATIONS[1]
    full = local_engine.stream_chat(conversation, GREEDY).result()
    word = full[len(full) // 2 : len(full) // 2 + 2]
    cut = full[: full.index(word)]
    params = GenerationParams(**{**GREEDY.to_dict(), "stop_words": (word,)})
    gen = remote_engine(server).stream_chat(conversation, params)
    assert gen.result() == cut
    assert gen.stats.finish_reason in ("stop", "stop_word")


def test_http_422_from_server_is_surfaced_with_a_hint(server):
    gen = remote_engine(server, extended_params=True).stream_chat(CONVERSATIONS[0], GREEDY)
    with pytest.raises(EngineError) as exc:
        gen.result()
    msg = str(exc.value)
    assert "HTTP 422" in msg and "top_k" in msg and '"extended_params": false' in msg
    assert gen.stats.finish_reason == "error"


def test_http_400_wrong_model_is_surfaced(server):
    gen = remote_engine(server, model="no-such-model").stream_chat(CONVERSATIONS[0], GREEDY)
    with pytest.raises(EngineError, match=r"HTTP 400.*no-such-model"):
        gen.result()


def test_image_content_parts_are_accepted_by_a_real_server(server):
    """The wire format of vision chat reaches the server and is parsed; this text-only
    model's server drops the image part, so the answer equals the text-only answer. (A
    vision server -- LMDeploy with XComposer2-VL -- is not available here.)"""
    from PIL import Image

    image = Image.new("RGB", (8, 8), (200, 30, 30))
    # the budget counts ~1225 tokens per image (XComposer2-VL); widen the tiny window for it
    engine = remote_engine(server, context_window=4096)
    with_image = engine.stream_vision_chat(
        [{"role": "user", "content": "Hello story", "images": [image]}], GREEDY
    ).result()
    without = engine.stream_chat(CONVERSATIONS[0], GREEDY).result()
    assert with_image == without


# -- servers that misbehave -------------------------------------------------------------
def dead_engine(base_url: str, **kw) -> OpenAIEngine:
    return OpenAIEngine(OpenAIConfig(key="k", base_url=base_url, model="m", **kw))


def test_dead_server_gives_a_clear_message_fast():
    port = free_port()  # nothing listens there now
    engine = dead_engine(f"http://127.0.0.1:{port}/v1")
    t0 = time.perf_counter()
    gen = engine.stream_chat(CONVERSATIONS[0], GREEDY)
    with pytest.raises(ModelUnavailable, match="connection refused"):
        gen.result()
    assert time.perf_counter() - t0 < 3
    with pytest.raises(ModelUnavailable, match="connection refused"):
        engine.health()


def test_silent_server_times_out_with_a_message():
    srv = SocketServer(silent)
    try:
        engine = dead_engine(srv.base_url, timeout_s=0.5)
        t0 = time.perf_counter()
        with pytest.raises(EngineError, match=r"sent nothing for 0\.5 s") as exc:
            engine.stream_chat(CONVERSATIONS[0], GREEDY).result()
        assert not isinstance(exc.value, ModelUnavailable)
        assert 0.4 < time.perf_counter() - t0 < 5
        with pytest.raises(ModelUnavailable, match="sent nothing"):
            engine.health(timeout_s=0.5)
    finally:
        srv.close()


def test_cancel_while_server_is_silent_closes_the_connection():
    srv = SocketServer(silent)
    try:
        gen = dead_engine(srv.base_url, timeout_s=30).stream_chat(CONVERSATIONS[0], GREEDY)
        deadline = time.monotonic() + 5
        while not srv.connections and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)  # let the request reach the server
        t0 = time.perf_counter()
        gen.cancel()
        assert gen.result() == ""
        assert time.perf_counter() - t0 < 1.0
        assert gen.stats.finish_reason == "cancelled"
        assert srv.wait_for_client_close(srv.connections[0], 2.0)
    finally:
        srv.close()


def chunk(text: str | None = None, finish: str | None = None) -> bytes:
    choice: dict = {"index": 0, "delta": {"content": text} if text else {}}
    if finish:
        choice["finish_reason"] = finish
    return b"data: " + json.dumps({"choices": [choice]}).encode() + b"\n\n"


@pytest.mark.parametrize(
    "body, expected",
    [
        (chunk("Hi") + b"data: {not json\n\n", r"malformed stream event: '\{not json'"),
        (chunk("Hi") + b"<html>oops</html>\n\n", "malformed event stream"),
        (chunk("Hi") + b'data: {"choices": "nope"}\n\n', "malformed stream event"),
        (chunk("Hi") + chunk(" there"), "without finishing the answer"),
        (
            chunk("Hi") + b'data: {"error": {"message": "CUDA out of memory"}}\n\n',
            "error mid-answer: CUDA out of memory",
        ),
    ],
    ids=["bad-json", "not-sse", "bad-choices", "no-finish", "error-event"],
)
def test_broken_streams_become_messages(body, expected):
    srv = SocketServer(canned("200 OK", body))
    try:
        gen = dead_engine(srv.base_url).stream_chat(CONVERSATIONS[0], GREEDY)
        with pytest.raises(EngineError, match=expected):
            gen.result()
        assert gen.text == "Hi" or gen.text == "Hi there"  # what came before stays shown
        assert gen.stats.finish_reason == "error"
    finally:
        srv.close()


def test_a_well_formed_canned_stream_passes_and_done_ends_it():
    body = chunk("Hel") + chunk("lo") + chunk(finish="stop") + b"data: [DONE]\n\n"
    srv = SocketServer(canned("200 OK", body))
    try:
        gen = dead_engine(srv.base_url).stream_chat(CONVERSATIONS[0], GREEDY)
        assert gen.result() == "Hello"
        assert gen.stats.finish_reason == "stop" and gen.stats.new_tokens == 2
    finally:
        srv.close()


@pytest.mark.parametrize(
    "status, body, expected",
    [
        (
            "500 Internal Server Error",
            b'{"object":"error","message":"engine crashed","code":500}',
            "HTTP 500 .*engine crashed",
        ),
        ("401 Unauthorized", b'{"error":{"message":"bad key"}}', "HTTP 401 .*bad key.*api_key"),
        ("503 Service Unavailable", b"<html>busy</html>", "HTTP 503 .*busy"),
    ],
)
def test_http_errors_carry_the_servers_message(status, body, expected):
    srv = SocketServer(canned(status, body, "application/json"))
    try:
        with pytest.raises(EngineError, match=expected):
            dead_engine(srv.base_url).stream_chat(CONVERSATIONS[0], GREEDY).result()
    finally:
        srv.close()


def test_server_without_completions_gets_a_fallback_message():
    srv = SocketServer(canned("404 Not Found", b'{"detail":"Not Found"}', "application/json"))
    try:
        with pytest.raises(EngineError, match="no /v1/completions endpoint"):
            dead_engine(srv.base_url).stream_text("<s>hi", GREEDY).result()
    finally:
        srv.close()


# -- pieces -------------------------------------------------------------------------
def test_sse_parser_handles_comments_multiline_and_done():
    lines = [
        b": keep-alive",
        b"data: a",
        b"data: b",
        b"",
        b"event: x",
        b"data: c",
        b"",
        b"data: [DONE]",
        b"",
        b"data: never",
    ]
    assert list(iter_sse_data(iter(lines))) == ["a\nb", "c"]


def test_error_message_reads_every_servers_format():
    assert error_message(b'{"error": {"message": "m1"}}') == "m1"
    assert error_message(b'{"object": "error", "message": "m2", "code": 400}') == "m2"
    assert error_message(b'{"detail": [{"msg": "field required"}]}') == "field required"
    assert error_message(b"plain text") == "plain text"


def test_settings_validation_names_the_key():
    with pytest.raises(EngineError, match=r'models\["x"\]\["base_url"\] is missing'):
        config_from_settings("x", {"backend": "openai"})
    with pytest.raises(EngineError, match="not an http"):
        config_from_settings("x", {"base_url": "127.0.0.1:23333/v1"})
    with pytest.raises(EngineError, match=r'\["timeout_s"\] must be a positive number'):
        config_from_settings("x", {"base_url": "http://h:1/v1", "timeout_s": "soon"})
    cfg = config_from_settings("x", {"base_url": "http://127.0.0.1:23333/v1/"})
    assert cfg.model == "x" and Endpoint.parse(cfg.base_url).prefix == "/v1"


def test_image_data_url_round_trips_pixels(tmp_path):
    import base64
    import io

    from PIL import Image

    img = Image.new("RGB", (3, 2), (1, 2, 3))
    url = image_data_url(img)
    assert url.startswith("data:image/png;base64,")
    back = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert back.size == (3, 2) and back.getpixel((2, 1)) == (1, 2, 3)
    img.save(tmp_path / "a.jpg")
    assert image_data_url(tmp_path / "a.jpg").startswith("data:image/jpeg;base64,")
    with pytest.raises(EngineError, match="not a PNG"):
        image_data_url(b"hello")
    wire = to_wire({"role": "user", "content": "what is this?", "images": [img]})
    assert [p["type"] for p in wire["content"]] == ["text", "image_url"]
    assert text_of(wire) == "what is this?"


# -- the model manager hook ------------------------------------------------------------
def test_manager_returns_openai_engine_without_loading_weights(studio_home):
    from demo_core import settings
    from demo_core.engine.manager import ModelManager

    settings.update_model_settings(
        "internlm2-chat-7b",
        backend="openai",
        base_url="http://127.0.0.1:23333/v1",
        model="internlm2-chat-7b",
    )
    mgr = ModelManager(budget_bytes=0)  # nothing local could fit
    engine = mgr.get("internlm2-chat-7b")
    assert isinstance(engine, OpenAIEngine)
    assert engine.info.backend == "openai" and engine.info.device == "http://127.0.0.1:23333/v1"
    assert mgr.get("internlm2-chat-7b") is engine  # cached
    assert mgr.loaded_keys() == [] and mgr.resident_bytes() == 0
    settings.update_model_settings("internlm2-chat-7b", base_url="http://127.0.0.1:8000/v1")
    assert mgr.get("internlm2-chat-7b") is not engine  # settings change takes effect
    settings.update_model_settings("internlm2-chat-7b", base_url="")
    with pytest.raises(EngineError, match="base_url"):
        mgr.get("internlm2-chat-7b")


def test_beam_search_is_refused_with_a_message_not_sampled():
    """The OpenAI-compatible API has no beams: a request for them says so (before any
    connection) instead of quietly sampling one sequence."""
    engine = dead_engine(f"http://127.0.0.1:{free_port()}/v1")
    gen = engine.stream_chat(CONVERSATIONS[0], replace(GREEDY, num_beams=2))
    with pytest.raises(EngineError, match="Set Beams to 1"):
        gen.result()
    assert gen.stats.finish_reason == "error"
    with pytest.raises(ModelUnavailable):  # one beam: the request is made (and fails here)
        engine.stream_chat(CONVERSATIONS[0], GREEDY).result()
