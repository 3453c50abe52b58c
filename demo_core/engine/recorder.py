"""What the model saw and how it chose each token, for the "How it works" panel.

A request asks for this with ``GenerationParams(explain=True)``; every other request runs
exactly as before (nothing here is on its path: the zero cost when the panel is closed is
measured by ``benchmarks/explain_cost.py``). A recording request runs ``generate()`` as
greedy decoding over a processor list built here, in the same order ``generate()`` itself
uses for sampling::

    raw logits -> [capture raw] -> repetition penalty -> temperature -> top-k -> top-p
               -> [capture reshaped] -> draw one token (seeded generator) -> [capture pick]

so each step's record holds the reshaped distribution's top-k (what the sampling settings
made of the logits), the token actually drawn with its probability, and what raw greedy
decoding (the argmax of the untouched logits) would have picked. Only ``TOP_K`` numbers per
step leave the device; the full distributions are dropped as soon as the step is recorded.

Why processors and not ``output_scores``: scores come back only after the whole reply and
keep a full-vocabulary tensor per step (370 KB a token on InternLM2's 92 544 entries); the
processors see the same tensors while generating and keep ten numbers of each.

The recording request never goes through a batched path (continuous batching, issue #16):
its processors belong to this one request.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence

import torch
from transformers import (
    LogitsProcessor,
    LogitsProcessorList,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from demo_core.engine.base import GenerationParams
from demo_core.engine.trace import Trace

TOP_K = 10  # alternatives kept per step


class _Capture(LogitsProcessor):
    """One processor object at three places in the list (see the module docstring).

    It keeps the step's raw probabilities until the reshaped ones are known, and those
    until the drawn token is, then stores ``TOP_K`` numbers of each and lets them go."""

    def __init__(self, trace: Trace, stage: str, shared: dict) -> None:
        self.trace, self.stage, self.shared = trace, stage, shared

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        s = self.shared
        if self.stage == "raw":
            raw = torch.softmax(scores[0].float(), dim=-1)
            s["raw"] = raw
            s["greedy"] = raw.argmax()
        elif self.stage == "reshaped":
            probs = torch.softmax(scores[0].float(), dim=-1)
            top = probs.topk(min(TOP_K, probs.shape[-1]))
            s["probs"] = probs
            s["top"] = (top.indices, top.values, s["raw"][top.indices])
        else:  # "pick": only the drawn token is still finite (or greedy takes the max)
            chosen = scores[0].argmax()
            raw, probs = s.pop("raw"), s.pop("probs")
            ids, vals, raw_vals = s.pop("top")
            greedy = s.pop("greedy")
            row = (ids, vals, raw_vals, greedy, raw[greedy], chosen, probs[chosen])
            with self.trace._lock:
                self.trace._pending.append(row)
        return scores


def reshaping_processors(params: GenerationParams) -> list[LogitsProcessor]:
    """The processors ``generate()`` would apply for ``params``, in its order: the
    repetition penalty, then (sampling only) temperature, top-k, top-p."""
    out: list[LogitsProcessor] = []
    if params.repetition_penalty and params.repetition_penalty != 1.0:
        out.append(RepetitionPenaltyLogitsProcessor(params.repetition_penalty))
    if sampling(params):
        out.extend(sampling_warpers(params))
    return out


def sampling_warpers(params: GenerationParams) -> list[LogitsProcessor]:
    """What ``generate(do_sample=True)`` does to the scores before drawing, under the same
    conditions: temperature, then top-k, then top-p."""
    warpers: list[LogitsProcessor] = []
    if params.temperature != 1.0:
        warpers.append(TemperatureLogitsWarper(params.temperature))
    if params.top_k:
        warpers.append(TopKLogitsWarper(top_k=params.top_k))
    if params.top_p < 1.0:
        warpers.append(TopPLogitsWarper(top_p=params.top_p))
    return warpers


def sampling(params: GenerationParams) -> bool:
    return bool(params.do_sample and params.temperature > 0)


def recording_kwargs(
    params: GenerationParams,
    trace: Trace,
    draw: Callable[[int], LogitsProcessor],
    decode: Callable[[int], str],
) -> dict:
    """``generate()`` keyword arguments that run ``params`` and record into ``trace``.

    ``draw(seed)``: the processor that samples one token with its own generator (the
    engine's seeded sampling); an unseeded request gets a fresh random seed, so its
    draws are as random as ``generate(do_sample=True)``'s."""
    trace.piece = decode
    trace.source = "transformers"
    trace.settings = {
        "temperature": params.temperature,
        "top_p": params.top_p,
        "top_k": params.top_k,
        "repetition_penalty": params.repetition_penalty,
        "do_sample": sampling(params),
        "seed": params.seed,
    }
    shared: dict = {}
    chain: list[LogitsProcessor] = [
        _Capture(trace, "raw", shared),
        *reshaping_processors(params),
        _Capture(trace, "reshaped", shared),
    ]
    if sampling(params):
        chain.append(draw(params.seed if params.seed is not None else secrets.randbits(31)))
    chain.append(_Capture(trace, "pick", shared))
    return dict(
        do_sample=False,
        temperature=None,
        top_p=None,
        top_k=None,
        repetition_penalty=None,
        logits_processor=LogitsProcessorList(chain),
    )


def reference_distribution(
    model, ids: Sequence[int], params: GenerationParams, k: int = TOP_K
) -> list[tuple[int, float]]:
    """The top-``k`` next-token probabilities for ``ids`` from one plain forward pass and
    the same processors -- an independent check of what a recording request stored."""
    input_ids = torch.tensor([list(ids)], dtype=torch.long, device=model.device)
    with torch.inference_mode():
        logits = model(input_ids=input_ids).logits[:, -1, :].float()
    scores = logits
    for proc in reshaping_processors(params):
        scores = proc(input_ids, scores)
    probs = torch.softmax(scores[0], dim=-1)
    top = probs.topk(min(k, probs.shape[-1]))
    return list(zip(top.indices.tolist(), top.values.tolist(), strict=True))
