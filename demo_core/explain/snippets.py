"""The code behind a demo action: short Python a student can paste into a terminal.

Each snippet is generated from the settings the page actually used (model folder,
messages, sampling) and runs as shown from the app's folder with its virtual environment
(``.venv/bin/python snippet.py``): the tests run every one in a subprocess against a tiny
model and compare its greedy text with the page's. The model is loaded with this
project's loader (``demo_core.internlm2.loader``) because the hub's own
``trust_remote_code`` classes no longer work on transformers 5 (see DESIGN.md); from
there on it is plain transformers (``apply_chat_template``, ``generate``) or lagent.

Values are written with :func:`repr`, so any prompt text (quotes, newlines, Chinese)
round-trips exactly.
"""

from __future__ import annotations

import pprint
from collections.abc import Sequence

from demo_core.engine.base import GenerationParams, Message


def _literal(value: object) -> str:
    return pprint.pformat(value, width=88, sort_dicts=False)


def _sampling_kwargs(params: GenerationParams, indent: str = "    ") -> str:
    if params.do_sample and params.temperature > 0:
        lines = [
            "do_sample=True,",
            f"temperature={params.temperature!r},",
            f"top_p={params.top_p!r},",
            f"top_k={params.top_k!r},",
        ]
    else:
        lines = ["do_sample=False,  # greedy: always the most likely token"]
    lines.append(f"repetition_penalty={params.repetition_penalty!r},")
    return "\n".join(indent + line for line in lines)


def _params_code(params: GenerationParams, indent: str = "", extra: Sequence[str] = ()) -> str:
    """``GenerationParams(...)`` with the page's values (and ``extra`` fields), as code whose
    first line goes after text at ``indent``."""
    fields = [
        f"max_new_tokens={int(params.max_new_tokens)!r},",
        f"temperature={params.temperature!r},",
        f"top_p={params.top_p!r},",
        f"top_k={params.top_k!r},",
        f"repetition_penalty={params.repetition_penalty!r},",
        f"do_sample={bool(params.do_sample)!r},",
        *extra,
    ]
    return "GenerationParams(\n" + "".join(f"{indent}    {f}\n" for f in fields) + f"{indent})"


def _seed_note(params: GenerationParams) -> str:
    if params.do_sample and params.temperature > 0:
        return (
            "# Sampling draws at random: each run (and the page) writes another reply.\n"
            "# Set do_sample=False to get the greedy reply every time.\n"
        )
    return ""


_LOAD = """\
import torch

# This project's loader: InternLM2 as a plain transformers Llama, no trust_remote_code
from demo_core.internlm2.loader import load_internlm2

loaded = load_internlm2(
    {path!r},
    device="cuda" if torch.cuda.is_available() else "cpu",
)
model, tokenizer = loaded.model, loaded.tokenizer
"""


def chat_snippet(model_path: str, messages: Sequence[Message], params: GenerationParams) -> str:
    """Load the model and answer ``messages`` (system prompt and history included, as the
    page sent them after fitting the context window) with the page's sampling."""
    msgs = [{"role": m["role"], "content": m["content"]} for m in messages]
    return (
        "# Run from the app's folder: .venv/bin/python chat.py\n"
        + _LOAD.format(path=str(model_path))
        + f"""
messages = {_literal(msgs)}

# The chat template: <s><|im_start|>role\\ncontent<|im_end|>\\n ... <|im_start|>assistant\\n
input_ids = tokenizer.apply_chat_template(
    messages, add_generation_prompt=True, return_tensors="pt"
)["input_ids"].to(model.device)
print(len(input_ids[0]), "prompt tokens")

{_seed_note(params)}output = model.generate(
    input_ids,
    attention_mask=torch.ones_like(input_ids),
    max_new_tokens={int(params.max_new_tokens)!r},
{_sampling_kwargs(params)}
    eos_token_id=loaded.stop_ids,  # </s> and <|im_end|>
    pad_token_id=tokenizer.pad_token_id,
)
reply = output[0, input_ids.shape[1] :]
print(tokenizer.decode(reply, skip_special_tokens=True))
"""
    )


