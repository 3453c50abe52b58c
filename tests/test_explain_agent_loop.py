"""The agent loop diagram: one node per model call, tool call and result, then the answer."""

from __future__ import annotations

from demo_core.agent.transcript import Step, Turn
from demo_core.explain.agent_loop import loop_dot, loop_rows


def test_tool_call_then_answer():
    turn = Turn(
        question='Mean of "sales"?',
        steps=[
            Step(
                thought="Let me compute.",
                tool="interpreter",
                code="import pandas as pd\nx = 1",
                status="done",
                prompt_tokens=120,
                new_tokens=30,
                model_s=1.25,
                tool_s=0.4,
            ),
            Step(
                thought="The mean is 2.",
                status="done",
                prompt_tokens=170,
                new_tokens=8,
                model_s=0.5,
            ),
        ],
        answer="The mean is 2.",
        status="done",
    )
    dot = loop_dot(turn)
    assert dot.startswith("digraph agent {") and dot.rstrip().endswith("}")
    for needle in (
        'Question\\nMean of \\"sales\\"?',
        "Model call 1\\n120 prompt → 30 new tokens · 1.25 s",
        "Tool call: interpreter\\nimport pandas as pd",
        "Tool result: ok · 0.40 s",
        "Model call 2\\n170 prompt → 8 new tokens · 0.50 s",
        "Answer\\nThe mean is 2.",
        "q -> m0;",
        "m0 -> t0;",
        "t0 -> r0;",
        "r0 -> m1",
        "m1 -> a;",
    ):
        assert needle in dot, needle
    rows = loop_rows(turn)
    assert [r["tool"] for r in rows] == ["interpreter", ""]
    assert rows[0]["model s"] == 1.25 and rows[1]["tool s"] is None


def test_stopped_turn_ends_in_a_stop_node():
    turn = Turn(question="q", steps=[Step(status="stopped")], status="stopped")
    assert 'end [label="stopped"' in loop_dot(turn)
