"""Write an InternLM2 checkpoint out as a plain Llama folder any server can load.

``transformers serve`` (and other servers that refuse remote code) cannot read the
official InternLM2 layout; after :func:`load_internlm2` has unpacked ``wqkv`` the model
*is* a ``LlamaForCausalLM``, so saving it gives a folder with ``model_type: llama``, a
``tokenizer.json`` and the chat template -- no ``trust_remote_code`` anywhere.

    python -m demo_core.internlm2.export_llama SRC_DIR DEST_DIR
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from demo_core.internlm2.loader import load_internlm2
from demo_core.internlm2.tiny import CHAT_TEMPLATE


def export_llama(src: str | Path, dest: str | Path, dtype: torch.dtype | None = None) -> Path:
    dest = Path(dest)
    loaded = load_internlm2(src, device="cpu", dtype=dtype)
    tok = loaded.tokenizer
    if not getattr(tok, "chat_template", None):
        tok.chat_template = CHAT_TEMPLATE  # the official InternLM2 template, token for token
    loaded.model.generation_config.eos_token_id = loaded.stop_ids  # </s> and <|im_end|>
    loaded.model.save_pretrained(dest)
    tok.save_pretrained(dest)
    return dest


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", help="an official InternLM2(-chat) folder")
    ap.add_argument("dest", help="where to write the Llama-format copy")
    ap.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default=None)
    args = ap.parse_args(argv)
    dtype = getattr(torch, args.dtype) if args.dtype else None
    print(export_llama(args.src, args.dest, dtype))


if __name__ == "__main__":
    main()
