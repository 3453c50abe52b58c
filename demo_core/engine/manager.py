"""One copy of each model for the whole app, within a memory budget.

The old demos loaded a model per browser tab. Here a single :class:`ModelManager`
(kept by ``st.cache_resource``) owns every loaded model; pages ask it for an engine by
key. Loading is serialised, and when a new model would exceed the budget the least
recently used idle model is unloaded first -- and the UI is told, via :attr:`notices`.
"""

from __future__ import annotations

import gc
import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from demo_core.engine.base import EngineInfo, ModelUnavailable, OutOfMemory
from demo_core.i18n import _, format_number
from demo_core.internlm2.checkpoint import CheckpointError
from demo_core.specs import ModelSpec, get_spec, resolve_path

if TYPE_CHECKING:
    from demo_core.engine.batching import BatchSettings

GB = 1024**3

# kind -> loader(spec, path, device) -> engine. Other model families register theirs.
Loader = Callable[[ModelSpec, Path, torch.device], object]
_LOADERS: dict[str, Loader] = {}


# Loaders living in packages the manager does not import itself: imported on first need.
_LOADER_MODULES: dict[str, str] = {
    "internlm": "demo_core.internlm1.engine",
    "xcomposer2": "demo_core.xcomposer.engine",
    "xcomposer2-vl": "demo_core.xcomposer.engine",
    "text2image": "demo_core.xcomposer.t2i",
}


def register_loader(kind: str, loader: Loader) -> None:
    _LOADERS[kind] = loader


def _loader_for(kind: str) -> Loader | None:
    if kind not in _LOADERS and kind in _LOADER_MODULES:
        import importlib

        importlib.import_module(_LOADER_MODULES[kind])
    return _LOADERS.get(kind)


def local_engine_info(
    spec: ModelSpec, path: Path, device: torch.device, loaded, resident: int, **extra
) -> EngineInfo:
    """What the Models page shows of a model loaded in-process (``loaded``, a
    :class:`~demo_core.internlm2.loader.LoadedModel`, taking ``resident`` bytes) from ``path``;
    ``extra``: the family's own entries, after ``path``."""
    return EngineInfo(
        key=spec.key,
        label=spec.label,
        backend="transformers",
        device=str(device),
        dtype=str(loaded.model.dtype).replace("torch.", ""),
        context_window=loaded.context_window,
        weight_bytes=resident,
        is_random=spec.is_random,
        extra={"path": str(path), **extra},
    )


def _load_internlm2(spec: ModelSpec, path: Path, device: torch.device) -> object:
    from demo_core import quantize, settings
    from demo_core.engine.batching import BatchSettings
    from demo_core.engine.local import TransformersEngine
    from demo_core.internlm2.checkpoint import weight_bytes
    from demo_core.internlm2.loader import load_internlm2, rebuild_rotary

    entry = settings.model_settings(spec.key)
    mode = quantize.normalise(entry.get("quantize"))
    if mode is None:
        loaded = load_internlm2(path, device=device)
        resident = weight_bytes(path)
    else:  # assembled on the CPU, quantized by bitsandbytes on its way to the GPU
        quantize.check(mode, device, spec.label)
        loaded = load_internlm2(path, device="cpu", dtype=torch.bfloat16)
        quantize.quantize_linears(loaded.model, mode)
        loaded.model.to(device)
        rebuild_rotary(loaded.model, device)
        resident = quantize.resident_bytes(loaded.model)
    info = local_engine_info(spec, path, device, loaded, resident)
    if mode is not None:
        info.extra["quantize"] = quantize.MODES[mode]
    return TransformersEngine(
        loaded,
        info,
        decode=entry.get("decode", "eager"),
        batching=BatchSettings.from_settings(entry),
    )


register_loader("internlm2", _load_internlm2)


def default_device() -> torch.device:
    forced = os.environ.get("DEMO_STUDIO_DEVICE")
    if forced:
        return torch.device(forced)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def default_budget(device: torch.device) -> int:
    """Bytes of weights we allow resident: settings/env first, else 90 % of the GPU
    (or 60 % of RAM on a CPU-only machine)."""
    from demo_core import settings

    raw = os.environ.get("DEMO_STUDIO_MEMORY_BUDGET_GB")
    if raw is None:
        try:
            raw = settings.load().get("memory_budget_gb")
        except settings.SettingsError:
            raw = None
    if raw is not None:
        return int(float(raw) * GB)
    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory * 0.9)
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        pages = 16 * GB
    return int(pages * 0.6)


