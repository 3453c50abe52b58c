"""One line about a loaded in-process model for the Models page: its weights in memory
(precision, 8/4-bit), decode mode and whether its sessions decode together."""

from __future__ import annotations

from demo_core.i18n import _
from demo_core.specs import fmt_memory


def engine_note(engine: object) -> str:
    info = getattr(engine, "info", None)
    if info is None or info.backend != "transformers":
        return ""
    extra = info.extra
    parts = [
        _("{size} of weights in {precision}").format(
            size=fmt_memory(info.weight_bytes),
            precision=_(extra["quantize"]) if extra.get("quantize") else info.dtype,
        ),
        _("decode: {mode}").format(mode=extra.get("decode", "eager")),
    ]
    sessions = extra.get("batch_sessions", 0)
    if sessions:
        parts.append(_("up to {n} sessions decode together").format(n=sessions))
    elif "batch_off" in extra:
        parts.append(_("sessions take turns ({why})").format(why=_(extra["batch_off"])))
    return " · ".join(parts)
