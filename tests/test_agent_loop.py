"""The agent loop end to end: a scripted InternLM2 (real protocol text) against real kernels."""

from __future__ import annotations

import io
import json
import os
import re
import time
import zipfile

import pytest
from lagent.agents.internlm2_agent import Internlm2Agent
from lagent.llms.meta_template import INTERNLM2_META

from demo_core.agent.agent import make_protocol
from demo_core.agent.kernel import KernelLimits
from demo_core.agent.llm import EngineLLM
from demo_core.agent.registry import KernelRegistry
from demo_core.agent.session import AgentSession, AgentSettings
from demo_core.engine.base import EngineError
from tests.agent_scripted import ScriptedEngine, code_call, kernel_registry, plugin_call

pytestmark = pytest.mark.timeout(120)

CSV = "city,sales\nBeijing,120\nShanghai,150\nShenzhen,90\n"


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    with kernel_registry(tmp_path_factory.mktemp("agent-loop")) as reg:
        yield reg


_counter = iter(range(10**6))


@pytest.fixture
def session(registry) -> AgentSession:
    """A fresh conversation and kernel per test (the registry and its folder are shared;
    a kernel starts in ~1.5 s, and only for tests that run code)."""
    s = AgentSession(f"loop{next(_counter)}", registry)
    yield s
    s.stop()
    registry.release(s.session_id)


def ask(session, engine, question="Analyse the data", **settings):
    run = session.ask(question, engine, AgentSettings(**settings))
    assert run.wait(60), "the run did not finish"
    return run.turn


def file_path_from(prompt: str) -> str:
    m = re.search(r"<\|im_start\|>user name=file\n(\{.*?\})<\|im_end\|>", prompt)
    assert m, "the uploaded file was not announced to the model"
    return json.loads(m.group(1))["path"]


def test_csv_analysis_with_plot(session):
    info = session.add_upload("sales.csv", CSV.encode())
    assert info.name == "sales.csv" and "3 rows" in info.note

    def write_code(prompt: str) -> str:
        path = file_path_from(prompt)
        code = (
            f"df = pd.read_csv({path!r})\n"
            "print('mean sales', df['sales'].mean())\n"
            "df.plot.bar(x='city', y='sales')\n"
            "plt.show()\n"
            "df.sort_values('sales', ascending=False)"
        )
        return code_call(code, "I will load the file and plot it.")

    def answer(prompt: str) -> str:
        # the tool result reached the model, in InternLM2's environment role
        assert "<|im_start|>environment name=<|interpreter|>\nmean sales 120.0" in prompt
        assert "[image: figures/figure-001.png]" in prompt
        return "Shanghai sells the most; the mean is 120."

    engine = ScriptedEngine([write_code, answer])
    turn = ask(session, engine, "Which city sells most? Plot it.")
    assert turn.status == "done", turn.error
    assert turn.answer == "Shanghai sells the most; the mean is 120."
    first, last = turn.steps
    assert first.tool == "interpreter" and first.thought == "I will load the file and plot it."
    assert first.code.startswith("df = pd.read_csv(")
    res = first.result
    assert res.ok and res.images[0].png.startswith(b"\x89PNG")
    (table,) = res.tables
    assert table.table["data"][0][1:] == ["Shanghai", 150]
    assert last.tool == "" and last.status == "done"
    # the prompt was InternLM2's: BOS, system prompts, the upload as a named user message
    p0 = engine.prompts[0]
    assert p0.startswith("<s><|im_start|>system\n")
    assert "<|im_start|>system name=<|interpreter|>\n" in p0
    assert p0.endswith("<|im_start|>assistant\n")
    assert engine.params[0].stop_words == ("<|im_end|>",)
    # downloads: the files (upload + figure + transcript) and a Markdown transcript
    zf = zipfile.ZipFile(io.BytesIO(session.files_zip()))
    assert {"sales.csv", "figures/figure-001.png", "transcript.md"} <= set(zf.namelist())
    md = session.transcript()
    assert "```python\ndf = pd.read_csv(" in md and "![figures/figure-001.png]" in md
    assert "Shanghai sells the most" in md
    # a follow-up question sees the earlier turn (history kept in lagent's format)
    engine.replies = [lambda p: "yes" if "mean sales 120.0" in p else "history lost"]
    assert ask(session, engine, "Are you sure?").answer == "yes"


def test_error_in_user_code_goes_back_to_the_model(session):
    engine = ScriptedEngine(
        [
            code_call("1 / 0"),
            lambda p: "Division by zero." if "ZeroDivisionError" in p else "missed it",
        ]
    )
    turn = ask(session, engine)
    assert turn.steps[0].result.error_name == "ZeroDivisionError"
    assert not turn.steps[0].tool_ok
    assert turn.answer == "Division by zero."


