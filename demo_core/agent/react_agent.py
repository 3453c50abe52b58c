"""The first-generation agent: lagent's ReAct protocol for InternLM (v1) chat models.

The camp-1 lesson drove InternLM-Chat-7B with lagent's ``ReAct`` agent and a Python
interpreter: the model answers ``Thought: … Action: PythonInterpreter Action Input: ```python …```
``, the tool result comes back as ``Response: …`` and the model ends with ``Final Answer:``.
InternLM (v1) never learnt InternLM2's ``<|action_start|>`` tool tokens, so this is the
protocol it can follow.

Prompt building and parsing are lagent's ``ReActProtocol`` unchanged; the chat wrapping is
the v1 format (``<|System|>:…\\n``, ``<|User|>:…<eoh>\\n``, ``<|Bot|>:…<eoa>\\n``, see
:mod:`demo_core.internlm1.template`) as a lagent meta template. The loop is ours, for the
same reasons as :class:`~demo_core.agent.agent.DataAgent`'s: it fills a
:class:`~demo_core.agent.transcript.Turn` step by step, stops between and within steps, and
turns a malformed call into something the model can read instead of an exception. The
interpreter is the same sandboxed kernel action, named ``PythonInterpreter`` as in the
original demo; plugins (calculator, ArxivSearch) are called by their lagent names.
"""

from __future__ import annotations

import logging

from lagent.actions import ActionExecutor
from lagent.agents.react import CALL_PROTOCOL_EN, FORCE_STOP_PROMPT_EN, ReActProtocol
from lagent.schema import ActionReturn, ActionStatusCode

from demo_core.agent.actions import SandboxInterpreter, extract_code
from demo_core.agent.agent import StepLoop
from demo_core.agent.transcript import Step, Turn
from demo_core.internlm1.template import BOT, EOA, SYSTEM, USER, ChatFormat, get_format

log = logging.getLogger(__name__)

DEFAULT_REACT_PROMPT = CALL_PROTOCOL_EN
STOP_WORDS = (EOA, "Response:")  # the model must not invent the tool's answer


TOOL_NAME = "PythonInterpreter"


def python_interpreter(kernel, timeout_s: float | None = None) -> SandboxInterpreter:
    """The sandboxed interpreter under the name the original ReAct demo gave its tool.

    Renamed on the instance: lagent registers tool classes by name, and its own
    ``PythonInterpreter`` (an unsandboxed ``exec``) already holds that name."""
    action = SandboxInterpreter(kernel, timeout_s=timeout_s)
    action._description["name"] = action._name = TOOL_NAME
    return action


def internlm1_meta(fmt: ChatFormat | str | None = None) -> list[dict]:
    """A lagent meta template for the v1 chat format of ``fmt``."""
    fmt = fmt if isinstance(fmt, ChatFormat) else get_format(fmt)
    return [
        dict(role="system", begin=f"{SYSTEM}:", end="\n"),
        dict(role="user", begin=f"{USER}:", end=f"{fmt.eoh}\n"),
        dict(role="assistant", begin=f"{BOT}:", end=f"{EOA}\n", generate=True),
    ]


def make_react_protocol(call_protocol: str = DEFAULT_REACT_PROMPT) -> ReActProtocol:
    return ReActProtocol(call_protocol=call_protocol, force_stop=FORCE_STOP_PROMPT_EN)


