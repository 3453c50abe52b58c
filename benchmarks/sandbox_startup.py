"""What the OS sandbox costs: kernel start and a trivial cell, sandboxed vs not, same run.

Both kinds of kernel are started through the real path (:class:`SandboxKernel`, start-up
code included), interleaved run by run so machine noise hits both alike; the sandboxed one
runs inside bubblewrap with seccomp and the limits, the other is the same launcher without
it (``DEMO_STUDIO_NO_BWRAP=1`` + consent). Medians and their ratios.

    python benchmarks/sandbox_startup.py [--runs 5 --cells 20]
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import arguments  # noqa: E402


def one(sandboxed: bool, base: Path, cells: int) -> tuple[float, float]:
    from demo_core.agent import sandbox
    from demo_core.agent.kernel import KernelLimits, SandboxKernel

    if sandboxed:
        os.environ.pop(sandbox.NO_BWRAP_ENV, None)
    else:
        os.environ[sandbox.NO_BWRAP_ENV] = "1"
    d = Path(tempfile.mkdtemp(dir=base))
    k = SandboxKernel(d / "work", d / "runtime", KernelLimits(), allow_unsandboxed=not sandboxed)
    try:
        t0 = time.perf_counter()
        k.start()
        start = time.perf_counter() - t0
        assert k.sandboxed == sandboxed
        times = []
        for _ in range(cells):
            t0 = time.perf_counter()
            res = k.execute("1 + 1")
            times.append(time.perf_counter() - t0)
            assert res.ok, res.text()
        return start, statistics.median(times)
    finally:
        k.shutdown()


def main() -> None:
    args = arguments(runs=5, cells=20).parse_args()
    base = Path(tempfile.mkdtemp(prefix="sandbox-bench-"))
    rows: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for _ in range(args.runs):
        for sandboxed in (True, False):
            rows[sandboxed].append(one(sandboxed, base, args.cells))
    med = {
        s: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v))
        for s, v in rows.items()
    }
    (sb_start, sb_cell), (pl_start, pl_cell) = med[True], med[False]
    print(
        f"kernel start: sandboxed {sb_start:.2f} s, plain {pl_start:.2f} s, "
        f"ratio {sb_start / pl_start:.2f}"
    )
    print(
        f"trivial cell: sandboxed {sb_cell * 1000:.1f} ms, plain {pl_cell * 1000:.1f} ms, "
        f"ratio {sb_cell / pl_cell:.2f}"
    )


if __name__ == "__main__":
    main()
