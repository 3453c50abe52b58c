"""Tiny random XComposer2 checkpoints (official layout) shared by the XComposer tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from demo_core.xcomposer.tiny import build_tiny_xcomposer2


@pytest.fixture(scope="session")
def tiny_vl_dir(tmp_path_factory) -> Path:
    return build_tiny_xcomposer2(tmp_path_factory.mktemp("xc") / "tiny-xcomposer2-vl", flavour="vl")


@pytest.fixture(scope="session")
def tiny_compose_dir(tmp_path_factory) -> Path:
    return build_tiny_xcomposer2(
        tmp_path_factory.mktemp("xc") / "tiny-xcomposer2", flavour="composition", seed=3
    )


@pytest.fixture(scope="session")
def vl_engine(tiny_vl_dir):
    from demo_core.specs import ModelSpec
    from demo_core.xcomposer.engine import load_xcomposer_engine

    spec = ModelSpec("tiny-xcomposer2-vl", "tiny", "xcomposer2-vl", None, None, 1, ())
    return load_xcomposer_engine(spec, tiny_vl_dir, torch.device("cpu"))


@pytest.fixture(scope="session")
def compose_engine(tiny_compose_dir):
    from demo_core.specs import ModelSpec
    from demo_core.xcomposer.engine import load_xcomposer_engine

    spec = ModelSpec("tiny-xcomposer2", "tiny", "xcomposer2", None, None, 1, ())
    return load_xcomposer_engine(spec, tiny_compose_dir, torch.device("cpu"))


@pytest.fixture(scope="session")
def checkpoint(tiny_vl_dir) -> dict[str, torch.Tensor]:
    return torch.load(str(tiny_vl_dir / "pytorch_model.bin"), weights_only=True)