def test_infinite_loop_times_out_and_the_next_step_runs(session):
    engine = ScriptedEngine(
        [
            code_call("x = 5\nwhile True:\n    pass"),
            code_call("print(x + 1)"),
            lambda p: "ok" if "longer than 3 s" in p else "no timeout message",
        ]
    )
    turn = ask(session, engine, timeout_s=3)
    assert turn.steps[0].result.timed_out
    assert turn.steps[1].result.outputs[0].text.strip() == "6"  # kernel state survived
    assert turn.answer == "ok"


def test_memory_bomb_and_sandbox_refusals_are_explained(session):
    engine = ScriptedEngine(
        [
            code_call("big = bytearray(64 * 1024**3)"),
            code_call("open('/etc/shadow').read()"),
            code_call("import socket\nsocket.create_connection(('127.0.0.1', 9), timeout=2)"),
            "done",
        ]
    )
    turn = ask(session, engine, timeout_s=5)
    mem, fs, net = (s.result for s in turn.steps[:3])
    assert mem.error_name == "MemoryError" and "ran out of memory" in mem.notice
    assert fs.error_name == "FileNotFoundError"  # /etc/shadow is not in the sandbox
    assert not net.ok and net.error_name in ("OSError", "ConnectionRefusedError")
    assert "ran out of memory" in engine.prompts[1]
    assert turn.status == "done"


def test_killed_kernel_is_restarted_and_the_user_told(session):
    engine = ScriptedEngine(
        [
            code_call("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"),
            code_call("print('back')"),
            "recovered",
        ]
    )
    turn = ask(session, engine)
    first = turn.steps[0].result
    assert first.restarted and "restarted" in first.notice
    assert turn.steps[1].result.outputs[0].text.strip() == "back"
    assert "restarted" in engine.prompts[1]


def test_stop_during_generation(session):
    engine = ScriptedEngine(["word " * 2000], chunk=5, delay_s=0.002)
    run = session.ask("talk", engine, AgentSettings())
    time.sleep(0.3)
    t0 = time.monotonic()
    session.stop()
    assert run.done and time.monotonic() - t0 < 2
    assert run.turn.status == "stopped"
    assert engine.cancelled_runs == 1
    assert len(run.turn.steps[0].thought) < len("word " * 2000)


def test_stop_during_code_interrupts_the_kernel(session):
    engine = ScriptedEngine([code_call("import time\ntime.sleep(60)"), "never"])
    run = session.ask("sleep", engine, AgentSettings(timeout_s=120))
    for _ in range(400):  # until the cell itself runs (the kernel starts first)
        if session.kernel.busy:
            break
        time.sleep(0.05)
    assert session.kernel.busy
    t0 = time.monotonic()
    session.stop()
    assert run.done and time.monotonic() - t0 < 4
    assert run.turn.status == "stopped"
    assert run.turn.steps[0].result.cancelled
    assert len(engine.prompts) == 1  # the model was not asked again


def test_interpreter_off_is_explained_to_the_model(session):
    engine = ScriptedEngine(
        [code_call("print(1)"), lambda p: "fine" if "turned off" in p else "crashed"]
    )
    turn = ask(session, engine, interpreter=False)
    assert turn.answer == "fine"
    assert "system name=<|interpreter|>" not in engine.prompts[0]
    assert not session.registry.has_kernel(session.session_id)


def test_calculator_plugin(session):
    engine = ScriptedEngine(
        [
            plugin_call('{"name": "Calculator", "parameters": {"expression": "2**10 + sqrt(16)"}}'),
            lambda p: "1028" if "2**10 + sqrt(16) = 1028.0" in p else "wrong",
        ]
    )
    turn = ask(session, engine, plugins=("Calculator",))
    assert "system name=<|plugin|>" in engine.prompts[0] and '"Calculator"' in engine.prompts[0]
    assert turn.steps[0].tool == "plugin" and "1028.0" in turn.steps[0].tool_output
    assert turn.answer == "1028"


@pytest.mark.parametrize(
    "reply",
    [
        plugin_call("not json at all"),
        "stray <|plugin|> token then text",
        "<|action_start|><|plugin|>\n{}<|action_end|><|action_start|><|plugin|>\n{}<|action_end|>",
        "<|action_start|><|interpreter|>\nno fence, no end",
    ],
)
def test_malformed_tool_calls_never_crash(session, reply):
    engine = ScriptedEngine([reply, "final"], key="tiny-internlm2")
    turn = ask(session, engine, interpreter=False)
    assert turn.status == "done", turn.error
    assert "<|" not in "".join(s.thought for s in turn.steps)


