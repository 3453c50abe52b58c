"""App cold start and UI streaming overhead, measured through the real server and browser.

Starts ``streamlit run app.py`` with a fresh home folder holding a random InternLM2 of a
chosen size, opens the story chat in headless Chromium, sends a prompt and records when
the reply's text grows in the page (a MutationObserver). Reports:

- cold start: process start -> health check answers -> home page title drawn;
- browser-visible decode speed (tokens the engine counted / time from the first streamed
  text to the complete reply, as seen in the page) vs the engine's own tokens/s (the caption under the reply),
  over the same replies. Ratio 1.0 means the UI adds nothing.

``--store both``: what persistence costs on the streaming path, as the browser sees it.
Two servers on the same model (each reply in a New chat, so every reply has the same context), one with the workspace store on disk (the default: the
reply's row made before the first token, its text saved every second and at the end)
and one with ``DEMO_STUDIO_STORE=memory`` (the same app with its database in memory:
no file, no WAL, no fsync); replies alternate between the two tabs (the order swapped
each round), one at a time. Reports the browser-visible tok/s medians of each and their
ratio (disk / memory).

    python benchmarks/ui_streaming.py [--hidden 512 --layers 8 --replies 3]
    python benchmarks/ui_streaming.py --store both --replies 16
    python benchmarks/ui_streaming.py --store control --replies 16   # A/A: both on disk
"""

from __future__ import annotations

import json
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import arguments, build_model  # noqa: E402
from tests.browser import (  # noqa: E402
    browser_page,
    browser_pages,
    running_app,
    sampling_slider_to_lowest,
)

WATCH = """
() => {
  window.__growth = [];
  const seen = () => {
    const msgs = document.querySelectorAll('[data-testid="stChatMessage"]');
    const last = msgs[msgs.length - 1];
    return last ? last.innerText : "";
  };
  let prev = seen();
  new MutationObserver(() => {
    const text = seen();
    if (text !== prev) {
      window.__growth.push([performance.now(), text.includes("\u258c")]);
      prev = text;
    }
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}
"""


def greedy(page) -> None:
    """Temperature 0 (its slider's Home): both servers then write the same reply to the
    same prompt, token for token, so each round compares the same work (sampled replies
    of a random model differ in length, and a short one shows the page's fixed end-of-reply
    rerun as a lower speed: that spread hid any cost of the store)."""
    sampling_slider_to_lowest(page, "Temperature", "0")


def one_reply(page, i: int, new_chat: bool = False) -> tuple[float, float] | None:
    """Send prompt number ``i`` on an open story chat: (browser-visible, engine) tok/s,
    or None when the random model's reply was too short to be seen streaming (it came in
    one piece). ``new_chat``: in a New chat (every reply with the same short context)."""
    page.bring_to_front()  # the measured tab in front, as a reader's would be
    if new_chat and i:
        page.get_by_role("button", name="New chat").first.click()
        page.wait_for_function("() => !document.querySelector('[data-testid=stChatMessage]')")
        page.wait_for_function(  # the New chat's run is over: the prompt is not lost
            "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000
        )
    page.evaluate(WATCH)
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(f"Write a long story, number {i}.")
    box.press("Enter")
    caption = page.get_by_text("tok/s").nth(0 if new_chat else i)
    caption.wait_for(timeout=300_000)
    text = caption.inner_text()
    tokens = int(re.search(r"(\d+) tokens", text).group(1))
    engine_tps = float(re.search(r"([\d.]+) tok/s", text).group(1))
    growth = page.evaluate("() => window.__growth")
    # from the first streamed text (cursor shown) to the first complete
    # reply (cursor gone): what a reader sees of the decode
    start = next((t for t, cursor in growth if cursor), None)
    end = next((t for t, cursor in growth if start is not None and t > start and not cursor), None)
    if start is None or end is None or tokens < 8:
        return None
    return (tokens - 1) / ((end - start) / 1000), engine_tps


def one_measured_reply(page, i: int) -> tuple[float, float]:
    """``one_reply`` in a New chat, asked again (another prompt) until it streams."""
    for attempt in range(10):
        seen = one_reply(page, i + 1000 * attempt, new_chat=True)
        if seen is not None:
            return seen
    raise RuntimeError("ten replies in a row came in one piece: the model answers too briefly")


