"""Pictures drawn for a slot by the text-to-image model (see ``demo_core.xcomposer.t2i``).

The model is fetched from the shared ``ModelManager`` on first use, inside the
background job, so it counts against the same memory budget as XComposer2 and is
unloaded like any other model. Each picture is credited as generated, with the prompt.
"""

from __future__ import annotations

import hashlib
import io
import zlib
from dataclasses import replace

from demo_core.engine.base import EngineError
from demo_core.i18n import _
from demo_core.specs import get_spec
from demo_core.xcomposer.credit import Credit
from demo_core.xcomposer.images import ImageInput, load_image
from demo_core.xcomposer.sources import Source
from demo_core.xcomposer.sources.http import SourceError

MAX_PER_SLOT = 2  # drawing is the slow source: at most this many candidates per slot


class GeneratedSource(Source):
    name = "generate"
    generates = True
    wants_query = True  # SD-Turbo's text encoder was trained on English captions

    def __init__(self, manager, model_key: str, seed: int = 8909) -> None:
        self.manager = manager
        self.model_key = model_key
        self.seed = seed
        self.label = _("Generated ({model})").format(model=get_spec(model_key).label)

    def find(self, request) -> list[ImageInput]:
        prompt = (request.query or request.caption).strip()[:200]  # CLIP reads 77 tokens
        if not prompt:
            return []
        try:
            engine = self.manager.get(self.model_key)
        except EngineError as exc:
            raise SourceError(str(exc)) from None
        seed = self.seed + zlib.crc32(prompt.encode("utf-8")) % 100_000
        n = max(1, min(MAX_PER_SLOT, request.k))
        credit = Credit(source=get_spec(self.model_key).label, generated=True, prompt=prompt)
        images = []
        for j, picture in enumerate(engine.generate(prompt, seed, n)):
            buf = io.BytesIO()
            picture.convert("RGB").save(buf, format="PNG")
            tag = hashlib.sha1(f"{self.model_key}|{prompt}|{seed + j}".encode()).hexdigest()[:10]
            images.append(replace(load_image(buf.getvalue(), f"generated-{tag}.png"), credit=credit))
        return images