class ReActDataAgent(StepLoop):
    """lagent's ReAct, run step by step into a :class:`Turn` (same contract as DataAgent)."""

    def __init__(
        self,
        llm,
        action_executor: ActionExecutor,
        protocol: ReActProtocol | None = None,
        max_turn: int = 7,
    ) -> None:
        self._llm = llm
        self._action_executor = action_executor
        self._protocol = protocol or make_react_protocol()
        self.max_turn = max_turn

    def format_steps(self, steps: list[dict], force_stop: bool = False) -> list[dict]:
        """The ReAct prompt for ``steps``; a named message (an uploaded file's path) becomes
        plain text, as the v1 format has no names."""
        plain = [
            dict(
                role=m["role"],
                content=(f"{m['name']}: " if m.get("name") else "") + str(m.get("content", "")),
            )
            for m in steps
        ]
        return self._protocol.format(
            chat_history=[],
            inner_step=plain,
            action_executor=self._action_executor,
            force_stop=force_stop,
        )

    def parse(self, response: str) -> tuple[str, str, str]:
        try:
            return self._protocol.parse(response, self._action_executor)
        except Exception:  # never let a strange reply end the turn with a traceback
            return response, self._action_executor.no_action.name, ""

    def _interpreter_action(self) -> SandboxInterpreter | None:
        for action in self._action_executor.actions.values():
            if isinstance(action, SandboxInterpreter):
                return action
        return None

    def _act(self, response: str, inner: list[dict], step: Step, turn: Turn) -> ActionReturn | None:
        finish = self._action_executor.finish_action.name
        inner.append(dict(role="assistant", content=response))
        thought, action, arg = self.parse(response)
        step.thought = thought.strip()
        if action in (finish, self._action_executor.no_action.name):
            step.status = "done"
            answer = arg if action == finish else response
            turn.answer = answer.strip() or step.thought
            turn.status = "done"
            return None
        step.status = "running"
        ret = self._call(action, arg, step)
        inner.append(self._protocol.format_response(ret))
        return ret

    def _show_partial(self, step: Step, response: str) -> None:
        """The step as far as the model has written it: its thought, and the call it is
        writing."""
        thought, action, arg = self.parse(response)
        step.thought = thought.strip()
        ex = self._action_executor
        if action not in (ex.finish_action.name, ex.no_action.name) and arg:
            step.tool = "interpreter" if self._is_interpreter(action) else "plugin"
            step.code = extract_code(arg) if step.tool == "interpreter" else arg

    def _is_interpreter(self, name: str) -> bool:
        action = self._action_executor.actions.get(name)
        return isinstance(action, SandboxInterpreter)

    def _call(self, name: str, arg: str, step) -> ActionReturn:
        ex = self._action_executor
        if name not in ex.actions and name.split(".")[0] not in ex.actions:
            ret = ActionReturn(
                errmsg=f"There is no tool {name!r}. Use one of {ex.action_names()}, or give "
                "the Final Answer.",
                state=ActionStatusCode.API_ERROR,
            )
            step.tool, step.tool_output = "plugin", ret.errmsg
            return ret
        if self._is_interpreter(name):
            step.tool, step.code = "interpreter", extract_code(arg)
            interp = self._interpreter_action()
            if interp is not None:
                interp.on_output = step.live.append
            ret = ex(name, {"command": _command(arg)})
            step.result = getattr(ret, "execution", None)
            if step.result is None:
                step.tool_output = ret.errmsg or ret.format_result()
            return ret
        step.tool, step.code = "plugin", arg
        try:
            ret = ex(name, arg)
        except Exception as exc:  # a plugin bug must not end the turn
            log.exception("plugin failed")
            ret = ActionReturn(errmsg=f"The plugin failed: {exc}", state=ActionStatusCode.API_ERROR)
        step.tool_output = (
            ret.format_result() if ret.state == ActionStatusCode.SUCCESS else str(ret.errmsg)
        )
        return ret


def is_first_generation(engine) -> bool:
    """Chosen from the model: first-generation InternLM speaks ReAct, InternLM2 its own tokens."""
    return is_first_generation_key(engine.info.key)


def is_first_generation_key(key: str) -> bool:
    from demo_core.specs import SPECS

    spec = SPECS.get(key)
    return spec is not None and spec.kind == "internlm"


def build_react_agent(
    engine,
    params,
    interpreter: SandboxInterpreter | None,
    plugins: list,
    cancel,
    max_turn: int,
) -> ReActDataAgent:
    """The v1 agent over ``engine``: lagent's LLM adapter with the v1 meta template, the
    ReAct stop words, the interpreter (if on) and the plugins in one executor."""
    from dataclasses import replace

    from demo_core.agent.llm import EngineLLM

    fmt = getattr(engine, "chat_format", None)
    llm = EngineLLM(
        engine, replace(params, stop_words=STOP_WORDS), meta_template=internlm1_meta(fmt)
    )
    llm.cancel = cancel
    actions = ([interpreter] if interpreter is not None else []) + list(plugins)
    return ReActDataAgent(llm, ActionExecutor(actions=actions), max_turn=max_turn)


def _command(arg: str) -> str:
    """The code of an interpreter call: the raw Action Input, or its ``command`` when the
    model followed the tool description's JSON advice."""
    import json

    try:
        value = json.loads(arg)
    except ValueError:
        return arg
    return str(value["command"]) if isinstance(value, dict) and "command" in value else arg
