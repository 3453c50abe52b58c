"""The agent's loop as a diagram: question, model calls, tool calls, results, answer.

Built from the :class:`~demo_core.agent.transcript.Turn` the agent fills in anyway; each
step carries its model call's token counts and durations (``DataAgent._measure``) and
its tool run's duration. The diagram is Graphviz DOT text, which Streamlit draws in the
browser (``st.graphviz_chart``) without a Graphviz install.
"""

from __future__ import annotations

from demo_core.agent.transcript import Turn
from demo_core.i18n import N_, _

# a step's status as the table shows it (Step.status / Turn.status)
STATUS_LABELS = {
    "thinking": N_("thinking"),
    "running": N_("running"),
    "done": N_("done"),
    "stopped": N_("stopped"),
    "error": N_("error"),
}


def _q(text: str) -> str:
    """A DOT string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _short(text: str, n: int = 48) -> str:
    line = " ".join(text.split())
    return line if len(line) <= n else line[: n - 1] + "…"


def loop_rows(turn: Turn) -> list[dict]:
    """One row per model call: what it did, its tokens and times."""
    rows = []
    for i, s in enumerate(turn.steps, 1):
        rows.append(
            {
                _("step"): i,
                _("model call"): _("tool call") if s.tool else _("answer"),
                _("tool"): s.tool or "",
                _("prompt tokens"): s.prompt_tokens,
                _("new tokens"): s.new_tokens,
                _("model s"): round(s.model_s, 2),
                _("tool s"): round(s.tool_s, 2) if s.tool else None,
                _("status"): _(STATUS_LABELS.get(s.status, s.status)),
            }
        )
    return rows


def loop_dot(turn: Turn) -> str:
    """The turn as a top-to-bottom flow chart."""
    # translated outside the f-strings: pybabel does not look into them
    question = _q(_("Question") + "\n" + _short(turn.question))
    lines = [
        "digraph agent {",
        "  rankdir=TB; nodesep=0.3; ranksep=0.35;",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9, color="#6b7280"];',
        f'  q [label={question}, fillcolor="#dbeafe"];',
    ]
    prev, prev_label = "q", ""
    for i, s in enumerate(turn.steps):
        m = f"m{i}"
        label = (
            _("Model call {n}").format(n=i + 1)
            + "\n"
            + _("{p} prompt → {k} new tokens · {t:.2f} s").format(
                p=s.prompt_tokens, k=s.new_tokens, t=s.model_s
            )
        )
        if s.thought.strip() and s.tool:
            label += "\n" + _("thought: {x}").format(x=_short(s.thought, 40))
        lines.append(f'  {m} [label={_q(label)}, fillcolor="#dcfce7"];')
        lines.append(
            f"  {prev} -> {m}" + (f" [label={_q(prev_label)}]" if prev_label else "") + ";"
        )
        if s.tool:
            code = _short(s.code.strip().splitlines()[0] if s.code.strip() else "", 40)
            t, r = f"t{i}", f"r{i}"
            call = _("Tool call: {tool}").format(tool=s.tool) + (f"\n{code}" if code else "")
            lines.append(f'  {t} [label={_q(call)}, fillcolor="#fde68a"];')
            ok = _("ok") if s.tool_ok and s.status != "error" else _("error")
            if s.status == "running":
                ok = _("running…")
            result = _("Tool result: {ok} · {t:.2f} s").format(ok=ok, t=s.tool_s)
            lines.append(f'  {r} [label={_q(result)}, fillcolor="#fed7aa"];')
            lines.append(f"  {m} -> {t};")
            lines.append(f"  {t} -> {r};")
            prev, prev_label = r, _("result back to the model")
        else:
            prev, prev_label = m, ""
    if turn.answer:
        answer = _q(_("Answer") + "\n" + _short(turn.answer))
        lines.append(f'  a [label={answer}, fillcolor="#e8e0ff"];')
        lines.append(f"  {prev} -> a;")
    elif turn.status in ("stopped", "error"):
        lines.append(f'  end [label={_q(_(turn.status))}, fillcolor="#fecaca"];')
        lines.append(f"  {prev} -> end;")
    lines.append("}")
    return "\n".join(lines)
