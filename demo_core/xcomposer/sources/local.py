"""The sources that need no third party: the local image library and a retrieval
service of your own (``image_search`` in settings.json, see ``online.py``)."""

from __future__ import annotations

from dataclasses import replace

from demo_core.i18n import _
from demo_core.xcomposer.credit import Credit
from demo_core.xcomposer.images import ImageError, ImageInput
from demo_core.xcomposer.library import ImageLibrary
from demo_core.xcomposer.online import OnlineImageSearch, OnlineSearchError
from demo_core.xcomposer.sources import Source
from demo_core.xcomposer.sources.http import SourceError


class LibrarySource(Source):
    """The library's best matches for the caption, topped up with matches for the
    paragraph text -- the offline matching the composer always did -- and then, when
    fewer than ``k`` share a word with either, with pictures not used yet (in name
    order): a library is a folder someone filled for their articles, so a slot gets its
    pictures to choose from (the model picks among them) rather than staying empty."""

    name = "library"

    def __init__(self, library: ImageLibrary) -> None:
        self.library = library
        self.label = _("Image library")

    def find(self, request) -> list[ImageInput]:
        if not len(self.library):
            return []
        k, exclude = request.k, set(request.exclude)
        found = [item for _s, item in self.library.search(request.caption, k, exclude)]
        if len(found) < k and request.context:
            skip = exclude | {i.path.name for i in found}
            found += [
                item for _s, item in self.library.search(request.context, k - len(found), skip)
            ]
        if len(found) < k:
            taken = exclude | {i.path.name for i in found}
            found += [i for i in self.library.items if i.path.name not in taken][: k - len(found)]
        images, first = [], None
        for item in found:
            try:
                img = item.load()
            except ImageError as exc:  # a broken file in the library: skip it, say so
                first = first or exc
                request.notes.append(str(exc))
                continue
            images.append(replace(img, credit=Credit(self.label, title=item.path.name)))
        if not images and first is not None:
            request.notes.clear()
            raise SourceError(str(first))
        return images


class CustomSource(Source):
    """Your own retrieval service (the original demo's idea), queried with the caption."""

    name = "custom"
    online = True

    def __init__(self, search: OnlineImageSearch) -> None:
        self.search = search
        self.label = _("Your image search ({url})").format(url=search.url)

    def find(self, request) -> list[ImageInput]:
        try:
            images, problems = self.search.search(request.caption, request.k)
        except OnlineSearchError as exc:
            raise SourceError(str(exc)) from None
        if not images and problems:
            raise SourceError(problems[0])
        request.notes.extend(problems)
        return [replace(i, credit=i.credit or Credit(self.label)) for i in images]
