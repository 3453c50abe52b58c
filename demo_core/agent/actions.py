"""The agent's tools, as lagent actions: the sandboxed interpreter and an offline calculator.

Both are ordinary ``lagent.actions.BaseAction`` subclasses, so lagent's
``ActionExecutor`` and ``Internlm2Protocol`` describe and call them as they would their
own -- only the execution underneath is ours.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable

from lagent.actions.base_action import BaseAction, tool_api
from lagent.schema import ActionReturn, ActionStatusCode

from demo_core.agent.kernel import ExecutionResult, Output, SandboxKernel

_FENCE = re.compile(r"```[^\n`]*\n(.*?)(?:```|$)", re.DOTALL)


def extract_code(text: str) -> str:
    """The Python inside a fenced block (InternLM2 writes ```python ... ```), else the text."""
    m = _FENCE.search(text)
    return (m.group(1) if m else text).strip("\n")


class SandboxInterpreter(BaseAction):
    """Runs the model's code in this session's sandboxed kernel.

    ``kernel`` is looked up on every call (a callable), so a restart or a reaped kernel
    is picked up. ``should_stop`` lets the Stop button interrupt a running cell;
    ``on_output`` streams each output to the UI while the cell runs. The full
    :class:`ExecutionResult` rides along on the returned ``ActionReturn`` as
    ``.execution`` (lagent's ``result`` carries only what the model should read).
    """

    def __init__(
        self,
        kernel: Callable[[], SandboxKernel],
        *,
        timeout_s: float | None = None,
        model_chars: int = 3000,
    ) -> None:
        super().__init__(description=None, enable=True)
        self._kernel = kernel
        self.timeout_s = timeout_s
        self.model_chars = model_chars
        self.should_stop: Callable[[], bool] | None = None
        self.on_output: Callable[[Output], None] | None = None

    @tool_api
    def run(self, command: str) -> ActionReturn:
        """Run Python code in a stateful Jupyter notebook. Files the user uploaded are in
        the current directory; plots shown with matplotlib are returned as images. There is
        no internet access.

        Args:
            command (:class:`str`): Python code
        """
        code = extract_code(command)
        res: ExecutionResult = self._kernel().execute(
            code, self.timeout_s, should_stop=self.should_stop, on_output=self.on_output
        )
        ret = ActionReturn(args={"text": command, "code": code}, type=self.name)
        text = res.text_for_model(self.model_chars)
        if res.ok:
            ret.result = [{"type": "text", "content": text}]
            ret.state = ActionStatusCode.SUCCESS
        else:
            ret.errmsg = text or res.notice or "the code failed"
            ret.state = ActionStatusCode.API_ERROR
        ret.execution = res  # type: ignore[attr-defined]
        return ret


# -- calculator --------------------------------------------------------------------------


class CalculatorError(ValueError):
    pass


# The plugin runs in the app's own process, where one huge big-int operation holds the GIL
# and freezes every page of every user: results are capped at ~3600 decimal digits (below
# Python's 4300-digit str() limit), and powers are refused *before* they are computed.
MAX_INT_BITS = 12_000


def _checked(value):
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise CalculatorError("result too large (more than about 3600 digits)")
    return value


def _power(left, right):
    if (
        isinstance(left, int)
        and isinstance(right, int)
        and right > 0
        and abs(left) > 1
        and right * (abs(left).bit_length() - 1) > MAX_INT_BITS
    ):
        raise CalculatorError("result too large (more than about 3600 digits)")
    return left**right


_BINOPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: _power,
}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCS: dict[str, Callable] = {
    name: getattr(math, name)
    for name in (
        "sqrt exp log log10 log2 sin cos tan asin acos atan atan2 sinh cosh tanh "
        "degrees radians floor ceil factorial comb perm gcd hypot fabs"
    ).split()
}
_FUNCS.update(abs=abs, round=round, min=min, max=max)
_CONSTS = {"pi": math.pi, "e": math.e, "tau": math.tau}


def evaluate(expression: str) -> float | int:
    """Arithmetic only: numbers, + - * / // % **, parentheses, math functions. No names,
    attributes or calls beyond that, and no huge powers, so it cannot run code or hang."""
    if len(expression) > 500:
        raise CalculatorError("expression too long")
    try:
        tree = ast.parse(expression.replace("^", "**"), mode="eval")
    except SyntaxError as exc:
        raise CalculatorError(f"not an arithmetic expression: {exc.msg}") from None

    def ev(node: ast.AST):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            left, right = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Pow) and abs(right) > 1000:
                raise CalculatorError("exponent too large")
            return _checked(_BINOPS[type(node.op)](left, right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return _checked(_UNARY[type(node.op)](ev(node.operand)))
        if isinstance(node, ast.Name) and node.id in _CONSTS:
            return _CONSTS[node.id]
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in _FUNCS
            and not node.keywords
        ):
            args = [ev(a) for a in node.args]
            if node.func.id in ("factorial", "comb", "perm") and max(args, default=0) > 1000:
                raise CalculatorError("argument too large")
            return _checked(_FUNCS[node.func.id](*args))
        raise CalculatorError(f"unsupported: {ast.unparse(node)}")

    try:
        return ev(tree)
    except (ZeroDivisionError, OverflowError, ValueError, TypeError) as exc:
        if isinstance(exc, CalculatorError):
            raise
        raise CalculatorError(str(exc)) from None


class Calculator(BaseAction):
    """An offline plugin: exact arithmetic without starting a kernel."""

    @tool_api
    def run(self, expression: str) -> ActionReturn:
        """Evaluate an arithmetic expression, e.g. "(3.5 + 2) * 4" or "sqrt(2) * log(10)".
        Supports + - * / // % ** and math functions (sqrt, log, exp, sin, cos, ...).

        Args:
            expression (:class:`str`): the arithmetic expression
        """
        ret = ActionReturn(args={"expression": expression}, type=self.name)
        try:
            value = evaluate(str(expression))
        except CalculatorError as exc:
            ret.errmsg = f"Calculator: {exc}"
            ret.state = ActionStatusCode.API_ERROR
            return ret
        try:
            text = f"{expression} = {value}"
        except ValueError as exc:  # a value str() refuses to print
            ret.errmsg = f"Calculator: {exc}"
            ret.state = ActionStatusCode.API_ERROR
            return ret
        ret.result = [{"type": "text", "content": text}]
        return ret


OFFLINE_PLUGINS: dict[str, Callable[[], BaseAction]] = {"Calculator": Calculator}
