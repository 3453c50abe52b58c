"""Shared fixtures: tiny random checkpoints in the official layouts, an isolated app home."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from demo_core.internlm2.tiny import build_tiny_internlm2

ROOT = Path(__file__).resolve().parents[1]
REAL_TOKENIZER = ROOT.parent / "shared" / "fixtures" / "internlm2-tokenizer"

# Tests never talk to the real picture services (on by default in the app): every test,
# and every app server a test starts, sees them at a closed loopback port unless the
# test points them at its stand-ins (tests/xcomposer/standins.py).
for _var, _path in (
    ("DEMO_STUDIO_COMMONS_URL", "/w/api.php"),
    ("DEMO_STUDIO_OPENVERSE_URL", "/v1/images/"),
):
    os.environ.setdefault(_var, "http://127.0.0.1:9" + _path)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny InternLM2 chat checkpoint (safetensors, InternLM2 keys, sentencepiece)."""
    return build_tiny_internlm2(tmp_path_factory.mktemp("models") / "tiny-internlm2", seed=0)


@pytest.fixture
def studio_home(tmp_path, monkeypatch) -> Path:
    """Point the app's state folder (settings, personas, tiny model) at a temp dir."""
    home = tmp_path / "studio-home"
    monkeypatch.setenv("DEMO_STUDIO_HOME", str(home))
    monkeypatch.setenv("DEMO_STUDIO_MODELS_DIR", str(tmp_path / "models"))
    return home


@pytest.fixture(scope="session")
def real_tokenizer_dir() -> Path:
    if not (REAL_TOKENIZER / "tokenizer.model").is_file():
        pytest.skip(f"real InternLM2 tokenizer fixture not found at {REAL_TOKENIZER}")
    return REAL_TOKENIZER


def run_module(module: str, *args: str, input: str = "", timeout: float = 120):
    """``python -m module args`` in its own process, as a user runs it in the project
    folder; the finished process (``returncode``, ``stdout``, ``stderr`` as text)."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        input=input,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=timeout,
        cwd=ROOT,
    )


def open_page(page: str, timeout: float = 60):
    """An AppTest of the real multipage app, switched to ``pages/<page>`` and run once."""
    from streamlit.testing.v1 import AppTest

    from demo_ui.resources import get_manager

    get_manager.clear()  # a fresh manager that sees this test's DEMO_STUDIO_HOME
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
    at.run()
    at.switch_page(f"pages/{page}")
    at.run()
    return at
