"""Finding existing local copies: models folder, settings, share layout, HF/ModelScope caches."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from demo_core import discovery, settings
from demo_core.specs import get_spec, resolve_path

KEY = "internlm2-chat-1_8b"


@pytest.fixture
def no_share(monkeypatch, tmp_path):
    """Point the share roots and caches at empty temp folders (never the real machine's)."""
    share = tmp_path / "share" / "new_models"
    monkeypatch.setattr(discovery, "SHARE_ROOTS", [share])
    monkeypatch.setenv("MODELSCOPE_CACHE", str(tmp_path / "ms-cache"))
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    return share


def copy_model(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    return dest


def test_internstudio_share_layout(tiny_model_dir, studio_home, no_share):
    folder = copy_model(tiny_model_dir, no_share / "Shanghai_AI_Laboratory" / "internlm2-chat-1_8b")
    assert discovery.locate_any(get_spec(KEY)) == ("InternStudio share", folder)
    assert resolve_path(KEY) == folder
    st = discovery.status(get_spec(KEY))
    assert st.present and st.where == "InternStudio share" and st.size_bytes > 100_000


def test_models_folder_wins_over_share(tiny_model_dir, studio_home, no_share):
    copy_model(tiny_model_dir, no_share / "Shanghai_AI_Laboratory" / "internlm2-chat-1_8b")
    mine = copy_model(tiny_model_dir, settings.models_dir() / "internlm2-chat-1_8b")
    assert discovery.locate_any(get_spec(KEY)) == ("models folder", mine)


def test_settings_model_dirs_and_explicit_path(tiny_model_dir, studio_home, no_share, tmp_path):
    extra = copy_model(tiny_model_dir, tmp_path / "disk2" / "internlm2-chat-1_8b")
    settings.save({"model_dirs": [str(tmp_path / "disk2")]})
    assert discovery.locate_any(get_spec(KEY)) == ("settings model_dirs", extra)
    other = copy_model(tiny_model_dir, tmp_path / "elsewhere" / "m")
    settings.update_model_settings(KEY, path=str(other))
    assert discovery.locate_any(get_spec(KEY)) == ("settings path", other)
    assert resolve_path(KEY) == other


def test_env_var_path(tiny_model_dir, studio_home, no_share, tmp_path, monkeypatch):
    spec = get_spec(KEY)
    folder = copy_model(tiny_model_dir, tmp_path / "envmodel")
    monkeypatch.setenv(spec.env_var, str(folder))
    assert discovery.locate_any(spec) == ("environment variable", folder)


def test_hf_cache_snapshot(tiny_model_dir, studio_home, no_share, tmp_path):
    from huggingface_hub import constants

    repo = Path(constants.HF_HUB_CACHE) / "models--internlm--internlm2-chat-1_8b"
    snap = copy_model(tiny_model_dir, repo / "snapshots" / ("a" * 40))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("a" * 40)
    assert discovery.locate_any(get_spec(KEY)) == ("Hugging Face cache", snap)


def test_modelscope_cache(tiny_model_dir, studio_home, no_share, tmp_path):
    ms = tmp_path / "ms-cache" / "hub" / "models" / "Shanghai_AI_Laboratory" / "internlm2-chat-1_8b"
    copy_model(tiny_model_dir, ms)
    assert discovery.locate_any(get_spec(KEY)) == ("ModelScope cache", ms)


def test_partial_downloads_are_not_models(tiny_model_dir, studio_home, no_share):
    folder = copy_model(tiny_model_dir, settings.models_dir() / "internlm2-chat-1_8b")
    (folder / ".download-in-progress").write_text("{}")
    assert not discovery.is_complete(folder)
    assert resolve_path(KEY) is None
    st = discovery.status(get_spec(KEY))
    assert not st.present and st.partial == folder
    (folder / ".download-in-progress").unlink()
    (folder / "model.safetensors.incomplete").write_bytes(b"x")
    assert not discovery.is_complete(folder)
    (folder / "model.safetensors.incomplete").unlink()
    assert discovery.is_complete(folder)


def test_all_status_lists_every_spec(studio_home, no_share):
    from demo_core.specs import SPECS

    rows = discovery.all_status()
    assert [r.spec.key for r in rows] == list(SPECS)
    assert not any(r.present for r in rows if not r.spec.is_random)
