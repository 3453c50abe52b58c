"""Where the app keeps its state, and the user's settings file.

Everything lives under one folder (``$DEMO_STUDIO_HOME``, default
``~/.internlm-demo-studio``) so a classroom machine is reset by deleting one directory
and tests point it at a temp dir. ``settings.json`` holds per-model overrides, e.g.::

    {"models": {"internlm2-chat-7b": {"path": "/root/models/internlm2-chat-7b"},
                "internlm2-chat-1_8b": {"backend": "openai",
                                         "base_url": "http://127.0.0.1:23333/v1"}},
     "gpu_budget_gb": 70}

The Class page's teacher code comes from ``$DEMO_STUDIO_TEACHER_CODE``, or else is
generated once and kept in ``teacher-code.txt`` beside it (:func:`teacher_code_file`).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

_lock = threading.Lock()


def home() -> Path:
    return Path(
        os.environ.get("DEMO_STUDIO_HOME", Path.home() / ".internlm-demo-studio")
    ).expanduser()


def models_dir() -> Path:
    """Default folder for downloaded models (``$DEMO_STUDIO_MODELS_DIR`` overrides)."""
    return Path(os.environ.get("DEMO_STUDIO_MODELS_DIR", home() / "models")).expanduser()


def store_in_memory() -> bool:
    """``$DEMO_STUDIO_STORE=memory``: the workspace database lives in memory only (no
    workspace.db; chats and articles are gone when the server stops; uploads still go to
    files/). For a throw-away demo machine, and to measure what persistence costs
    (benchmarks/ui_streaming.py --store both)."""
    return os.environ.get("DEMO_STUDIO_STORE", "").strip().lower() == "memory"


def settings_file() -> Path:
    return home() / "settings.json"


TEACHER_CODE_ENV = "DEMO_STUDIO_TEACHER_CODE"  # the Class page's teacher code, if set


def teacher_code_file() -> Path:
    """Where the generated teacher code is kept when ``$DEMO_STUDIO_TEACHER_CODE`` is
    unset (delete it for a new code at the next start)."""
    return home() / "teacher-code.txt"


class SettingsError(RuntimeError):
    pass


def load() -> dict[str, Any]:
    path = settings_file()
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SettingsError(f"{path} is not valid JSON ({exc}); fix or delete it") from exc
    if not isinstance(data, dict):
        raise SettingsError(f"{path} must hold a JSON object")
    return data


def save(data: dict[str, Any]) -> None:
    """Write atomically: a crash mid-write never leaves a half file behind."""
    path = settings_file()
    with _lock:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
        os.replace(tmp, path)


def model_settings(key: str) -> dict[str, Any]:
    try:
        return dict(load().get("models", {}).get(key, {}))
    except SettingsError:
        return {}


def update_model_settings(key: str, **values: Any) -> None:
    data = load()
    entry = data.setdefault("models", {}).setdefault(key, {})
    entry.update({k: v for k, v in values.items() if v is not None})
    for k in [k for k, v in values.items() if v is None]:
        entry.pop(k, None)
    save(data)
