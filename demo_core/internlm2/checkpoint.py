"""Read tensors from an official checkpoint folder one at a time.

Checkpoints come as one or many ``*.safetensors`` or pickled ``*.bin`` files (XComposer2
ships a single 17 GB ``pytorch_model.bin``). Both are memory-mapped and yielded tensor
by tensor so that peak RSS while loading stays close to the weights' own size instead of
twice it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import torch
from safetensors import safe_open


class CheckpointError(RuntimeError):
    """The folder is not a loadable checkpoint (missing or unreadable weight files)."""


def weight_files(folder: Path) -> list[Path]:
    """The weight files of ``folder``, sharded or not, safetensors preferred."""
    folder = Path(folder)
    for index_name, single, pattern in (
        ("model.safetensors.index.json", "model.safetensors", "*.safetensors"),
        ("pytorch_model.bin.index.json", "pytorch_model.bin", "*.bin"),
    ):
        index = folder / index_name
        if index.is_file():
            try:
                shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
            except (ValueError, KeyError) as exc:
                raise CheckpointError(f"{index} is not a valid shard index: {exc}") from exc
            missing = [s for s in shards if not (folder / s).is_file()]
            if missing:
                raise CheckpointError(
                    f"{folder} is incomplete: missing shard(s) {', '.join(missing)}"
                )
            return [folder / s for s in shards]
        if (folder / single).is_file():
            return [folder / single]
        found = sorted(p for p in folder.glob(pattern) if not p.name.startswith("training_args"))
        if found:
            return found
    raise CheckpointError(f"no *.safetensors or *.bin weights in {folder}")


def weight_bytes(folder: Path) -> int:
    """Bytes of weights on disk: the memory a model will take at its stored dtype."""
    return sum(p.stat().st_size for p in weight_files(folder))


def iter_tensors(folder: Path) -> Iterator[tuple[str, torch.Tensor]]:
    """Yield ``(key, tensor)`` for every tensor, memory-mapped, one at a time."""
    for path in weight_files(folder):
        try:
            if path.suffix == ".safetensors":
                with safe_open(str(path), framework="pt", device="cpu") as f:
                    for key in f.keys():
                        yield key, f.get_tensor(key)
            else:
                sd = torch.load(str(path), map_location="cpu", mmap=True, weights_only=True)
                for key in list(sd.keys()):
                    yield key, sd.pop(key)
                del sd
        except CheckpointError:
            raise
        except Exception as exc:  # corrupt or truncated file: say which one
            raise CheckpointError(f"cannot read {path.name}: {exc}") from exc
