"""A host's evidence as a plain directory that mirrors its drives (C/, D/ ...), read in place."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from exhunt.model.coverage import InputWarning
from exhunt.sources.base import FileEntry, HostTree


def iso_utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class DirectoryTree(HostTree):
    """Read-only view of a directory. Links are never followed out of the root."""

    def __init__(self, root: Path, name: str | None = None, origin: str | None = None) -> None:
        super().__init__(name or root.name, origin or str(root))
        self.root = root.resolve()
        self._folders: dict[str, Path] = {}  # host-relative folder -> resolved real folder

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

    def _rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def local_path(self, path: str) -> Path:
        # resolve each folder once (a sweep opens tens of thousands of files in a few thousand folders);
        # the file itself is resolved in full only when it is a link or a dot name
        parent, _, name = path.rpartition("/")
        folder = self._folders.get(parent)
        if folder is None:
            folder = self._folders[parent] = (self.root / parent).resolve()
        target = folder / name
        if name in ("", ".", "..") or os.path.islink(target):
            target = target.resolve()
        if not target.is_relative_to(self.root):
            raise OSError(f"path escapes the evidence root: {path}")
        return target

    def open(self, path: str) -> BinaryIO:
        target = self.root / path
        if target.is_symlink():
            raise OSError(f"symbolic link not followed: {path}")
        return self.local_path(path).open("rb")
