"""Time to illustrate a 6-image article, per picture source, side by side.

The tiny random XComposer2 (composition) writes nothing meaningful, but it runs every
model step the real one runs -- where images go, six captions, a search phrase per slot,
the A/B/C/D pick -- so the ratios between sources carry over; the absolute CPU seconds do
not. Sources: the local library, Wikimedia Commons and Openverse (stand-ins on 127.0.0.1
that answer as the real APIs: no network latency, so the online figures are a floor),
the tiny random text-to-image pipeline, and all of them together. Runs are interleaved
source by source; medians. "finding" is the time inside the sources (search, download,
decode, drawing), the rest is XComposer2.

    python benchmarks/illustrate.py [--runs 3 --images 6]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import arguments  # noqa: E402


class Timed:
    """A source wrapper that adds up the time spent inside ``find``."""

    def __init__(self, inner, clock: list[float]) -> None:
        self.inner, self.clock = inner, clock
        for attr in ("name", "label", "online", "generates", "wants_query"):
            setattr(self, attr, getattr(inner, attr))

    def find(self, request):
        t0 = time.perf_counter()
        try:
            return self.inner.find(request)
        finally:
            self.clock[0] += time.perf_counter() - t0


def main() -> None:
    args = arguments(runs=3, images=6).parse_args()

    import torch

    from demo_core.engine.base import GenerationParams
    from demo_core.engine.manager import ModelManager
    from demo_core.specs import ModelSpec
    from demo_core.xcomposer.article import Article
    from demo_core.xcomposer.composer import Composer
    from demo_core.xcomposer.engine import load_xcomposer_engine
    from demo_core.xcomposer.library import load_library
    from demo_core.xcomposer.sources.http import COOLDOWNS
    from demo_core.xcomposer.tiny import build_tiny_xcomposer2
    from tests.xcomposer.standins import SOURCES, StandIns, picture

    tmp = Path(tempfile.mkdtemp(prefix="illustrate-bench-"))
    import os

    os.environ["DEMO_STUDIO_HOME"] = str(tmp / "home")
    xc = build_tiny_xcomposer2(tmp / "xc", flavour="composition", seed=3)
    spec = ModelSpec("tiny-xcomposer2", "tiny", "xcomposer2", None, None, 1, ())
    engine = load_xcomposer_engine(spec, xc, torch.device("cpu"))
    lib = tmp / "library"
    lib.mkdir()
    for n in range(12):
        (lib / f"picture_{n}.png").write_bytes(picture(f"lib{n}", "PNG"))
    library = load_library(lib)
    manager = ModelManager(device=torch.device("cpu"), budget_bytes=10**9)
    manager.get("tiny-sd")  # load once, outside the timing (loading is per process)
    params = replace(GenerationParams(), max_new_tokens=8, do_sample=False, seed=8909)
    paragraphs = [f"paragraph {i} about ink painting" for i in range(args.images * 2)]
    times: dict[str, list[float]] = {k: [] for k in SOURCES}
    finding: dict[str, list[float]] = {k: [] for k in SOURCES}
    filled: dict[str, int] = {}
    with StandIns() as standins:
        for _ in range(args.runs):
            for name in SOURCES:
                COOLDOWNS.clear()
                cfg = standins.source_settings(name)
                clock = [0.0]
                sources = [Timed(s, clock) for s in cfg.build(library, manager)]
                composer = Composer(engine, sources=sources, query=cfg.query)
                article = Article.from_texts("ink painting", paragraphs)
                t0 = time.perf_counter()
                for step in composer.illustrate(article, [], args.images, params):
                    step.gen.result()
                times[name].append(time.perf_counter() - t0)
                finding[name].append(clock[0])
                filled[name] = sum(1 for p in article.paragraphs if p.image and p.image.image)
    base = statistics.median(times["library"])
    print(f"{'source':<10} {'total s':>8} {'ratio':>6} {'finding s':>10} {'slots':>6}")
    for name in SOURCES:
        t = statistics.median(times[name])
        f = statistics.median(finding[name])
        print(f"{name:<10} {t:8.2f} {t / base:6.2f} {f:10.3f} {filled[name]:>3}/{args.images}")


if __name__ == "__main__":
    main()