def test_edited_prompts_take_effect_and_braces_are_safe(session):
    engine = ScriptedEngine(["answer"])
    ask(
        session,
        engine,
        meta_prompt="You are DataBot.",
        interpreter_prompt='Use {"json": true} freely.',
        plugins=("Calculator",),
        plugin_prompt="Tools: {prompt} -- {not a field}",
    )
    p = engine.prompts[0]
    assert "<|im_start|>system\nYou are DataBot.<|im_end|>" in p
    assert 'Use {"json": true} freely.' in p
    assert "Tools: [" in p and "{not a field}" in p


def test_max_turns_ends_with_a_note(session):
    engine = ScriptedEngine([code_call("print(1)")] * 3)
    turn = ask(session, engine, max_turns=2)
    assert len(turn.steps) == 2 and turn.status == "done"
    assert "all 2 turns" in turn.error


def test_engine_error_is_reported(session):
    engine = ScriptedEngine([EngineError("GPU out of memory, try again")])
    turn = ask(session, engine)
    assert turn.status == "error" and "out of memory" in turn.error


def test_old_history_is_dropped_to_fit_the_context(session):
    engine = ScriptedEngine(["a" * 3000, "b"], context_window=2048)
    ask(session, engine, "first " * 300)
    ask(session, engine, "second")
    assert "first first" not in engine.prompts[1]
    assert "second" in engine.prompts[1]


def test_lagents_own_agent_runs_on_the_adapter():
    """The adapter is a real lagent LLM: lagent's unmodified Internlm2Agent.chat works."""
    engine = ScriptedEngine(["plain answer"])
    llm = EngineLLM(engine)
    agent = Internlm2Agent(llm=llm, protocol=make_protocol(meta_prompt="meta"))
    ret = agent.chat("hi")
    assert ret.response == "plain answer"
    assert engine.prompts[0] == (
        "<s><|im_start|>system\nmeta<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert llm.template_parser.meta_template is INTERNLM2_META


def test_uploads_respect_the_folder_quota_and_files_can_be_deleted(tmp_path):
    from demo_core.agent.uploads import UploadError

    os.chmod(tmp_path, 0o711)
    reg = KernelRegistry(tmp_path, KernelLimits(folder_bytes=200_000))
    s = AgentSession("quota", reg)
    try:
        rows = "".join(f"{i},{i * 2}\n" for i in range(12_000))  # about 130 kB
        s.add_upload("a.csv", ("x,y\n" + rows).encode())
        with pytest.raises(UploadError, match="does not fit.*limit"):
            s.add_upload("b.csv", ("x,y\n" + rows).encode())
        assert [p.name for p in s.files()] == ["a.csv"]
        s.delete_file("a.csv")
        assert s.files() == [] and s.pending_files == []
        s.add_upload("b.csv", ("x,y\n" + rows).encode())  # fits again
        with pytest.raises(ValueError, match="not a file of this session"):
            s.delete_file("../quota-escape.txt")
        s.delete_file("gone.csv")  # already gone: nothing to do
    finally:
        reg.shutdown_all()


def test_files_of_a_question_that_never_reached_the_model_go_with_the_next(session):
    info = session.add_upload("sales.csv", CSV.encode())
    engine = ScriptedEngine(["Here is the answer."], context_window=2048)
    failed = ask(session, engine, "why " * 3000)  # longer than the whole context
    assert failed.status == "error" and "next question" in failed.error
    assert [f.name for f in session.pending_files] == [info.name]
    ask(session, engine, "Total sales?")
    assert file_path_from(engine.prompts[-1]) == info.path
    assert session.pending_files == []


def test_same_file_again_is_not_duplicated_and_removal_before_asking_withdraws_it(session):
    first = session.add_upload("sales.csv", CSV.encode())
    again = session.add_upload("sales.csv", CSV.encode())
    assert again.path == first.path and len(session.pending_files) == 1
    other = session.add_upload("sales.csv", (CSV + "Hangzhou,80\n").encode())
    assert other.name == "sales_2.csv"
    assert session.withdraw_pending("sales_2.csv")
    assert [p.name for p in session.files()] == ["sales.csv"]
    engine = ScriptedEngine(["ok"])
    ask(session, engine, "Total?")
    assert not session.withdraw_pending("sales.csv"), "files the model has seen stay"
    assert [p.name for p in session.files()] == ["sales.csv"]
