"""Which picture sources are on, from ``settings.json`` (``"image_sources"``)::

    {"image_sources": {"library": true, "commons": true, "openverse": true,
                       "generate": true, "generate_model": "sd-turbo",
                       "query": "en", "timeout_s": 8,
                       "commons_url": "https://commons.wikimedia.org/w/api.php",
                       "openverse_url": "https://api.openverse.org/v1/images/",
                       "user_agent": "MyClass/1.0 (teacher@example.org)"}}

Defaults: the library and both online searches on (they need no key; on an offline
machine the first failed connection rests them for a minute and the other sources fill
in), generation on when a real text-to-image model is on this machine. The base URLs
are the real services; ``$DEMO_STUDIO_COMMONS_URL`` / ``$DEMO_STUDIO_OPENVERSE_URL``
replace those defaults and settings.json replaces both (the test suite points them at a closed
loopback port, and each test at its stand-ins on 127.0.0.1). The sidebar starts from
these values and may change them for one browser session.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from demo_core import settings
from demo_core.i18n import N_
from demo_core.xcomposer.library import ImageLibrary
from demo_core.xcomposer.online import OnlineImageSearch
from demo_core.xcomposer.sources.commons import DEFAULT_URL as COMMONS_URL
from demo_core.xcomposer.sources.commons import CommonsSource
from demo_core.xcomposer.sources.generate import GeneratedSource
from demo_core.xcomposer.sources.local import CustomSource, LibrarySource
from demo_core.xcomposer.sources.openverse import DEFAULT_URL as OPENVERSE_URL
from demo_core.xcomposer.sources.openverse import OpenverseSource

QUERY_MODES = {
    "en": N_("a short English search phrase written by the model"),
    "caption": N_("the caption as the model wrote it"),
}
DEFAULT_GENERATOR = "sd-turbo"
TINY_GENERATOR = "tiny-sd"


def generator_present(key: str = DEFAULT_GENERATOR) -> bool:
    from demo_core.discovery import status
    from demo_core.specs import get_spec

    try:
        return status(get_spec(key)).present
    except Exception:
        return False


@dataclass(frozen=True)
class SourceSettings:
    library: bool = True
    commons: bool = True
    openverse: bool = True
    generate: bool = False
    custom: bool = False  # your own retrieval service, when image_search names one
    generate_model: str = DEFAULT_GENERATOR
    query: str = "en"
    timeout_s: float = 8.0
    commons_url: str = COMMONS_URL
    openverse_url: str = OPENVERSE_URL
    user_agent: str = ""
    custom_search: OnlineImageSearch | None = field(default=None, compare=False)

    @classmethod
    def load(cls) -> SourceSettings:
        try:
            raw = settings.load().get("image_sources") or {}
        except settings.SettingsError:
            raw = {}
        raw = raw if isinstance(raw, dict) else {}
        custom = OnlineImageSearch.from_settings()
        model = str(raw.get("generate_model") or DEFAULT_GENERATOR)
        generate = raw.get("generate")
        return cls(
            library=bool(raw.get("library", True)),
            commons=bool(raw.get("commons", True)),
            openverse=bool(raw.get("openverse", True)),
            generate=bool(generate) if generate is not None else generator_present(model),
            custom=custom is not None and bool(raw.get("custom", True)),
            generate_model=model,
            query=str(raw.get("query", "en")) if raw.get("query") in QUERY_MODES else "en",
            timeout_s=float(raw.get("timeout_s", 8.0)),
            commons_url=str(
                raw.get("commons_url") or os.environ.get("DEMO_STUDIO_COMMONS_URL") or COMMONS_URL
            ),
            openverse_url=str(
                raw.get("openverse_url")
                or os.environ.get("DEMO_STUDIO_OPENVERSE_URL")
                or OPENVERSE_URL
            ),
            user_agent=str(raw.get("user_agent") or ""),
            custom_search=custom,
        )

    def build(self, library: ImageLibrary | None, manager=None, seed: int = 8909) -> list:
        """The enabled sources, in the order their candidates are offered."""
        out: list = []
        if self.library and library is not None:
            out.append(LibrarySource(library))
        if self.commons:
            out.append(CommonsSource(self.commons_url, self.timeout_s, self.user_agent))
        if self.openverse:
            out.append(OpenverseSource(self.openverse_url, self.timeout_s, self.user_agent))
        if self.custom and self.custom_search is not None:
            out.append(CustomSource(self.custom_search))
        if self.generate and manager is not None:
            out.append(GeneratedSource(manager, self.generate_model, seed))
        return out

    @property
    def online_names(self) -> list[str]:
        on = [("Wikimedia Commons", self.commons), ("Openverse", self.openverse)]
        return [n for n, flag in on if flag] + (["custom"] if self.custom else [])
