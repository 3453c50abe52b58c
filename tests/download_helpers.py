"""What the download tests of every source share: the repository a stand-in serves (a tiny
model plus files the app must never fetch), the stand-in as a fixture, where models land,
and the model a test module asks a source for."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from demo_core.download.api import Request
from tests.hubserver import HubStandIn, Repo

# remote code as model repositories carry it: fetching (let alone running) it is a bug
REMOTE_CODE = b"import os\nos.system('echo remote code ran')\n"


def model_files(folder: Path, extra: dict[str, bytes]) -> dict[str, bytes]:
    """The files of the tiny model in ``folder``, plus ``extra`` (remote code and the like)."""
    return {**Repo.from_folder(folder).files, **extra}


def stand_in_fixture(
    stand_in: Callable[[dict[str, Repo]], HubStandIn], repo_id: str, token: str | None = None
):
    """A fixture: a fresh ``stand_in`` per test serving the module's ``repo_files`` as
    ``repo_id`` (wanting ``token`` when one is given)."""

    @pytest.fixture
    def serving(repo_files):
        with stand_in({repo_id: Repo(files=dict(repo_files), token=token)}) as srv:
            yield srv

    return serving


def models_dir(studio_home: Path) -> Path:
    """The models folder the ``studio_home`` fixture points the app at."""
    return studio_home.parent / "models"


@dataclass(frozen=True)
class DownloadCase:
    """One model as a test module asks one source for it, and the folder it must land in."""

    model: str  # a spec key
    source: str  # "hf" | "modelscope" | "openxlab"
    folder: str  # under the models folder

    def request(self, endpoint: str | None = None, **kw) -> Request:
        return Request(self.model, source=self.source, endpoint=endpoint, **kw)

    def dest(self, studio_home: Path) -> Path:
        return models_dir(studio_home) / self.folder

    def assert_working(
        self, res, studio_home: Path, load: Callable[[Path], object], prompt: str, new_tokens=3
    ) -> None:
        """A whole-model download is a model: it finished in :meth:`dest` (no partial marker
        left), where the app looks for it, and it loads and generates greedily."""
        import torch

        from demo_core.download.transfer import MARKER
        from demo_core.specs import resolve_path

        dest = self.dest(studio_home)
        assert res.dest == dest
        assert not (dest / MARKER).exists() and resolve_path(self.model) == dest
        loaded = load(dest)
        ids = loaded.tokenizer(prompt, return_tensors="pt").input_ids
        out = loaded.model.generate(
            ids, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False
        )
        assert out.shape[1] == ids.shape[1] + new_tokens
        assert torch.isfinite(loaded.model(ids).logits).all()
