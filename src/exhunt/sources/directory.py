"""A host's evidence as a plain directory that mirrors its drives (C/, D/ ...), read in place."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from exhunt.model.coverage import InputWarning
from exhunt.sources.base import FileEntry, HostTree, shown_name


def iso_utc(epoch: float) -> str:
    try:
        return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):  # a time stamp out of the platform's range (forged)
        return "1970-01-01T00:00:00Z"


def _special_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "special file"


def open_regular(path: Path) -> BinaryIO:
    """Open ``path`` for reading only when it is a regular file: a FIFO is opened without blocking and
    refused, so a named pipe planted where a file was expected can never hang a scan."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"not a regular file ({_special_kind(info.st_mode)}): {path.name!r}")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


class DirectoryTree(HostTree):
    """Read-only view of a directory. Links are never followed out of the root.

    The folder is listed once (warnings about links, special files and names are given once, however
    often the tree is walked). A name that is not valid UTF-8 is shown escaped (``shown_name``) and
    mapped back to its real bytes when the file is opened.
    """

    def __init__(self, root: Path, name: str | None = None, origin: str | None = None) -> None:
        super().__init__(shown_name(name or root.name), shown_name(origin or str(root)))
        self.root = root.resolve()
        self._folders: dict[str, Path] = {}  # host-relative folder -> resolved real folder
        self._entries: list[FileEntry] | None = None
        self._real: dict[str, str] = {}  # shown path -> real path, for names that are not valid UTF-8

    def walk(self) -> Iterator[FileEntry]:
        if self._entries is None:
            self._entries = self._list()
        yield from self._entries

    def __getstate__(self) -> dict[str, object]:
        """What crosses to a parse worker: the listing stays here (workers open files, never walk)."""
        state = dict(self.__dict__)
        state["_entries"], state["_folders"], state["warnings"] = None, {}, []
        return state

    def _list(self) -> list[FileEntry]:
        stack = [self.root]
        entries: list[FileEntry] = []
        while stack:
            folder = stack.pop()
            try:
                with os.scandir(folder) as listing:
                    children = sorted(listing, key=lambda e: e.name)
            except OSError as exc:
                self.warnings.append(InputWarning(path=self._shown(self._rel(Path(folder))),
                                                  message=f"cannot list: {exc.strerror or exc}",
                                                  code="unreadable"))
                continue
            for child in children:
                rel = self._shown(self._rel(Path(child.path)))
                if child.is_symlink():
                    self.warnings.append(InputWarning(path=rel, message="symbolic link not followed", code="link"))
                    continue
                try:
                    if child.is_dir(follow_symlinks=False):
                        stack.append(Path(child.path))
                    elif child.is_file(follow_symlinks=False):
                        info = child.stat(follow_symlinks=False)
                        entries.append(FileEntry(rel, info.st_size, iso_utc(info.st_mtime)))
                    else:
                        kind = _special_kind(child.stat(follow_symlinks=False).st_mode)
                        self.warnings.append(InputWarning(path=rel, code="special-file", message=(
                            f"{kind}, not a regular file: not read")))
                except OSError as exc:
                    self.warnings.append(InputWarning(path=rel, message=f"cannot stat: {exc.strerror or exc}",
                                                      code="unreadable"))
        entries.sort(key=lambda e: e.path)
        return entries

    def _shown(self, rel: str) -> str:
        shown = shown_name(rel)
        if shown != rel:
            if shown in self._real or (self.root / shown).exists():
                self.warnings.append(InputWarning(path=shown, code="name-collision", message=(
                    "a name that is not valid UTF-8 reads the same, escaped, as another name: only the "
                    "first is read")))
                return shown
            self._real[shown] = rel
            if shown_name(rel.rsplit("/", 1)[-1]) != rel.rsplit("/", 1)[-1]:  # once, for the name itself
                self.warnings.append(InputWarning(path=shown, code="name-encoding", message=(
                    "file name is not valid UTF-8: shown with its bytes escaped (\\xNN)")))
        return shown

    def _rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def local_path(self, path: str) -> Path:
        # resolve each folder once (a sweep opens tens of thousands of files in a few thousand folders);
        # the file itself is resolved in full only when it is a link or a dot name
        path = self._real.get(path, path)
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
        target = self.root / self._real.get(path, path)
        if target.is_symlink():
            raise OSError(f"symbolic link not followed: {path}")
        return open_regular(self.local_path(path))
