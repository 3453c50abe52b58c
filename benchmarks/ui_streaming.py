"""App cold start and UI streaming overhead, measured through the real server and browser.

Starts ``streamlit run app.py`` with a fresh home folder holding a random InternLM2 of a
chosen size, opens the story chat in headless Chromium, sends a prompt and records when
the reply's text grows in the page (a MutationObserver). Reports:

- cold start: process start -> health check answers -> home page title drawn;
- browser-visible decode speed (tokens the engine counted / time from the first streamed
  text to the complete reply, as seen in the page) vs the engine's own tokens/s (the caption under the reply),
  over the same replies. Ratio 1.0 means the UI adds nothing.

    python benchmarks/ui_streaming.py [--hidden 512 --layers 8 --replies 3]
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import arguments, build_model  # noqa: E402
from tests.browser import browser_page, running_app  # noqa: E402

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
                    page.evaluate(WATCH)
                    box = page.get_by_test_id("stChatInputTextArea")
                    box.fill(f"Write a long story, number {i}.")
                    box.press("Enter")
                    caption = page.get_by_text("tok/s").nth(i)
                    caption.wait_for(timeout=180_000)
                    text = caption.inner_text()
                    tokens = int(re.search(r"(\d+) tokens", text).group(1))
                    engine_tps = float(re.search(r"([\d.]+) tok/s", text).group(1))
                    growth = page.evaluate("() => window.__growth")
                    # from the first streamed text (cursor shown) to the first complete
                    # reply (cursor gone): what a reader sees of the decode
                    start = next(t for t, cursor in growth if cursor)
                    end = next(t for t, cursor in growth if t > start and not cursor)
                    ui_tps = (tokens - 1) / ((end - start) / 1000)
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


def main() -> None:
    args = arguments(hidden=512, layers=8, replies=3).parse_args()
    print(json.dumps(measure(args.hidden, args.layers, args.replies), indent=2))


if __name__ == "__main__":
    main()