def _quantized_share(key: str) -> float:
    """The part of the 16-bit weight bytes a model set to 8/4-bit takes (1.0: none)."""
    from demo_core import quantize, settings

    try:
        mode = quantize.normalise(settings.model_settings(key).get("quantize"))
    except quantize.QuantizationUnavailable:
        return 1.0
    return quantize.SHRINK[mode] if mode else 1.0


def batch_shape(path: Path, device: torch.device) -> tuple[dict, int]:
    """A checkpoint's ``config.json`` and the bytes per KV-cache element on ``device``."""
    from demo_core.internlm2.loader import default_dtype

    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    return config, torch.tensor([], dtype=default_dtype(device)).element_size()


def _close(res: Resident) -> None:
    """Let an unloaded engine stop its own threads (the batch decoder holds the model)."""
    close = getattr(res.engine, "close", None)
    if callable(close):
        close()


@dataclass
class Resident:
    engine: object
    bytes: int
    loaded_at: float
    last_used: float


class ModelManager:
    def __init__(self, device: torch.device | None = None, budget_bytes: int | None = None) -> None:
        self.device = device or default_device()
        self.budget_bytes = (
            budget_bytes if budget_bytes is not None else default_budget(self.device)
        )
        self._resident: OrderedDict[str, Resident] = OrderedDict()
        self._remote: dict[str, object] = {}  # key -> OpenAIEngine (no weights here)
        self._lock = threading.RLock()
        self.notices: list[str] = []  # human-readable log of loads/unloads, newest last

    # -- queries -------------------------------------------------------------------
    def loaded_keys(self) -> list[str]:
        with self._lock:
            return list(self._resident)

    def is_loaded(self, key: str) -> bool:
        return key in self._resident

    def resident_engine(self, key: str) -> object | None:
        """The loaded engine for ``key`` (None if not loaded); never loads anything."""
        res = self._resident.get(key)
        return res.engine if res is not None else None

    def resident_bytes(self) -> int:
        return sum(r.bytes for r in self._resident.values())

    def would_fit(self, key: str) -> bool:
        """Can ``key`` join the models already loaded without unloading any?"""
        if key in self._resident:
            return True
        return self.resident_bytes() + self.estimate_bytes(key) <= self.budget_bytes

    def estimate_bytes(self, key: str) -> int:
        """Weights plus, for a chat model that batches, its batch KV cache."""
        spec = get_spec(key)
        path = resolve_path(key)
        if path is not None:
            try:
                weights = self._weight_bytes(spec, path)
                batch = self.batch_settings(key, path, weights)
                return weights + (batch.cache_bytes(*batch_shape(path, self.device)) if batch else 0)
            except Exception:
                pass
        return int(spec.approx_bytes * _quantized_share(key))

    def _weight_bytes(self, spec: ModelSpec, path: Path) -> int:
        from demo_core.internlm2.checkpoint import weight_bytes

        if spec.kind == "text2image":
            from demo_core.xcomposer.t2i import weights_bytes

            return weights_bytes(path)  # loaded at the stored (fp16) dtype on a GPU
        size = weight_bytes(path)
        # fp32 checkpoints are loaded as bf16 on GPU
        if self.device.type == "cuda" and size > spec.approx_bytes * 1.5:
            size //= 2
        return int(size * _quantized_share(spec.key))

    def batch_settings(self, key: str, path: Path, weights: int) -> BatchSettings | None:
        """The batch a chat model decodes with here: its settings.json batch, with fewer
        sessions where the memory budget cannot hold that KV cache beside the weights (its
        pages are allocated up front). None for models that never batch."""
        from demo_core import settings
        from demo_core.engine.batching import BatchSettings

        if get_spec(key).kind not in ("internlm2", "internlm"):
            return None
        entry = settings.model_settings(key)
        if entry.get("decode", "eager") != "eager":
            return None  # static/compiled decoding never batches
        wanted = BatchSettings.from_settings(entry)
        return wanted.fitted(*batch_shape(path, self.device), self.budget_bytes - weights)

    # -- loading -------------------------------------------------------------------
    def get(self, key: str) -> object:
        """The engine for ``key``, loading it (and unloading others) if needed."""
        remote = self._remote_engine(key)
        if remote is not None:
            return remote
        with self._lock:
            res = self._resident.get(key)
            if res is not None:
                res.last_used = time.time()
                self._resident.move_to_end(key)
                return res.engine
            spec = get_spec(key)
            path = resolve_path(key)
            if path is None:
                raise ModelUnavailable(
                    _(
                        "{model} is not on this machine. Download it on the Models page, or set "
                        "{env}=/path/to/{folder}."
                    ).format(model=spec.label, env=spec.env_var, folder=spec.folder_name)
                )
            loader = _loader_for(spec.kind)
            if loader is None:
                raise ModelUnavailable(_("no loader for {kind} models is installed").format(kind=spec.kind))
            need = self.estimate_bytes(key)
            self._make_room(need, for_key=key)
            try:
                engine = self._load(loader, spec, path)
            except torch.OutOfMemoryError:
                self._free()
                if self._evict_idle(everything=True):
                    try:
                        engine = self._load(loader, spec, path)
                    except torch.OutOfMemoryError:
                        raise self._oom(spec) from None
                else:
                    raise self._oom(spec) from None
            fit = getattr(engine, "fit_batch", None)
            batch = self.batch_settings(key, path, self._weight_bytes(spec, path))
            if callable(fit) and batch is not None:
                fit(batch)  # what the budget holds, before the first batch allocates it
            now = time.time()
            self._resident[key] = Resident(engine, need, now, now)
            self.notices.append(_("Loaded {model} on {device}.").format(model=spec.label, device=self.device))
            return engine

    def _remote_engine(self, key: str) -> object | None:
        """A model served over the OpenAI API (settings ``"backend": "openai"``): no weights
        load here and it takes nothing from the memory budget. Rebuilt when its settings
        change, so editing settings.json takes effect without a restart."""
        from demo_core import settings

        entry = settings.model_settings(key)
        if entry.get("backend") != "openai":
            return None
        from demo_core.engine.openai_backend import OpenAIEngine, config_from_settings

        config = config_from_settings(key, entry, label=get_spec(key).label)
        with self._lock:
            engine = self._remote.get(key)
            if engine is None or engine.config != config:  # type: ignore[attr-defined]
                engine = OpenAIEngine(config)
                self._remote[key] = engine
                self.notices.append(
                    _("Using {model} from {where}.").format(
                        model=get_spec(key).label, where=engine.info.device
                    )
                )
            return engine

    def unload(self, key: str) -> bool:
        with self._lock:
            res = self._resident.pop(key, None)
            if res is None:
                return False
            self.notices.append(_("Unloaded {model}.").format(model=get_spec(key).label))
            _close(res)
            del res
            self._free()
            return True

    def _load(self, loader: Loader, spec: ModelSpec, path: Path) -> object:
        """Run a loader; a broken checkpoint (truncated download, missing shard, corrupt
        file) becomes a :class:`ModelUnavailable` that names the folder, on every page."""
        try:
            return loader(spec, path, self.device)
        except CheckpointError as exc:
            self._free()
            raise ModelUnavailable(
                _(
                    "{model} was found at {path} but cannot be loaded: {error}. "
                    "Download it again on the Models page."
                ).format(model=spec.label, path=path, error=exc)
            ) from exc

    def _oom(self, spec: ModelSpec) -> OutOfMemory:
        return OutOfMemory(
            _(
                "Not enough {device} memory to load {model}. Unload other models on the Models "
                "page, close other programs using the GPU, or lower the memory budget."
            ).format(device=self.device.type.upper(), model=spec.label)
        )

    def _make_room(self, need: int, for_key: str) -> None:
        while self._resident and self.resident_bytes() + need > self.budget_bytes:
            victim = self._lru_idle()
            if victim is None:
                raise OutOfMemory(
                    _(
                        "{model} needs about {need} GB but the memory budget ({budget} GB) is "
                        "taken by models that are busy answering. Try again in a moment."
                    ).format(
                        model=get_spec(for_key).label,
                        need=format_number(need / GB, 1),
                        budget=format_number(self.budget_bytes / GB, 1),
                    )
                )
            _close(self._resident.pop(victim))
            self.notices.append(
                _("Unloaded {model} to make room for {other} (memory budget {budget} GB).").format(
                    model=get_spec(victim).label,
                    other=get_spec(for_key).label,
                    budget=format_number(self.budget_bytes / GB, 1),
                )
            )
            self._free()

    def _lru_idle(self) -> str | None:
        for key, res in self._resident.items():  # oldest first
            if not getattr(res.engine, "busy", False):
                return key
        return None

    def _evict_idle(self, everything: bool = False) -> bool:
        evicted = False
        while (victim := self._lru_idle()) is not None:
            _close(self._resident.pop(victim))
            self.notices.append(
                _("Unloaded {model} after running out of memory.").format(
                    model=get_spec(victim).label
                )
            )
            evicted = True
            if not everything:
                break
        self._free()
        return evicted

    @staticmethod
    def _free() -> None:
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
