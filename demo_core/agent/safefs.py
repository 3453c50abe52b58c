"""File operations on a session folder that the sandboxed code can write to.

The kernel owns its work folder, so anything in it may be a trap for the app, which has
more rights (often root): a symlink to ``/proc/self/environ`` or the settings file, a
folder swapped for a link between a check and an open, a hard link to a file outside, a
FIFO that blocks a read forever. Every operation here therefore walks from a directory
descriptor of the folder's root, one name at a time, with ``O_NOFOLLOW`` and
``O_DIRECTORY`` (a link is refused, never followed), opens files with ``O_NONBLOCK`` and
checks the *opened* file with ``fstat``: only regular files with a single link are read,
counted for download or shown. New files are created with ``O_CREAT | O_EXCL |
O_NOFOLLOW`` relative to the folder's descriptor, so a planted link is never written
through. Python's ``shutil.rmtree`` is already symlink-safe on Linux (fd-based) and is used
for deleting whole folders. No library offers this walk (``os.fwalk`` follows no links but
yields no per-file checks of opened files), hence this small module.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = (
    os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0)
)


class UnsafePath(OSError):
    """A link, special file or path outside the folder: refused."""


@dataclass(frozen=True)
class Entry:
    rel: str  # posix path relative to the root
    size: int


def _parts(rel: str) -> list[str]:
    parts = [p for p in rel.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        raise UnsafePath(errno.EINVAL, "not a path inside the session folder", rel)
    return parts


@contextmanager
def open_dir(
    root: Path, parts: list[str] = (), *, create: bool = False, uid: int | None = None
) -> Iterator[int]:
    """A descriptor of ``root/parts...``, each step opened without following links."""
    fd = os.open(root, _DIR_FLAGS)
    try:
        for name in parts:
            if create:
                try:
                    os.mkdir(name, 0o755, dir_fd=fd)
                    if uid is not None:
                        os.chown(name, uid, uid, dir_fd=fd, follow_symlinks=False)
                except FileExistsError:
                    pass
            try:
                nfd = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise UnsafePath(
                        errno.ELOOP, "a link or file where a folder should be", name
                    ) from None
                raise
            os.close(fd)
            fd = nfd
        yield fd
    finally:
        os.close(fd)


def _is_plain(st: os.stat_result) -> bool:
    return stat.S_ISREG(st.st_mode) and st.st_nlink == 1


def walk(root: Path) -> list[Entry]:
    """Every plain file under ``root`` (regular, one link, not through any link)."""
    out: list[Entry] = []
    try:
        with open_dir(root) as fd:
            _walk(fd, "", out)
    except FileNotFoundError:
        pass
    return sorted(out, key=lambda e: e.rel)


def _entries(fd: int) -> Iterator[tuple[str, os.stat_result]]:
    """The names in the open folder ``fd``, each with its own status (a link's, never what
    it points to); an entry that cannot be examined (gone by now) is left out. Reading the
    folder itself may raise ``OSError``."""
    for e in os.scandir(fd):
        try:
            st = os.stat(e.name, dir_fd=fd, follow_symlinks=False)
        except OSError:
            continue
        yield e.name, st


def _walk(fd: int, prefix: str, out: list[Entry], depth: int = 0) -> None:
    if depth > 40:
        return
    try:
        entries = list(_entries(fd))
    except OSError:
        return
    for name, st in entries:
        if stat.S_ISDIR(st.st_mode):
            try:
                sub = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except OSError:
                continue
            try:
                _walk(sub, prefix + name + "/", out, depth + 1)
            finally:
                os.close(sub)
        elif _is_plain(st):
            out.append(Entry(prefix + name, st.st_size))


def tree_size(root: Path) -> int:
    """Bytes the folder holds: every regular file counts (hard links and all), so the
    quota cannot be dodged with links; links themselves are not followed."""
    total = 0
    stack: list[int] = []
    try:
        stack.append(os.open(root, _DIR_FLAGS))
    except OSError:
        return 0
    seen = 0
    while stack:
        fd = stack.pop()
        try:
            for name, st in _entries(fd):
                seen += 1
                if seen > 200_000:
                    break
                if stat.S_ISDIR(st.st_mode):
                    try:
                        stack.append(os.open(name, _DIR_FLAGS, dir_fd=fd))
                    except OSError:
                        pass
                elif stat.S_ISREG(st.st_mode):
                    total += max(st.st_size, st.st_blocks * 512)
        except OSError:
            pass
        finally:
            os.close(fd)
    return total


def read_file(root: Path, rel: str, max_bytes: int | None = None) -> bytes:
    """The content of a plain file of the folder; links and special files are refused."""
    parts = _parts(rel)
    with open_dir(root, parts[:-1]) as dfd:
        try:
            fd = os.open(parts[-1], _READ_FLAGS, dir_fd=dfd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise UnsafePath(errno.ELOOP, "a link, not a file", rel) from None
            raise
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if not _is_plain(st):
                raise UnsafePath(errno.EPERM, "not a plain file (link or special file)", rel)
            limit = st.st_size if max_bytes is None else min(st.st_size, max_bytes)
            return f.read(limit)


def write_new(root: Path, rel: str, data: bytes, *, uid: int | None = None) -> None:
    """Create ``rel`` (never replacing anything, never through a link); its folders are
    created as needed. ``uid``: hand the file to the kernel's user."""
    parts = _parts(rel)
    with open_dir(root, parts[:-1], create=True, uid=uid) as dfd:
        fd = os.open(
            parts[-1],
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o644,
            dir_fd=dfd,
        )
        try:
            if uid is not None:
                os.fchown(fd, uid, uid)
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
        except OSError:
            os.close(fd)
            try:
                os.unlink(parts[-1], dir_fd=dfd)
            except OSError:
                pass
            raise
        os.close(fd)


def exists(root: Path, rel: str) -> bool:
    """Is there anything (link included) at ``rel``? Folders on the way must be folders."""
    parts = _parts(rel)
    try:
        with open_dir(root, parts[:-1]) as dfd:
            os.stat(parts[-1], dir_fd=dfd, follow_symlinks=False)
            return True
    except (FileNotFoundError, UnsafePath):
        return False


def delete(root: Path, rel: str) -> None:
    """Remove one file (or a link, which is not followed); folders are refused."""
    parts = _parts(rel)
    try:
        with open_dir(root, parts[:-1]) as dfd:
            st = os.stat(parts[-1], dir_fd=dfd, follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                raise IsADirectoryError(errno.EISDIR, "a folder, not a file", rel)
            os.unlink(parts[-1], dir_fd=dfd)
    except FileNotFoundError:
        return


def chown_dir(path: Path, uid: int) -> None:
    """Give a folder the app made to the kernel's user (the folder only, not following)."""
    os.chown(path, uid, uid, follow_symlinks=False)
