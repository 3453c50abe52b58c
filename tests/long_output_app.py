"""A page drawing one finished agent turn whose code printed 200,000 characters, through
the real ``demo_ui.agent_view.render_turn`` (no model needed to test the drawing)."""

from demo_core.agent.kernel import ExecutionResult, Output
from demo_core.agent.transcript import Step, Turn
from demo_ui.agent_view import render_turn

LINE = "0123456789" * 10 + "\n"
text = LINE * 2000  # 202,000 characters
turn = Turn(
    question="Print a lot",
    steps=[
        Step(
            thought="Printing.",
            tool="interpreter",
            code="for i in range(2000): print('0123456789' * 10)",
            result=ExecutionResult(outputs=[Output("stream", text=text)]),
            status="done",
        ),
        Step(thought="Done."),
    ],
    answer="Done.",
    status="done",
)
render_turn(turn, key="long")
