"""XComposer2 behind the streaming engine interface, with images.

Text-only requests take the InternLM2 engine's path unchanged (token ids, the same
queue, streamer, stop words and cancellation). Interleaved requests carry pixels and
tokenised text parts into the worker; there, inside the queue, the images go through
the vision tower and the projector, the pieces are spliced into one ``inputs_embeds``
and the image mask is set for exactly that prompt pass, so decoding afterwards is plain
text for Partial-LoRA.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from PIL import Image

from demo_core.engine.base import (
    CancelToken,
    EngineError,
    EngineInfo,
    Generation,
    GenerationParams,
    PromptTooLong,
)
from demo_core.engine.local import TransformersEngine
from demo_core.engine.manager import local_engine_info, register_loader
from demo_core.i18n import N_
from demo_core.specs import ModelSpec
from demo_core.xcomposer.images import ImageInput, pixels_for
from demo_core.xcomposer.loader import LoadedXComposer, load_xcomposer2
from demo_core.xcomposer.prompt import BosPolicy, Part, detect_markers, split_interleaved

# The originals fed image prompts as inputs_embeds too, so the penalty never saw the prompt.
warnings.filterwarnings("ignore", message="Passing `repetition_penalty` with `inputs_embeds`")

TokenPart = list[int] | int  # token ids of a text part, or an image index


@dataclass
class InterleavedPrompt:
    parts: list[TokenPart]
    pixels: torch.Tensor  # [n_images, 3, S, S]


class XComposerEngine(TransformersEngine):
    # Images reach the model as inputs_embeds and PLoRA reads a per-request image mask;
    # transformers' continuous batching takes token ids only and one flattened batch, and
    # a composition is a handful of long sequential calls by one user: not worth it.
    batch_blocker = N_("XComposer2 prompts are embeddings with a per-request image mask")

    def __init__(self, loaded: LoadedXComposer, info: EngineInfo) -> None:
        super().__init__(loaded, info)
        assert loaded.vision is not None and loaded.image_mask is not None and loaded.config
        self.vision = loaded.vision
        self.image_mask = loaded.image_mask
        self.xconfig = loaded.config
        self.markers = detect_markers(self.tokenizer)
        # The release tokenizer does not flag its chat markers as special; never show them.
        marker_ids = self.tokenizer.convert_tokens_to_ids(
            [self.markers.im_start, self.markers.im_end]
        )
        self._special_ids |= {i for i in marker_ids if isinstance(i, int)}

    @property
    def img_size(self) -> int:
        return self.xconfig.img_size

    @property
    def tokens_per_image(self) -> int:
        return self.xconfig.tokens_per_image

    # -- prompt helpers -------------------------------------------------------------
    def tokenize_parts(self, parts: Sequence[Part], bos: BosPolicy) -> list[TokenPart]:
        """Text parts -> ids; BOS on every text part (``each``) or on the first (``first``)."""
        out: list[TokenPart] = []
        bos_id = self.tokenizer.bos_token_id
        first = True
        for part in parts:
            if isinstance(part, int):
                out.append(part)
                continue
            ids = self.encode(part)
            if bos_id is not None and (bos == "each" or first):
                ids = [bos_id, *ids]
            first = False
            out.append(ids)
        return out

    def prompt_length(self, parts: Sequence[TokenPart]) -> int:
        return sum(self.tokens_per_image if isinstance(p, int) else len(p) for p in parts)

    # -- generation ---------------------------------------------------------------
    def stream_interleaved(
        self,
        text: str,
        images: Sequence[Image.Image | ImageInput],
        params: GenerationParams,
        cancel: CancelToken | None = None,
        *,
        placeholder: str,
        bos: BosPolicy,
    ) -> Generation:
        """Generate from ``text`` whose ``placeholder``s stand for ``images``, in order."""
        gen = Generation(cancel)
        try:
            parts = split_interleaved(text, len(images), placeholder)
            tokens = self.tokenize_parts(parts, bos)
            n = self.prompt_length(tokens)
            room = self.info.context_window - n
            if room < 1:
                window = self.info.context_window
                if images:
                    raise PromptTooLong(
                        f"the prompt needs {n} tokens ({len(images)} image(s) at "
                        f"{self.tokens_per_image} each) but the context window is {window}. "
                        "Use fewer images or shorter text."
                    )
                raise PromptTooLong(
                    f"the prompt needs {n} tokens but the context window is {window}. "
                    "Use a shorter text."
                )
            pils = [i.open() if isinstance(i, ImageInput) else i for i in images]
        except EngineError as exc:
            gen.finish("error", exc)
            return gen
        params = replace(params, max_new_tokens=max(1, min(params.max_new_tokens, room)))
        gen.stats.prompt_tokens = n
        if not pils:  # plain text: the InternLM2 path, token ids
            ids = [t for p in tokens for t in p]  # type: ignore[union-attr]
            return self._start(gen, ids, params)
        prompt = InterleavedPrompt(tokens, pixels_for(pils, self.img_size))
        gen = self._start(gen, prompt, params)
        if gen.trace is not None:  # "How it works": name the image spans' placeholder
            gen.trace.placeholder = placeholder
        return gen

    @contextmanager
    def _prompt_inputs(self, prompt) -> Iterator[dict[str, torch.Tensor]]:
        if not isinstance(prompt, InterleavedPrompt):
            with super()._prompt_inputs(prompt) as inputs:
                yield inputs
            return
        embeds, mask = self.embed(prompt)
        with self.image_mask.use(mask):
            yield {
                "inputs_embeds": embeds,
                "attention_mask": torch.ones(mask.shape, dtype=torch.long, device=mask.device),
            }

    def embed(self, prompt: InterleavedPrompt) -> tuple[torch.Tensor, torch.Tensor]:
        """``inputs_embeds [1, T, H]`` and ``im_mask [1, T]`` for one interleaved prompt."""
        table = self.model.get_input_embeddings()
        device = table.weight.device
        images = self.vision(prompt.pixels).to(table.weight.dtype)
        chunks: list[torch.Tensor] = []
        flags: list[torch.Tensor] = []
        for part in prompt.parts:
            if isinstance(part, int):
                chunks.append(images[part])
                flags.append(torch.ones(images.shape[1], dtype=torch.bool, device=device))
            else:
                ids = torch.tensor(part, dtype=torch.long, device=device)
                chunks.append(table(ids))
                flags.append(torch.zeros(len(part), dtype=torch.bool, device=device))
        return torch.cat(chunks).unsqueeze(0), torch.cat(flags).unsqueeze(0)


def load_xcomposer_engine(spec: ModelSpec, path: Path, device: torch.device) -> XComposerEngine:
    from demo_core import quantize, settings
    from demo_core.i18n import _
    from demo_core.internlm2.checkpoint import weight_bytes

    if quantize.normalise(settings.model_settings(spec.key).get("quantize")):
        raise quantize.QuantizationUnavailable(
            _(
                "8-bit / 4-bit loading is for the InternLM2 chat models; {label}'s PLoRA "
                'layers wrap every linear layer and are loaded in 16 bit. Remove "quantize" '
                "for it in settings.json."
            ).format(label=spec.label)
        )

    loaded = load_xcomposer2(path, device=device)
    extra = {"kind": spec.kind, "img_size": loaded.config.img_size}
    info = local_engine_info(spec, path, device, loaded, weight_bytes(path), **extra)
    return XComposerEngine(loaded, info)


register_loader("xcomposer2", load_xcomposer_engine)
register_loader("xcomposer2-vl", load_xcomposer_engine)
