"""Text-to-image for article slots: a few-step diffusion model through diffusers.

The offline picture source: when no library image fits and the machine cannot (or may
not) search online, a picture is drawn for the slot's caption. SD-Turbo
(``stabilityai/sd-turbo``, SD 2.1 distilled to draw in 1 step at 512 px, ~2.6 GB in
fp16) fits beside XComposer2-7B on one GPU; it is a model like the others -- a spec,
downloaded on the Models page, loaded and unloaded by the shared ``ModelManager`` within
the memory budget (kind ``text2image``). Its text encoder is OpenCLIP's, trained on
English captions, so it is prompted with the English search phrase the composer asks
XComposer2 for (see ``compose.query_prompt``).

:func:`build_tiny_sd` writes a random pipeline in the official diffusers layout
(``model_index.json``, ``unet/``, ``vae/``, ``text_encoder/``, ``tokenizer/`` with
``vocab.json``/``merges.txt``, ``scheduler/``) so tests and the UI run the same loading
and generation code on CPU in well under a second; its pictures are noise.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import torch

from demo_core.engine.base import EngineInfo, ModelUnavailable
from demo_core.specs import ModelSpec

KIND = "text2image"
COMPONENTS = ("unet", "vae", "text_encoder", "tokenizer", "scheduler")


def is_diffusers_folder(folder: Path) -> bool:
    """A complete diffusers pipeline: ``model_index.json`` and every component it names,
    the weighted ones with a weights file."""
    index = folder / "model_index.json"
    if not index.is_file():
        return False
    try:
        entries = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    for name in COMPONENTS:
        entry = entries.get(name)
        if not (isinstance(entry, list) and entry and entry[0]):
            return False
        if not (folder / name).is_dir():
            return False
        if name in ("unet", "vae", "text_encoder") and not any(
            p.suffix in (".safetensors", ".bin") for p in (folder / name).iterdir()
        ):
            return False
    return not any(folder.rglob("*.incomplete"))


def weights_bytes(folder: Path) -> int:
    """Bytes of the weights that will be loaded (the fp16 variant when present)."""
    total = 0
    for name in ("unet", "vae", "text_encoder"):
        files = sorted((folder / name).glob("*.safetensors")) or sorted(
            (folder / name).glob("*.bin")
        )
        fp16 = [p for p in files if ".fp16." in p.name]
        total += sum(p.stat().st_size for p in (fp16 or files))
    return total


def _variant(folder: Path) -> str | None:
    return "fp16" if list((folder / "unet").glob("*.fp16.safetensors")) else None


class TextToImageEngine:
    """One loaded pipeline, shared by every session; one picture at a time."""

    def __init__(self, pipe, info: EngineInfo, steps: int, guidance: float, size: int | None):
        self.pipe = pipe
        self.info = info
        self.steps = steps
        self.guidance = guidance
        self.size = size
        self._lock = threading.Lock()
        self.busy = False

    def generate(self, prompt: str, seed: int, n: int = 1):
        """``n`` PIL images for ``prompt``, reproducible for a seed."""
        with self._lock:
            self.busy = True
            try:
                gens = [torch.Generator(device="cpu").manual_seed(seed + j) for j in range(n)]
                out = self.pipe(
                    prompt=[prompt] * n,
                    num_inference_steps=self.steps,
                    guidance_scale=self.guidance,
                    height=self.size,
                    width=self.size,
                    generator=gens,
                    output_type="pil",
                )
                return list(out.images)
            finally:
                self.busy = False


def load_t2i(spec: ModelSpec, path: Path, device: torch.device) -> TextToImageEngine:
    try:
        from diffusers import AutoPipelineForText2Image
        from diffusers.utils import logging as dlogging
    except ImportError as exc:  # pragma: no cover - diffusers is a dependency
        raise ModelUnavailable(f"diffusers is not installed ({exc})") from None
    dlogging.set_verbosity_error()
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    try:
        pipe = AutoPipelineForText2Image.from_pretrained(
            str(path), dtype=dtype, variant=_variant(path), safety_checker=None
        )
    except (OSError, ValueError, KeyError) as exc:
        raise ModelUnavailable(
            f"{spec.label} at {path} cannot be loaded: {exc}. Download it again on the Models page."
        ) from None
    pipe = pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    info = EngineInfo(
        key=spec.key,
        label=spec.label,
        backend="diffusers",
        device=str(device),
        dtype=str(dtype).replace("torch.", ""),
        context_window=0,
        weight_bytes=weights_bytes(path),
        is_random=spec.is_random,
        extra={"path": str(path), "kind": KIND},
    )
    return TextToImageEngine(
        pipe,
        info,
        steps=int(spec.extra.get("steps", 1)),
        guidance=float(spec.extra.get("guidance", 0.0)),
        size=spec.extra.get("size"),
    )


# -- the tiny random pipeline ---------------------------------------------------------------
def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character table, which CLIP's byte-level BPE uses."""
    keep = {*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)}
    keep |= set(range(ord("®"), ord("ÿ") + 1))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def build_tiny_sd(out: Path, seed: int = 0, sample_size: int = 16) -> Path:
    """A random few-step pipeline in SD-Turbo's layout (same classes, same scheduler
    settings, tiny widths); pictures of ``sample_size * 4`` pixels."""
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    hidden = 32
    unet = UNet2DConditionModel(
        sample_size=sample_size,
        in_channels=4,
        out_channels=4,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=hidden,
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        norm_num_groups=32,
    )
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"),
        block_out_channels=(32, 32, 32),
        latent_channels=4,
        norm_num_groups=32,
        sample_size=sample_size * 4,
    )
    table = _bytes_to_unicode()
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for ch in table.values():
        vocab.setdefault(ch, len(vocab))
    for ch in table.values():
        vocab.setdefault(ch + "</w>", len(vocab))
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(vocab),
            hidden_size=hidden,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=77,
            hidden_act="gelu",
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
            projection_dim=hidden,
        )
    )
    scheduler = EulerDiscreteScheduler(
        num_train_timesteps=1000,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        prediction_type="epsilon",
        timestep_spacing="trailing",
        steps_offset=1,
    )
    unet.save_pretrained(out / "unet")
    vae.save_pretrained(out / "vae")
    text_encoder.save_pretrained(out / "text_encoder")
    scheduler.save_pretrained(out / "scheduler")
    tok = out / "tokenizer"
    tok.mkdir(exist_ok=True)
    (tok / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (tok / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    special = {
        "bos_token": "<|startoftext|>",
        "eos_token": "<|endoftext|>",
        "pad_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>",
    }
    (tok / "special_tokens_map.json").write_text(json.dumps(special), encoding="utf-8")
    (tok / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "CLIPTokenizer", "model_max_length": 77, **special}),
        encoding="utf-8",
    )
    index = {
        "_class_name": "StableDiffusionPipeline",
        "_diffusers_version": "0.24.0.dev0",
        "feature_extractor": [None, None],
        "image_encoder": [None, None],
        "requires_safety_checker": False,
        "safety_checker": [None, None],
        "scheduler": ["diffusers", "EulerDiscreteScheduler"],
        "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"],
        "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"],
    }
    (out / "model_index.json").write_text(json.dumps(index, indent=2), encoding="utf-8")
    return out


def _register() -> None:
    from demo_core.engine.manager import register_loader

    register_loader(KIND, load_t2i)


_register()
