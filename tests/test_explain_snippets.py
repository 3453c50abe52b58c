"""The code behind each demo runs as shown and gives the page's greedy text.

Every snippet is written to a file and run with this venv's Python in a subprocess, from
the app's folder, exactly as the panel tells a student to run it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from demo_core.engine.base import EngineInfo, GenerationParams
from demo_core.engine.local import TransformersEngine
from demo_core.explain.snippets import chat_snippet
from demo_core.internlm2.loader import load_internlm2

ROOT = Path(__file__).resolve().parents[1]
GREEDY = GenerationParams(max_new_tokens=20, do_sample=False, repetition_penalty=1.005)


def run_snippet(
    code: str,
    tmp_path: Path,
    name: str = "snippet.py",
    timeout: float = 300,
    env: dict[str, str] | None = None,
) -> str:
    """Run ``code`` as the panel says (saved as ``name``, this venv's Python, from the app's
    folder; ``env`` instead of this process's environment); its output."""
    path = tmp_path / name
    path.write_text(code)
    done = subprocess.run(
        [sys.executable, str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="module")
def engine(tiny_model_dir):
    lm = load_internlm2(tiny_model_dir)
    return TransformersEngine(
        lm, EngineInfo("tiny", "Tiny", "transformers", context_window=lm.context_window)
    )


def test_chat_snippet_gives_the_page_reply(engine, tiny_model_dir, tmp_path):
    msgs = [
        {"role": "system", "content": 'You are "InternLM".\nBe brief.'},
        {"role": "user", "content": "请创作一个 300 字的小故事"},
        {"role": "assistant", "content": "从前有一座山。"},
        {"role": "user", "content": "Another one, please."},
    ]
    page = engine.stream_chat(msgs, GREEDY).result()
    out = run_snippet(chat_snippet(str(tiny_model_dir), msgs, GREEDY), tmp_path)
    n_prompt, reply = out.split("\n", 1)
    assert n_prompt == f"{len(engine.encode(engine.render_chat(msgs)))} prompt tokens"
    assert reply == page + "\n"


def test_sampling_snippet_says_it_samples(tiny_model_dir):
    code = chat_snippet(
        str(tiny_model_dir), [{"role": "user", "content": "hi"}], GenerationParams()
    )
    assert "do_sample=True" in code and "temperature=0.8" in code and "top_k=40" in code
    assert "each run" in code
    compile(code, "snippet.py", "exec")


def test_agent_snippet_runs_lagents_loop_like_the_page(engine, tiny_model_dir, tmp_path):
    from demo_core.agent.agent import (
        DEFAULT_INTERPRETER_PROMPT,
        DEFAULT_META_PROMPT,
        DataAgent,
        make_protocol,
    )
    from demo_core.agent.llm import EngineLLM
    from demo_core.agent.transcript import Turn
    from demo_core.explain.snippets import agent_snippet

    params = GenerationParams(
        max_new_tokens=24, do_sample=False, repetition_penalty=1.0, stop_words=("<|im_end|>",)
    )
    question = "What is 2 + 3?"
    agent = DataAgent(
        EngineLLM(engine, params),
        protocol=make_protocol(DEFAULT_META_PROMPT, DEFAULT_INTERPRETER_PROMPT),
        max_turn=1,
    )
    turn = Turn(question)
    agent.run_turn([], [dict(role="user", content=question)], turn)
    assert turn.steps and turn.steps[0].new_tokens > 0 and turn.steps[0].model_s > 0
    code = agent_snippet(
        str(tiny_model_dir),
        question,
        params,
        DEFAULT_META_PROMPT,
        DEFAULT_INTERPRETER_PROMPT,
        max_turns=1,
        interpreter=False,
    )
    out = run_snippet(code, tmp_path, "agent.py")
    page_text = turn.steps[0].thought
    assert f"--- language: {page_text}\n" in out


@pytest.mark.parametrize("filename", ["config.json", None], ids=["one-file", "whole-model"])
def test_download_snippet_fetches_from_the_endpoint(tiny_model_dir, tmp_path, filename):
    import os

    from demo_core.explain.snippets import download_snippet
    from tests.hubserver import HubStandIn, Repo

    repo = "internlm/internlm2-chat-1_8b"
    dest = tmp_path / "dl"
    with HubStandIn({repo: Repo.from_folder(tiny_model_dir)}) as hub:
        code = download_snippet(repo, str(dest), hub.url, filename)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE"))}
        env.update(HF_HOME=str(tmp_path / "hf-home"), NO_PROXY="127.0.0.1")
        run_snippet(code, tmp_path, "download.py", timeout=120, env=env)
        assert hub.requests(contains="/resolve/")  # it really asked the stand-in
    names = [filename] if filename else [p.name for p in tiny_model_dir.iterdir() if p.is_file()]
    for name in names:
        assert (dest / name).read_bytes() == (tiny_model_dir / name).read_bytes(), name
