"""The real data-agent page with a scripted InternLM2 in place of the 7B, for browser tests
(``streamlit run tests/agent_scripted_app.py``). Not part of the app.

Each question is answered with one code cell that reads the uploaded CSV, prints a sum,
draws a bar chart and shows the table, then a final answer -- the path a real analysis
takes through the sandboxed kernel."""

from __future__ import annotations

import runpy
import time
from pathlib import Path

from demo_core.engine.manager import Resident
from demo_ui.resources import get_manager
from tests.agent_scripted import ScriptedEngine, code_call

CODE = (
    "df = pd.read_csv('sales.csv')\n"
    "print('total', int(df['sales'].sum()))\n"
    "df.plot.bar(x='city', y='sales'); plt.show()\n"
    "df"
)

manager = get_manager()
if "internlm2-chat-7b" not in manager._resident:
    replies = []
    for _ in range(20):
        replies += [code_call(CODE, "Let me add up the sales."), "The total sales are 8."]
    now = time.time()
    manager._resident["internlm2-chat-7b"] = Resident(ScriptedEngine(replies), 0, now, now)

runpy.run_path(str(Path(__file__).resolve().parents[1] / "pages" / "3_Data_Agent.py"))