def measure(hidden: int, layers: int, replies: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        build_model(home / "tiny-internlm2", hidden, layers)
        t0 = time.perf_counter()
        with running_app(home) as url:
            t_health = time.perf_counter() - t0
            with browser_page() as page:
                page.goto(url)
                page.get_by_text("InternLM Demo Studio").first.wait_for()
                t_home = time.perf_counter() - t0
                page.goto(f"{url}/Story_Chat")
                page.get_by_test_id("stChatInputTextArea").wait_for()
                ratios, ui_speeds, engine_speeds = [], [], []
                for i in range(replies):
                    seen = one_reply(page, i)
                    if seen is None:
                        continue
                    ui_tps, engine_tps = seen
                    ui_speeds.append(ui_tps)
                    engine_speeds.append(engine_tps)
                    ratios.append(ui_tps / engine_tps)
        return {
            "cold_start_health_s": round(t_health, 2),
            "cold_start_home_drawn_s": round(t_home, 2),
            "engine_tok_s_median": round(statistics.median(engine_speeds), 1),
            "browser_visible_tok_s_median": round(statistics.median(ui_speeds), 1),
            "ratio_browser_over_engine": round(statistics.median(ratios), 3),
            "replies": replies,
            "model": {"hidden": hidden, "layers": layers},
        }


def measure_store(hidden: int, layers: int, replies: int, control: bool = False) -> dict:
    """Browser-visible tok/s with the store on disk and in memory, same run (see top).
    ``control``: the "memory" server keeps its store on disk too (an A/A run): how far
    apart two identical servers come out in this setup, the noise floor of the ratio."""
    with tempfile.TemporaryDirectory() as tmp:
        disk_home, memory_home = Path(tmp) / "disk", Path(tmp) / "memory"
        build_model(disk_home / "tiny-internlm2", hidden, layers)
        shutil.copytree(disk_home / "tiny-internlm2", memory_home / "tiny-internlm2")
        with (
            running_app(disk_home) as disk_url,
            running_app(
                memory_home, {} if control else {"DEMO_STUDIO_STORE": "memory"}
            ) as memory_url,
            browser_pages(2) as (disk_page, memory_page),
        ):
            tabs = {"disk": (disk_page, disk_url), "memory": (memory_page, memory_url)}
            for page, url in tabs.values():
                page.goto(f"{url}/Story_Chat")
                page.get_by_test_id("stChatInputTextArea").wait_for()
                greedy(page)
            speeds: dict[str, list[float]] = {"disk": [], "memory": []}
            engine: dict[str, list[float]] = {"disk": [], "memory": []}
            seen: dict[str, list[float]] = {"disk": [], "memory": []}  # browser / engine
            for i in range(replies):
                order = ("disk", "memory") if i % 2 == 0 else ("memory", "disk")
                for mode in order:
                    ui_tps, engine_tps = one_measured_reply(tabs[mode][0], i)
                    speeds[mode].append(ui_tps)
                    engine[mode].append(engine_tps)
                    seen[mode].append(ui_tps / engine_tps)
            memory_db = (memory_home / "workspace.db").exists()
    disk, memory = (statistics.median(speeds[m]) for m in ("disk", "memory"))
    # each round's two replies run back to back, so a load swing of the shared machine
    # moves both: the median of the rounds' own ratios cancels most of it
    paired = statistics.median(d / m for d, m in zip(speeds["disk"], speeds["memory"], strict=True))
    seen_disk, seen_memory = (statistics.median(seen[m]) for m in ("disk", "memory"))
    return {
        "browser_visible_tok_s_median_store_on_disk": round(disk, 1),
        "browser_visible_tok_s_median_store_in_memory": round(memory, 1),
        "ratio_disk_over_memory": round(disk / memory, 3),
        "ratio_disk_over_memory_median_of_rounds": round(paired, 3),
        "engine_tok_s_median": {m: round(statistics.median(v), 1) for m, v in engine.items()},
        # what the page shows of the engine's speed, per side: the store's writes (in the
        # reply's job, between tokens) would lower the disk side's; it cancels the load
        # swings of a shared machine, which move both speeds of a reply together
        "browser_over_engine_median": {
            "disk": round(seen_disk, 3),
            "memory": round(seen_memory, 3),
        },
        "ratio_of_browser_over_engine_disk_over_memory": round(seen_disk / seen_memory, 3),
        "per_reply_browser_tok_s": {m: [round(x, 1) for x in v] for m, v in speeds.items()},
        "memory_home_has_workspace_db": memory_db,
        "control_run_both_on_disk": control,
        "replies_each": replies,
        "model": {"hidden": hidden, "layers": layers},
    }


def main() -> None:
    ap = arguments(hidden=512, layers=8, replies=3)
    ap.add_argument(
        "--store",
        choices=("disk", "both", "control"),
        default="disk",
        help="both: the cost of persistence (store on disk vs DEMO_STUDIO_STORE=memory); "
        "control: the same with both servers on disk (the noise floor of that ratio)",
    )
    args = ap.parse_args()
    if args.store == "disk":
        result = measure(args.hidden, args.layers, args.replies)
    else:
        result = measure_store(args.hidden, args.layers, args.replies, args.store == "control")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
