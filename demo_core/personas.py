"""Role-play personas as data: the shipped set plus the user's own, kept on disk.

Shipped personas live in ``demo_core/data/personas.json``. A user's persona is one JSON
file in ``$DEMO_STUDIO_HOME/personas/``. A broken file is reported and left exactly as
it is -- the user may have spent time on that prompt -- never overwritten or deleted.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from demo_core import settings
from demo_core.engine.base import SAMPLING_LIMITS, GenerationParams
from demo_core.i18n import N_, _
from demo_core.specs import SPECS

BUILTIN_FILE = Path(__file__).parent / "data" / "personas.json"
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
MAX_PROMPT_CHARS = 4000
DEFAULT_AVATAR = "🎭"
AVATAR_RULE = N_("the avatar must be one emoji, such as 🐷 or 🙏")

# Code points that are emoji (or render as one with U+FE0F); the blocks of the Unicode
# emoji charts, without a dependency.
_EMOJI_BLOCKS = (
    (0x1F000, 0x1FAFF),  # symbols, pictographs, emoticons, flags, skin tones
    (0x2190, 0x21FF),  # arrows ↔ ↩
    (0x2300, 0x23FF),  # ⌚ ⏰
    (0x2460, 0x24FF),  # Ⓜ
    (0x25A0, 0x27BF),  # ▶ ☀ ✂ ❤
    (0x2900, 0x297F),  # ⤴
    (0x2B00, 0x2BFF),  # ⭐ ⬛
    (0x3030, 0x3030),
    (0x303D, 0x303D),
    (0x3297, 0x3299),
    (0x00A9, 0x00A9),
    (0x00AE, 0x00AE),
    (0x203C, 0x203C),
    (0x2049, 0x2049),
    (0x2122, 0x2122),
    (0x2139, 0x2139),
)
_ZWJ = 0x200D
_MODIFIERS = {0xFE0E, 0xFE0F, 0x20E3, *range(0x1F3FB, 0x1F400), *range(0xE0020, 0xE0080)}
_REGIONAL = range(0x1F1E6, 0x1F200)
_KEYCAP_BASES = set(map(ord, "#*0123456789"))


class PersonaError(ValueError):
    pass


@dataclass(frozen=True)
class Persona:
    id: str
    name: str
    avatar: str
    system_prompt: str
    greeting: str = ""
    preferred_model: str = "internlm2-chat-1_8b"
    fallback_model: str = "internlm2-chat-1_8b"
    sampling: dict = field(default_factory=dict)
    builtin: bool = False
    # the workspace that made it (demo_ui.prefs.workspace_id); only it may change or
    # delete it. "" for built-ins and for files written by hand: anyone may edit those.
    owner: str = ""

    def editable_by(self, workspace: str | None) -> bool:
        return not self.builtin and (not self.owner or self.owner == workspace)

    def params(self) -> GenerationParams:
        return GenerationParams(**self.sampling)

    def to_json(self) -> str:
        data = asdict(self)
        data.pop("builtin")
        return json.dumps(data, ensure_ascii=False, indent=2)


def validate(data: object, builtin: bool = False) -> Persona:
    """A :class:`Persona` from decoded JSON, or :class:`PersonaError` saying what is wrong."""
    if not isinstance(data, dict):
        raise PersonaError(_("a persona must be a JSON object"))
    missing = [k for k in ("id", "name", "system_prompt") if not str(data.get(k, "")).strip()]
    if missing:
        raise PersonaError(_("missing {fields}").format(fields=", ".join(missing)))
    pid = str(data["id"])
    if not _ID_RE.match(pid):
        raise PersonaError(
            _("id {id} must be 1-40 lowercase letters, digits, '-' or '_'").format(id=repr(pid))
        )
    if len(str(data["system_prompt"])) > MAX_PROMPT_CHARS:
        raise PersonaError(
            _("system prompt is longer than {n} characters").format(n=MAX_PROMPT_CHARS)
        )
    for key in ("preferred_model", "fallback_model"):
        if key in data and data[key] not in SPECS:
            raise PersonaError(
                _("{field} {value} is not a known model ({known})").format(
                    field=key, value=repr(data[key]), known=", ".join(SPECS)
                )
            )
    sampling = _check_sampling(data.get("sampling") or {})
    unknown = set(data) - {f for f in Persona.__dataclass_fields__ if f != "builtin"}
    if unknown:
        raise PersonaError(_("unknown field(s): {fields}").format(fields=", ".join(sorted(unknown))))
    return Persona(
        id=pid,
        name=str(data["name"]).strip(),
        avatar=check_avatar(data.get("avatar")),
        system_prompt=str(data["system_prompt"]),
        greeting=str(data.get("greeting", "")),
        preferred_model=data.get("preferred_model", "internlm2-chat-1_8b"),
        fallback_model=data.get("fallback_model", "internlm2-chat-1_8b"),
        sampling=sampling,
        builtin=builtin,
        owner=str(data.get("owner") or ""),
    )


def emoji_count(text: str) -> int | None:
    """How many emoji ``text`` shows, or None if it has anything that is not emoji.

    A ZWJ sequence (👩‍🏫), a skin tone, a flag (two regional indicators) or a keycap (1️⃣)
    is one emoji, as a user sees it."""
    count = 0
    joined = False  # the previous code point was a zero-width joiner
    open_flag = False  # one regional indicator seen, waiting for its pair
    cps = [ord(c) for c in text]
    for i, cp in enumerate(cps):
        if cp == _ZWJ:
            joined = True
            continue
        if cp in _MODIFIERS and count:
            continue
        if cp in _KEYCAP_BASES:
            if 0x20E3 not in cps[i + 1 : i + 3]:
                return None
        elif cp in _REGIONAL:
            if open_flag:
                open_flag = False
                continue
            open_flag = True
        elif not any(lo <= cp <= hi for lo, hi in _EMOJI_BLOCKS):
            return None
        if not joined:
            count += 1
        joined = False
    return count


def check_avatar(avatar: object) -> str:
    """The avatar as saved: exactly one emoji.

    Streamlit draws a chat avatar from an emoji, or else tries to load the string as an
    image and raises -- so "八戒" typed into the avatar field crashed the chat. Refusing
    it here, on save and on load, keeps such a persona from ever reaching the page."""
    text = str(avatar if avatar is not None else "").strip()
    if not text:
        return DEFAULT_AVATAR
    if len(text) > 16 or emoji_count(text) != 1:
        raise PersonaError(_("{rule} ({text} is not)").format(rule=_(AVATAR_RULE), text=repr(text)))
    return text


def _check_sampling(sampling: object) -> dict:
    """Sampling values as numbers the sliders can show.

    A value outside a slider's range (say ``repetition_penalty: 1.8`` typed into a file
    by hand) would make the page raise when it draws that slider, so the file is refused
    here, with the range, like any other mistake in it."""
    if not isinstance(sampling, dict) or set(sampling) - set(SAMPLING_LIMITS):
        raise PersonaError(
            _("sampling may only set {names}").format(names=", ".join(sorted(SAMPLING_LIMITS)))
        )
    checked: dict = {}
    for key, value in sampling.items():
        limit = SAMPLING_LIMITS[key]
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise PersonaError(
                _("bad sampling value: {key} must be a number, not {value}").format(
                    key=key, value=repr(value)
                )
            )
        try:
            number = float(value)
        except ValueError as exc:
            raise PersonaError(
                _("bad sampling value: {key} {value} is not a number").format(
                    key=key, value=repr(value)
                )
            ) from exc
        if limit.integer and not number.is_integer():
            raise PersonaError(
                _("bad sampling value: {key} must be a whole number, not {value}").format(
                    key=key, value=repr(value)
                )
            )
        if not limit.contains(number):
            raise PersonaError(
                _("bad sampling value: {key} {value} is outside {range}").format(
                    key=key, value=repr(value), range=limit.describe()
                )
            )
        checked[key] = int(number) if limit.integer else number
    return checked


def user_dir() -> Path:
    return settings.home() / "personas"


def load_builtin() -> list[Persona]:
    return [validate(d, builtin=True) for d in json.loads(BUILTIN_FILE.read_text(encoding="utf-8"))]


@dataclass
class PersonaSet:
    personas: list[Persona]
    problems: list[str]  # "<file name>: <what is wrong>", one per file that could not be used
    folder: Path | None = None  # where the user's persona files are

    def get(self, pid: str) -> Persona | None:
        return next((p for p in self.personas if p.id == pid), None)


def load_all() -> PersonaSet:
    personas = load_builtin()
    problems: list[str] = []
    folder = user_dir()
    if folder.is_dir():
        for path in sorted(folder.glob("*.json")):
            try:
                p = validate(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError) as exc:
                problems.append(f"{path.name}: {exc}")
                continue
            if any(q.id == p.id for q in personas):
                problems.append(
                    f"{path.name}: "
                    + _("id {id} is already used by another persona").format(id=repr(p.id))
                )
                continue
            personas.append(p)
    return PersonaSet(personas, problems, folder)


def persona_id(name: str) -> str:
    """The id (file name, session-state namespace) a new persona with ``name`` gets.

    The same name gives the same id in every process -- ``hash()`` did not (it is salted
    per process), so "唐僧" saved again after a restart became a second persona. An ASCII
    name becomes a readable slug; any other name keeps what slug it has plus 8 hex digits
    of its SHA-1, and a name with nothing sluggable ("!!!", "???") is all digest, so
    such names no longer share the id "persona"."""
    name = " ".join(name.split())
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    if slug and name.isascii():
        return slug[:40].rstrip("-")
    digest = hashlib.sha1(name.casefold().encode("utf-8")).hexdigest()[:8]
    return f"{slug[:31].rstrip('-')}-{digest}" if slug else f"p-{digest}"


def _same_name(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def find_user_file(pid: str) -> Path | None:
    """The file in :func:`user_dir` that holds persona ``pid`` (normally ``<pid>.json``,
    but a file written by hand may be named otherwise)."""
    folder = user_dir()
    if not folder.is_dir():
        return None
    usual = folder / f"{pid}.json"
    for path in [usual, *sorted(p for p in folder.glob("*.json") if p != usual)]:
        try:
            if path.is_file() and json.loads(path.read_text(encoding="utf-8")).get("id") == pid:
                return path
        except (OSError, ValueError, AttributeError):
            continue
    return None


class NotYours(PersonaError):
    """The persona was made in another workspace (browser)."""


def _check_owner(existing: Persona | None, workspace: str | None) -> None:
    if existing is not None and workspace is not None and not existing.editable_by(workspace):
        raise NotYours(
            f"{existing.name} was made in another browser; only that browser can change or "
            "delete it (you can still chat with it, or save a copy under another name)"
        )


def save_user_persona(
    data: dict, *, overwrite: bool = False, workspace: str | None = None
) -> Persona:
    """Validate and write a user persona.

    Never replaces a built-in persona, nor -- unless ``overwrite`` (editing it) -- a user
    persona with the same id or name: two names can give one id ("Teacher Bob", "teacher
    bob!"), and the second save used to overwrite the first without a word. Messages
    speak of names, which the user chose, not of ids, which they never saw.

    ``workspace``: who saves. A new persona is marked as theirs; an edit of one made in
    another workspace is refused (:class:`NotYours`); an edit keeps the original owner.
    ``None`` (the CLI, tests of files): no ownership check, the file's owner is kept."""
    existing_owner = load_all().get(str(data.get("id", "")))
    if overwrite:
        _check_owner(existing_owner, workspace)
    owner = existing_owner.owner if (overwrite and existing_owner) else (workspace or "")
    persona = validate({**data, "owner": data.get("owner") or owner})
    for b in load_builtin():
        if _same_name(b.name, persona.name):
            raise PersonaError(
                _("a built-in persona is already called {name}; choose another name").format(
                    name=b.name
                )
            )
        if b.id == persona.id:
            raise PersonaError(
                _(
                    "the name {name} is too close to the built-in persona {builtin}; "
                    "choose another name"
                ).format(name=repr(persona.name), builtin=b.name)
            )
    others = [p for p in load_all().personas if not p.builtin and p.id != persona.id]
    same = next((p for p in others if _same_name(p.name, persona.name)), None)
    if same is not None:
        raise PersonaError(
            _("a persona called {name} already exists; choose another name").format(name=same.name)
        )
    folder = user_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = find_user_file(persona.id)
    if path is not None and not overwrite:
        existing = load_all().get(persona.id)
        who = existing.name if existing else path.name
        raise PersonaError(
            _(
                "a persona called {who} already exists (its name is too close to {name}); "
                "choose another name, or pick {who} and press Edit"
            ).format(who=who, name=repr(persona.name))
        )
    usual = folder / f"{persona.id}.json"
    if path is None and usual.exists():  # a file we cannot read: never overwrite it
        raise PersonaError(
            _(
                "a persona file named {file} already exists but cannot be used; "
                "choose another name"
            ).format(file=usual.name)
        )
    tmp = (path or usual).with_suffix(f".json.{os.getpid()}.tmp")
    tmp.write_text(persona.to_json(), encoding="utf-8")
    try:
        if path is not None:
            os.replace(tmp, path)
        else:
            os.link(tmp, usual)  # fails if another session created it meanwhile
    except FileExistsError:
        raise PersonaError(
            _("a persona called {name} was just saved elsewhere; choose another name").format(
                name=persona.name
            )
        ) from None
    finally:
        tmp.unlink(missing_ok=True)
    return persona


def delete_user_persona(pid: str, workspace: str | None = None) -> bool:
    """Delete a user persona; one made in another workspace is refused (:class:`NotYours`)
    when ``workspace`` is given."""
    _check_owner(load_all().get(pid), workspace)
    path = find_user_file(pid)
    if path is not None:
        path.unlink()
        return True
    return False