def download_snippet(
    repo_id: str, local_dir: str, endpoint: str | None = None, filename: str | None = None
) -> str:
    """``hf_hub_download`` of one file, or ``snapshot_download`` of the whole model."""
    where = f",\n    endpoint={endpoint!r}," if endpoint else ","
    if filename:
        call = (
            "from huggingface_hub import hf_hub_download\n\n"
            f"path = hf_hub_download(\n    repo_id={repo_id!r},\n    filename={filename!r},\n"
            f"    local_dir={local_dir!r}{where}\n)\nprint(path)\n"
        )
    else:
        call = (
            "from huggingface_hub import snapshot_download\n\n"
            f"path = snapshot_download(\n    repo_id={repo_id!r},\n"
            f"    local_dir={local_dir!r}{where}\n)\nprint(path)\n"
        )
    return "# Downloads resume where they stopped: run it again after an interruption.\n" + call


def download_command(
    model: str, source: str, endpoint: str | None, filename: str | None, dest: str | None
) -> str:
    """The same download with this app's CLI (``python -m demo_core.download``)."""
    import shlex

    parts = [".venv/bin/python", "-m", "demo_core.download", model, "--source", source]
    if filename:
        parts += ["--file", filename]
    if endpoint:
        parts += ["--endpoint", endpoint]
    if dest:
        parts += ["--dest", dest]
    return " ".join(shlex.quote(p) for p in parts)


def agent_snippet(
    model_path: str,
    question: str,
    params: GenerationParams,
    meta_prompt: str,
    interpreter_prompt: str,
    max_turns: int,
    interpreter: bool = True,
) -> str:
    """lagent's ``Internlm2Agent`` loop on the same model. lagent's own ``HFTransformer``
    is broken on transformers 5, so the model is wrapped in this project's engine and
    lagent adapter; the loop, the protocol and the tool are lagent's."""
    tool = "from lagent.actions import ActionExecutor, IPythonInterpreter\n" if interpreter else ""
    executor = (
        "    # lagent's Jupyter interpreter runs the code on your machine, without a sandbox\n"
        "    interpreter_executor=ActionExecutor([IPythonInterpreter()]),\n"
        if interpreter
        else ""
    )
    return (
        "# Run from the app's folder: .venv/bin/python agent.py\n"
        + _LOAD.format(path=str(model_path))
        + f"""{tool}from lagent.agents.internlm2_agent import Internlm2Agent, Internlm2Protocol

from demo_core.agent.llm import EngineLLM
from demo_core.engine.base import EngineInfo, GenerationParams
from demo_core.engine.local import TransformersEngine

engine = TransformersEngine(
    loaded, EngineInfo("agent", "agent", "transformers", context_window=loaded.context_window)
)
llm = EngineLLM(
    engine,
    {_params_code(params, "    ", ['stop_words=("<|im_end|>",),'])},
)
agent = Internlm2Agent(
    llm=llm,
    protocol=Internlm2Protocol(
        meta_prompt={meta_prompt!r},
        interpreter_prompt={interpreter_prompt!r},
    ),
{executor}    max_turn={int(max_turns)!r},
)
# the loop: model -> tool call? -> run it -> result back to the model -> ... -> answer
reply = agent.chat({question!r})
for step in reply.inner_steps:
    print(f"--- {{step['role']}}:", step["content"])
print("=== answer:", reply.response)
"""
    )


def qa_snippet(
    spec_key: str,
    model_path: str,
    question: str,
    image_paths: Sequence[str],
    params: GenerationParams,
) -> str:
    """XComposer2 image Q&A in its steps: the prompt with ``<ImageHere>``, the images
    through the vision tower, one interleaved sequence, generation."""
    return f"""# Run from the app's folder: .venv/bin/python qa.py
from pathlib import Path

import torch

from demo_core.engine.base import GenerationParams
from demo_core.specs import SPECS
from demo_core.xcomposer.engine import load_xcomposer_engine
from demo_core.xcomposer.images import load_image
from demo_core.xcomposer.qa import QATurn, ask, build_prompt

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
# 1. the model: InternLM2 with Partial-LoRA, a CLIP vision tower and a projector
spec, folder = SPECS[{spec_key!r}], Path({str(model_path)!r})
engine = load_xcomposer_engine(spec, folder, device)

# 2. the images, and one <ImageHere> per image in the question
images = [load_image(open(p, "rb").read(), p) for p in {_literal(list(image_paths))}]
turn = QATurn({question!r}, images)
prompt, _ = build_prompt([], turn, engine.markers)
print(prompt)  # each <ImageHere> becomes {{engine.tokens_per_image}} image embeddings

# 3. generate: text tokens and image embeddings spliced into one sequence
params = {_params_code(params)}
print(ask(engine, [], turn, params).result())
"""
