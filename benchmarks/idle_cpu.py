"""CPU an idle server takes, with Streamlit's file watcher on (the old default) and off.

Starts two ``streamlit run app.py`` servers side by side from this checkout (its ``.venv``
inside, as ``./start.sh`` makes it): one with ``server.fileWatcherType=auto`` (what the app
ran with before), one with the project's ``.streamlit/config.toml`` as it is. Each server's
CPU time (utime + stime from ``/proc/<pid>/stat``) is sampled over the same window, first
with no browser tab, then with one headless Chromium tab open on Home for each. Reports the
share of one core each server used, and their ratio.

    python benchmarks/idle_cpu.py [--seconds 30] [--settle 10]
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import arguments  # noqa: E402
from tests.browser import app_process, browser_pages  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its reaped children so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return (utime + stime + cutime + cstime) / TICK


def share_of_core(pids: dict[str, int], seconds: float) -> dict[str, float]:
    """Fraction of one core each process used over the same ``seconds``."""
    start = {k: cpu_seconds(p) for k, p in pids.items()}
    t0 = time.monotonic()
    time.sleep(seconds)
    wall = time.monotonic() - t0
    return {k: (cpu_seconds(p) - start[k]) / wall for k, p in pids.items()}


def measure(seconds: float, settle: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        urls, pids = {}, {}
        for name, watcher in (("watcher_auto", "auto"), ("config", None)):
            home = Path(tmp) / name / "home"
            home.mkdir(parents=True)
            url, proc = stack.enter_context(app_process(home, watcher=watcher))
            urls[name], pids[name] = url, proc.pid
        time.sleep(settle)  # the watcher's first walk and the imports are not "idle"
        no_tab = share_of_core(pids, seconds)
        with browser_pages(len(urls)) as pages:
            for page, url in zip(pages, urls.values(), strict=True):
                page.goto(url)
                page.get_by_text("InternLM Demo Studio").first.wait_for(timeout=120_000)
            time.sleep(settle)
            with_tab = share_of_core(pids, seconds)
    result = {
        "seconds": seconds,
        "no_tab": no_tab,
        "one_tab": with_tab,
        "ratio_one_tab": with_tab["config"] / with_tab["watcher_auto"]
        if with_tab["watcher_auto"]
        else None,
    }
    return result


def main() -> None:
    args = arguments(__doc__, seconds=30.0, settle=10.0).parse_args()
    r = measure(args.seconds, args.settle)
    print(json.dumps(r, indent=2))
    for label in ("no_tab", "one_tab"):
        print(
            f"{label}: watcher auto {r[label]['watcher_auto']:.1%} of a core, "
            f"project config {r[label]['config']:.1%}"
        )


if __name__ == "__main__":
    main()
