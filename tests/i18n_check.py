"""What a page shows, as text, and which of it is still English: the zh_CN page check.

``page_texts`` walks an AppTest's element tree and collects every string a person reads
(labels, bodies, captions, help texts, placeholders, options, notices, table headers),
not the values of inputs (a system prompt is the model's text, not the app's).
``untranslated`` says which of them still contain English words once the names that stay
as they are (models, libraries, units, paths, code) are taken out. A string that reaches
the page without going through the catalog is English, so it shows up here.
"""

from __future__ import annotations

import re

from demo_core.agent.actions import OFFLINE_PLUGINS
from demo_core.personas import load_builtin
from demo_core.specs import SPECS

# Fields of an element's protobuf that hold text a person reads.
TEXT_FIELDS = {"label", "body", "placeholder", "help", "options", "text", "caption", "title"}

# Words that are the same in the Chinese UI: product and library names, units, formats,
# sampling terms students meet as they are in papers and code.
KEEP_WORDS = {
    "InternLM", "InternLM2", "InternStudio", "Lagent", "Python", "Streamlit", "XComposer2",
    "Hugging", "Face", "ModelScope", "huggingface_hub", "LMDeploy", "vLLM", "OpenAI", "Excel",
    "GPU", "CPU", "CUDA", "GB", "MB", "KB", "MiB", "KiB", "GiB", "zip", "Markdown", "HTML",
    "JSON", "CSV", "TSV", "PNG", "JPEG", "UTF", "GB18030", "Top", "token", "tok", "Demo",
    "Ctrl", "emoji", "ID", "URL", "API", "README", "Chat", "VL", "BaJie", "mini", "md",
    "json", "jsonl", "csv", "tsv", "xlsx", "xls", "txt", "png", "jpg", "jpeg", "webp", "gif",
    "bmp", "cpu", "cuda", "mps", "main", "master", "English",
    "OpenXLab", "ReAct", "ArxivSearch", "bubblewrap", "seccomp", "Wikimedia", "Commons",
    "Openverse", "id", "internlm", "git", "lfs", "bitsandbytes", "NF4", "SD", "Turbo",
    "meta",  # the XComposer2 demo's own Chinese label: 使用meta指令
}  # fmt: skip

_REMOVE = [
    re.compile(r"`[^`]*`"),  # code spans: names of settings, folders
    re.compile(r"https?://\S+"),
    re.compile(r"\b[\w.-]+/[\w.-]+\b"),  # repository ids (before paths eat their second half)
    re.compile(r"(?:[~.]?/|[A-Za-z]:\\)[^\s，。；：）)]*"),  # paths
    re.compile(r"\$?\b[A-Z][A-Z0-9_]{2,}\b"),  # environment variables, constants
    re.compile(r"\b[\w.-]+\.(?:json|py|zip|md|txt|csv|tsv|xlsx|png|jpg|bin|safetensors)\b"),
    re.compile(r"<[^>]{1,40}>"),  # placeholders such as <ImageHere>
    re.compile(r"\{\w+\}"),  # template fields such as {prompt}
    re.compile(r"\b[0-9a-f]{16,}\b"),  # ids such as a workspace code
    re.compile(r"\?\w+="),  # a query parameter's name (?ws=)
    re.compile(r"\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:org|com|net|io|cn)\b"),  # host names
    re.compile(r'"[\x20-\x7e]*?"'),  # quoted settings keys and values
]
_SCRIPT_ONLY = re.compile(r"\s*<script>[^<]*</script>\s*")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_'-]*[A-Za-z0-9]")


def keep_names() -> list[str]:
    """Names shown as they are, longest first (so "InternLM2-Chat-1.8B" goes before "Chat")."""
    names = {s.label for s in SPECS.values() if not s.is_random} | set(SPECS)
    names |= set(OFFLINE_PLUGINS)  # tool names: the model calls them by these
    for p in load_builtin():
        names |= {p.name, p.greeting}
    return sorted((n for n in names if n), key=len, reverse=True)


def english_left(text: str, names: list[str]) -> list[str]:
    """The English words of ``text`` that are not names kept as they are."""
    for name in names:
        text = text.replace(name, " ")
    for pattern in _REMOVE:
        text = pattern.sub(" ", text)
    left = []
    for word in _WORD.findall(text):
        parts = [p for p in re.split(r"[-']", word) if len(p) > 1]
        if word not in KEEP_WORDS and any(p not in KEEP_WORDS for p in parts):
            left.append(word)
    return left


def _strings(message, out: list[str]) -> None:
    """Every string in the TEXT_FIELDS of a protobuf message, nested messages included."""
    for field, value in message.ListFields():
        if field.message_type is not None:
            items = value if field.is_repeated else [value]
            for item in items:
                if hasattr(item, "ListFields"):
                    _strings(item, out)
        elif field.name in TEXT_FIELDS:
            items = value if field.is_repeated else [value]
            out.extend(v for v in items if isinstance(v, str) and v.strip())


def page_texts(at) -> list[tuple[str, str]]:
    """``(element type, text)`` for everything readable on the page of ``at``."""
    out: list[tuple[str, str]] = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None and hasattr(proto, "ListFields"):
            found: list[str] = []
            _strings(proto, found)
            kind = getattr(node, "type", type(node).__name__)
            out.extend((kind, t) for t in found)
            if kind in ("table", "arrow_data_frame"):
                frame = node.value
                out.extend((kind, str(c)) for c in frame.columns)
                for column in frame.columns:
                    out.extend((kind, v) for v in frame[column] if isinstance(v, str) and v.strip())
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return out


def untranslated(at) -> list[tuple[str, str, list[str]]]:
    """``(element type, text, English words)`` for each text of the page still in English."""
    names = keep_names()
    bad = []
    for kind, text in page_texts(at):
        if kind == "html" and _SCRIPT_ONLY.fullmatch(text):
            continue  # a <script> element (e.g. the workspace cookie) draws nothing
        words = english_left(text, names)
        if words:
            bad.append((kind, text, words))
    return bad
