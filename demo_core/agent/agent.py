"""lagent's Internlm2Agent, with a step loop the UI can follow and nothing that can crash.

Prompt building, response parsing and tool results go through lagent's
``Internlm2Protocol`` unchanged -- that is the format InternLM2-chat was trained on. Only
the loop around it is rewritten, because lagent 0.2.4's ``stream_chat``:

- raises ``UnboundLocalError`` when the model calls the interpreter while it is turned
  off, and a ``TypeError`` when a plugin call is not valid JSON (it ``continue``s and then
  uses the unset variables);
- crashes in ``Internlm2Protocol.parse`` on a stray ``<|plugin|>`` token (``split``
  unpacking), which a small or confused model does emit;
- deep-copies the whole state on every token and ``print``s every response;
- cannot be stopped between steps.

Here each model call becomes a :class:`~demo_core.agent.transcript.Step` that the page
renders while it streams, a tool the model may not use is answered with an explanation
the model can act on, and a stop request is honoured between and within steps.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

from lagent.actions import ActionExecutor
from lagent.agents.internlm2_agent import (
    INTERPRETER_CN,
    META_CN,
    PLUGIN_CN,
    Internlm2Agent,
    Internlm2Protocol,
)
from lagent.llms.base_llm import BaseModel
from lagent.schema import ActionReturn, ActionStatusCode, ModelStatusCode

from demo_core.agent.actions import SandboxInterpreter, extract_code
from demo_core.agent.transcript import Step, Turn
from demo_core.i18n import _

log = logging.getLogger(__name__)

DEFAULT_META_PROMPT = META_CN
DEFAULT_INTERPRETER_PROMPT = INTERPRETER_CN
DEFAULT_PLUGIN_PROMPT = PLUGIN_CN
SPECIAL_TOKENS = (
    "<|action_start|>",
    "<|action_end|>",
    "<|interpreter|>",
    "<|plugin|>",
    "<|im_start|>",
    "<|im_end|>",
)


def _format_safe(template: str, field: str) -> str:
    """Protocol prompts go through ``str.format``: a user-edited prompt with ``{`` in it
    (JSON, code) would raise. Escape every brace except the one placeholder lagent fills."""
    text = template.replace("{", "{{").replace("}", "}}")
    return text.replace("{{" + field + "}}", "{" + field + "}")


def make_protocol(
    meta_prompt: str = DEFAULT_META_PROMPT,
    interpreter_prompt: str = DEFAULT_INTERPRETER_PROMPT,
    plugin_prompt: str = DEFAULT_PLUGIN_PROMPT,
) -> Internlm2Protocol:
    """lagent's protocol with the prompts the user edited (an empty prompt is left out,
    as lagent does)."""
    return Internlm2Protocol(
        meta_prompt=meta_prompt,
        interpreter_prompt=_format_safe(interpreter_prompt, "code_prompt"),
        plugin_prompt=_format_safe(plugin_prompt, "prompt"),
    )


def strip_special(text: str) -> str:
    for tok in SPECIAL_TOKENS:
        text = text.replace(tok, "")
    return text


class StepLoop:
    """The turn loop both agents share (InternLM2's tool tokens, and the first generation's
    ReAct): each model call becomes a :class:`Step` that fills in while it streams, a tool
    call runs and its result goes back to the model, and a stop request is honoured between
    and within steps. A subclass says how to prompt (:meth:`format_steps`), what a partial
    reply shows (:meth:`_show_partial`) and what a whole one does (:meth:`_act`)."""

    _llm: BaseModel
    max_turn: int

    def format_steps(self, steps: list[dict], force_stop: bool = False) -> list[dict]:
        raise NotImplementedError

    def _interpreter_action(self) -> SandboxInterpreter | None:
        raise NotImplementedError

    def _show_partial(self, step: Step, response: str) -> None:
        raise NotImplementedError

    def _act(self, response: str, inner: list[dict], step: Step, turn: Turn) -> ActionReturn | None:
        """Take the model's whole ``response`` into ``inner``: the answer (``turn`` is then
        done; returns None), or a tool call, run, with its result (returned)."""
        raise NotImplementedError

    def run_turn(
        self,
        history: list[dict],
        new_messages: list[dict],
        turn: Turn,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> list[dict]:
        """Answer ``new_messages`` given ``history`` (both lagent inner-step dicts).

        Returns the inner steps this turn added (assistant text, tool calls, tool results)
        for the caller to keep as history. ``turn.status`` ends as done, stopped or error.
        """
        inner = list(history) + list(new_messages)
        offset = len(inner)
        interp = self._interpreter_action()
        if interp is not None:
            interp.should_stop = should_stop
        for i in range(self.max_turn):
            if should_stop():
                turn.status = "stopped"
                break
            prompt = self.format_steps(inner, force_stop=i == self.max_turn - 1)
            step = turn.new_step()
            if interp is not None:
                interp.on_output = None
            response = self._stream(prompt, step, turn)
            if response is None:
                break
            ret = self._act(response, inner, step, turn)
            if ret is None:
                break
            step.tool_ok = ret.state == ActionStatusCode.SUCCESS
            if step.result is not None and step.result.cancelled:
                step.status = turn.status = "stopped"
                break
            step.status = "done"
        else:
            turn.status = "done"
            turn.error = _(
                "The agent used all {n} turns without a final answer. Ask it to continue, or "
                "raise 'max turns' in the sidebar."
            ).format(n=self.max_turn)
        return inner[offset:]

    def _stream(self, prompt: list[dict], step: Step, turn: Turn) -> str | None:
        """One model call, streamed into ``step`` (see :meth:`_show_partial`). Returns the
        whole response, or ``None`` when the call was stopped or failed -- ``step`` and
        ``turn`` then say which (and why)."""
        state, response = ModelStatusCode.END, ""
        for state, response, _extra in self._llm.stream_chat(prompt):
            if state.value < 0:
                break
            self._show_partial(step, response)
        if state.value >= 0:
            return response
        step.status = "stopped" if state == ModelStatusCode.SESSION_CLOSED else "error"
        turn.status = step.status
        if step.status == "error":
            turn.error = getattr(self._llm, "last_error", "") or state.name
        return None


class DataAgent(StepLoop, Internlm2Agent):
    """``Internlm2Agent`` whose :meth:`run_turn` fills a :class:`Turn` step by step."""

    def __init__(
        self,
        llm,
        plugin_executor: ActionExecutor | None = None,
        interpreter_executor: ActionExecutor | None = None,
        protocol: Internlm2Protocol | None = None,
        max_turn: int = 7,
    ) -> None:
        super().__init__(
            llm=llm,
            plugin_executor=plugin_executor,
            interpreter_executor=interpreter_executor,
            protocol=protocol or make_protocol(),
            max_turn=max_turn,
        )

    def format_steps(self, steps: list[dict], force_stop: bool = False) -> list[dict]:
        """The prompt (lagent messages) for these inner steps (InternLM2's protocol has no
        forced last step: ``force_stop`` changes nothing)."""
        return self._protocol.format(
            inner_step=steps,
            plugin_executor=self._action_executor,
            interpreter_executor=self._interpreter_executor,
        )

    def parse(self, response: str) -> tuple[str | None, str, object]:
        """lagent's parse, but a malformed tool call becomes plain text, never an error."""
        try:
            return self._protocol.parse(
                message=response,
                plugin_executor=self._action_executor,
                interpreter_executor=self._interpreter_executor,
            )
        except Exception:
            return None, strip_special(response), None

    def _stream(self, prompt: list[dict], step: Step, turn: Turn) -> str | None:
        t0 = time.perf_counter()
        response = super()._stream(prompt, step, turn)
        self._measure(step, len(turn.steps) - 1, turn, time.perf_counter() - t0)
        return response

    def _act(self, response: str, inner: list[dict], step: Step, turn: Turn) -> ActionReturn | None:
        name, language, action = self.parse(response)
        step.thought = strip_special(language)  # shown; the model's history keeps it raw
        inner.append(dict(role="language", content=language))
        if not name:
            step.status = "done"
            turn.answer = step.thought
            turn.status = "done"
            return None
        step.status = "running"
        t0 = time.perf_counter()
        ret, tool_content = self._call_tool(name, action, step)
        step.tool_s = time.perf_counter() - t0
        inner.append(dict(role="tool", content=tool_content, name=name))
        inner.append(self._protocol.format_response(ret, name=name))
        return ret

    def _show_partial(self, step: Step, response: str) -> None:
        """The step as far as the model has written it: its thought, and the call it is
        writing."""
        name, language, action = self.parse(response)
        step.thought = strip_special(language)
        if name == "interpreter" and isinstance(action, dict):
            step.tool = "interpreter"
            step.code = extract_code(action["parameters"]["command"])
        elif name == "plugin":
            step.tool = "plugin"
            step.code = str(action).strip()

    def _measure(self, step, index: int, turn: Turn, seconds: float) -> None:
        """Sizes and time of the model call just made, for the loop diagram."""
        step.model_s = seconds
        stats = getattr(self._llm, "last_stats", None)
        if stats is not None:
            step.prompt_tokens, step.new_tokens = stats.prompt_tokens, stats.new_tokens
        trace = getattr(self._llm, "last_trace", None)
        if trace is not None:
            turn.traces[index] = trace

    def _interpreter_action(self) -> SandboxInterpreter | None:
        ex = self._interpreter_executor
        if ex is None:
            return None
        for action in ex.actions.values():
            if isinstance(action, SandboxInterpreter):
                return action
        return None

    def _call_tool(self, name: str, action: object, step) -> tuple[ActionReturn, object]:
        """Run the tool call; a call that cannot run gets an error the model can read."""
        if name == "interpreter":
            step.tool = "interpreter"
            ex = self._interpreter_executor
            if ex is None or not isinstance(action, dict):
                ret = _refusal(
                    "The code interpreter is turned off in this session. Answer without "
                    "running code."
                )
                step.tool_output = ret.errmsg
                return ret, action
            interp = self._interpreter_action()
            if interp is not None:
                interp.on_output = step.live.append
            ret = ex(action["name"], action["parameters"])
            step.result = getattr(ret, "execution", None)
            if step.result is None:
                step.tool_output = ret.errmsg or ret.format_result()
            return ret, action
        # plugin
        step.tool = "plugin"
        ex = self._action_executor
        raw = str(action)
        if ex is None or not ex.actions:
            ret = _refusal("No plugins are enabled in this session. Answer without them.")
            step.tool_output = ret.errmsg
            return ret, raw
        try:
            call = json.loads(raw)
            if not isinstance(call, dict) or "name" not in call:
                raise ValueError('expected {"name": ..., "parameters": {...}}')
        except ValueError as exc:
            ret = _refusal(
                f"The plugin call is not valid JSON ({exc}). Available: {list(ex.actions)}"
            )
            step.tool_output = ret.errmsg
            return ret, raw
        try:
            ret = ex(call["name"], call.get("parameters", {}))
        except Exception as exc:  # a plugin bug must not end the turn
            log.exception("plugin failed")
            ret = _refusal(f"The plugin failed: {exc}")
        step.tool_output = (
            ret.format_result() if ret.state == ActionStatusCode.SUCCESS else str(ret.errmsg)
        )
        return ret, call


def _refusal(message: str) -> ActionReturn:
    return ActionReturn(errmsg=message, state=ActionStatusCode.API_ERROR)
