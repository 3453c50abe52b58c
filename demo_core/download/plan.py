"""The description of one download, independent of where the bytes come from.

A source (Hugging Face hub, ModelScope) turns a repository id into a :class:`RepoPlan`:
the commit it resolved, and for each file its URL and what the file must look like once
finished. The fetcher and the job runner only ever see plans.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from demo_core.download.verify import Expected


@dataclass(frozen=True)
class RemoteFile:
    path: str  # path inside the repository, POSIX separators
    url: str
    expected: Expected
    headers: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    @property
    def size(self) -> int | None:
        return self.expected.size


@dataclass
class RepoPlan:
    source: str  # "hf" | "modelscope"
    repo_id: str
    revision: str
    commit: str | None
    endpoint: str
    files: list[RemoteFile]
    skipped: list[str] = field(default_factory=list)  # remote code and other files not fetched

    @property
    def total_bytes(self) -> int:
        return sum(f.size or 0 for f in self.files)
