"""Terminal chat, the successor of the lesson's cli_demo.py.

Same engine and template as the web pages, so answers match; text is streamed exactly
as decoded (the old script stripped every chunk, eating spaces and newlines).
Commands: ``/clear`` starts over, ``/exit`` quits; Ctrl-C stops a reply, twice quits.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from typing import TextIO

from demo_core.conversation import Conversation, validate_prompt
from demo_core.engine.base import EngineError, GenerationParams, ModelUnavailable
from demo_core.engine.manager import ModelManager
from demo_core.i18n import _, language_from_environment, set_language
from demo_core.prompts import INTERNLM_META
from demo_core.specs import CHAT_MODELS


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="internlm-chat", description=_("Terminal chat, the successor of the lesson's cli_demo.py.")
    )
    p.add_argument("--model", default="internlm2-chat-1_8b", choices=CHAT_MODELS)
    p.add_argument("--system", default=INTERNLM_META, help=_("system prompt"))
    p.add_argument("--max-new-tokens", type=int, default=1024)
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--top-p", type=float, default=0.8)
    p.add_argument("--repetition-penalty", type=float, default=1.005)
    p.add_argument("--seed", type=int, default=None)
    return p.parse_args(argv)


def chat_loop(
    engine, conv: Conversation, params: GenerationParams, lines: Iterable[str], out: TextIO
) -> None:
    for line in lines:
        text = line.rstrip("\n")
        if text.strip() in ("/exit", "exit"):
            return
        if text.strip() == "/clear":
            conv.clear()
            print(_("(conversation cleared)"), file=out)
            continue
        prompt, problem = validate_prompt(text)
        if problem:
            print(problem, file=out)
            continue
        conv.add_user(prompt)
        gen = engine.stream_chat(conv.model_messages(), params)
        reply = conv.start_reply(engine.info.label)
        print(_("Assistant: "), end="", file=out, flush=True)
        try:
            for delta in gen:
                reply.content += delta
                print(delta, end="", file=out, flush=True)
        except KeyboardInterrupt:
            gen.cancel()
            reply.status = "stopped"
            print("\n" + _("(stopped)"), file=out)
            continue
        print(file=out)
        if gen.error is not None:
            reply.status = "error"
            print(_("Error: {problem}").format(problem=gen.error), file=out)
        else:
            reply.status = "done"


def _stdin_lines() -> Iterable[str]:
    while True:
        try:
            yield input("\n" + _("User  >>> "))
        except EOFError:
            return


def terminal_hint(key: str, exc: ModelUnavailable) -> str:
    """The missing-model error for a terminal: the download command, not "the Models
    page" (a terminal user may never have opened the app)."""
    from demo_core.serving import served_url
    from demo_core.specs import SPECS, resolve_path

    spec = SPECS.get(key)
    if spec is None or spec.is_random or served_url(key) or resolve_path(key) is not None:
        return str(exc)  # present but broken, or served: the engine's own words
    return _(
        "{label} is not on this machine. Download it with\n"
        "  .venv/bin/python -m demo_core.download {key}\n"
        "or point to a copy with {env}=/path/to/{folder}."
    ).format(label=spec.label, key=key, env=spec.env_var, folder=spec.folder_name)


def main(argv: list[str] | None = None) -> int:
    set_language(language_from_environment())  # the terminal's LANG / LANGUAGE
    args = parse_args(argv)
    try:
        engine = ModelManager().get(args.model)
    except ModelUnavailable as exc:
        print(f"Error: {terminal_hint(args.model, exc)}", file=sys.stderr)
        return 2
    except EngineError as exc:
        print(_("Error: {problem}").format(problem=exc), file=sys.stderr)
        return 2
    if engine.info.is_random:
        print(_("Note: the tiny random test model answers with noise."), file=sys.stderr)
    params = GenerationParams(
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_p=args.top_p,
        repetition_penalty=args.repetition_penalty,
        seed=args.seed,
        do_sample=args.temperature > 0,
    )
    print(
        _("{model} on {device}. /clear to start over, /exit to quit.").format(
            model=_(engine.info.label), device=engine.info.device
        )
    )
    try:
        chat_loop(engine, Conversation(args.system), params, _stdin_lines(), sys.stdout)
    except KeyboardInterrupt:
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
