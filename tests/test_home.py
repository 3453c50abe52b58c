"""The home page: demos, models present, the machine."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from demo_core.specs import SPECS
from tests.conftest import ROOT


def test_home_lists_demos_models_and_device(studio_home, tiny_model_dir, monkeypatch):
    from demo_ui.resources import get_manager

    get_manager.clear()
    monkeypatch.setenv("DEMO_STUDIO_MODEL_INTERNLM2_CHAT_1_8B", str(tiny_model_dir))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    assert not at.exception
    table = at.table[0].value
    assert list(table["model"]) == [s.label for s in SPECS.values()]
    row = table[table["model"] == "InternLM2-Chat-1.8B"].iloc[0]
    assert row["on this machine"] == "✅ yes" and row["where"] == tiny_model_dir.as_posix()
    assert table[table["model"] == "InternLM2-Chat-7B"].iloc[0]["on this machine"] == "❌ no"
    assert any("No CUDA GPU" in m.value for m in at.markdown)
