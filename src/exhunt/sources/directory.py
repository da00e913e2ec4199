"""A host's evidence as a plain directory that mirrors its drives (C/, D/ ...), read in place."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from exhunt.model.coverage import InputWarning
from exhunt.sources.base import FileEntry, HostTree

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # POSIX; elsewhere links are checked with lstat


def iso_utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class DirectoryTree(HostTree):
    """Read-only view of a directory. Links are never followed out of the root."""

    def __init__(self, root: Path, name: str | None = None, origin: str | None = None) -> None:
        super().__init__(name or root.name, origin or str(root))
        self.root = root.resolve()
        self._root = str(self.root)
        self._prefix = os.path.join(self._root, "")  # the root with a trailing separator
        self._folders: dict[str, str] = {}  # host-relative folder -> resolved real folder

    def walk(self) -> Iterator[FileEntry]:
        stack = [(str(self.root), "")]  # (real folder, its host-relative prefix): no pathlib per file
        entries: list[FileEntry] = []
        while stack:
            folder, prefix = stack.pop()
            try:
                children = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError as exc:
                self.warnings.append(InputWarning(path=prefix[:-1] or ".", message=f"cannot list: {exc}",
                                                  code="unreadable"))
                continue
            for child in children:
                rel = prefix + child.name
                if child.is_symlink():
                    self.warnings.append(InputWarning(path=rel, message="symbolic link not followed", code="link"))
                    continue
                try:
                    if child.is_dir(follow_symlinks=False):
                        stack.append((child.path, rel + "/"))
                    elif child.is_file(follow_symlinks=False):
                        info = child.stat(follow_symlinks=False)
                        entries.append(FileEntry(rel, info.st_size, iso_utc(info.st_mtime)))
                except OSError as exc:
                    self.warnings.append(InputWarning(path=rel, message=f"cannot stat: {exc}", code="unreadable"))
        entries.sort(key=lambda e: e.path)
        yield from entries

    def local_path(self, path: str) -> Path:
        return Path(self._real(path))

    def _real(self, path: str, refuse_link: bool = False, checked_by_open: bool = False) -> str:
        """The real path of host file ``path``, inside the root (else OSError), as a string: a sweep opens
        tens of thousands of files, so each folder is resolved once and the file itself only when it is
        a link or a dot name; no pathlib per file. ``refuse_link``: a link is an error, not followed;
        ``checked_by_open``: the caller opens with O_NOFOLLOW, which refuses a link itself."""
        parent, _, name = path.rpartition("/")
        folder = self._folders.get(parent)
        if folder is None:
            folder = self._folders[parent] = os.path.realpath(os.path.join(self._root, parent))
        target = os.path.join(folder, name)
        if name in ("", ".", "..") or (not checked_by_open and os.path.islink(target)):
            if refuse_link and os.path.islink(os.path.join(self._root, path)):
                raise OSError(f"symbolic link not followed: {path}")
            target = os.path.realpath(target)
        if target != self._root and not target.startswith(self._prefix):
            raise OSError(f"path escapes the evidence root: {path}")
        return target

    def open(self, path: str) -> BinaryIO:
        if not _NOFOLLOW:
            return open(self._real(path, refuse_link=True), "rb")
        real = self._real(path, refuse_link=True, checked_by_open=True)
        try:  # the kernel refuses a link as the last component: no lstat per file
            fd = os.open(real, os.O_RDONLY | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise OSError(f"symbolic link not followed: {path}") from exc
            raise
        return os.fdopen(fd, "rb")
