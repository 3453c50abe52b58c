"""How chat text becomes Markdown for ``st.markdown``.

A model reply is Markdown on purpose (lists, code blocks, bold), but Streamlit's Markdown
also turns text between two single tildes into strikethrough, and Chinese chat uses "~"
all the time ("你好~今天天气不错~" came out struck through). So a single "~" is escaped,
except inside code, where a backslash would be shown as it is. "~~double~~" stays
strikethrough: that one a model writes on purpose.

User messages are not Markdown at all; the chat draws them with ``st.text``.
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+).+?(?<!`)\1(?!`)", re.DOTALL)
_SINGLE_TILDE = re.compile(r"(?<![~\\])~(?!~)")


def _escape_prose(text: str) -> str:
    """Escape single tildes in text that is not a fenced block, skipping code spans."""
    out, last = [], 0
    for span in _CODE_SPAN.finditer(text):
        out.append(_SINGLE_TILDE.sub(r"\\~", text[last : span.start()]))
        out.append(span.group(0))
        last = span.end()
    out.append(_SINGLE_TILDE.sub(r"\\~", text[last:]))
    return "".join(out)


def reply_markdown(text: str) -> str:
    """A model reply as Markdown with single-tilde strikethrough neutralised."""
    out: list[str] = []
    prose: list[str] = []
    fence = ""  # the open fence ("```", "~~~~"...) while inside a fenced code block
    for line in text.splitlines(keepends=True):
        opener = _FENCE.match(line)
        if fence:
            out.append(line)
            closes = (
                opener and opener.group(1)[0] == fence[0] and len(opener.group(1)) >= len(fence)
            )
            if closes and not line.strip().lstrip(fence[0]):
                fence = ""
            continue
        if opener:
            out.append(_escape_prose("".join(prose)))
            prose = []
            fence = opener.group(1)
            out.append(line)
            continue
        prose.append(line)
    out.append(_escape_prose("".join(prose)))
    return "".join(out)
