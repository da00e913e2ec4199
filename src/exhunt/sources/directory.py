"""A host's evidence as a plain directory that mirrors its drives (C/, D/ ...), read in place."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from exhunt.model.coverage import InputWarning
from exhunt.sources.base import FileEntry, HostTree, shown_name
from exhunt.sources.listing import Listing

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # POSIX; elsewhere links are checked with lstat


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


def open_regular(path: Path | str) -> BinaryIO:
    """Open ``path`` for reading only when it is a regular file: a FIFO is opened without blocking and
    refused, so a named pipe planted where a file was expected can never hang a scan."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"not a regular file ({_special_kind(info.st_mode)}): {os.path.basename(path)!r}")
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
        self._root = str(self.root)
        self._prefix = os.path.join(self._root, "")  # the root with a trailing separator
        self._folders: dict[str, str] = {}  # host-relative folder -> resolved real folder
        self._entries: Listing | None = None  # packed: a few bytes per file
        self._real: dict[str, str] = {}  # shown path -> real path, for names that are not valid UTF-8

    def walk(self) -> Iterator[FileEntry]:
        yield from self.listing()

    def listing(self) -> Listing:
        if self._entries is None:
            self._entries = self._list()
        return self._entries

    def __getstate__(self) -> dict[str, object]:
        """What crosses to a parse worker: the listing stays here (workers open files, never walk)."""
        state = dict(self.__dict__)
        state["_entries"], state["_folders"], state["warnings"] = None, {}, []
        return state

    def _list(self) -> Listing:
        stack = [(self._root, "")]  # (real folder, its host-relative prefix): no pathlib per file
        entries = Listing()
        while stack:
            folder, prefix = stack.pop()
            try:
                with os.scandir(folder) as listing:
                    children = sorted(listing, key=lambda e: e.name)
            except OSError as exc:
                self.warnings.append(InputWarning(path=self._shown(prefix[:-1] or "."),
                                                  message=f"cannot list: {exc.strerror or exc}",
                                                  code="unreadable"))
                continue
            for child in children:
                rel = self._shown(prefix + child.name)
                if child.is_symlink():
                    self.warnings.append(InputWarning(path=rel, message="symbolic link not followed", code="link"))
                    continue
                try:
                    if child.is_dir(follow_symlinks=False):
                        stack.append((child.path, prefix + child.name + "/"))
                    elif child.is_file(follow_symlinks=False):
                        info = child.stat(follow_symlinks=False)
                        entries.append(rel, info.st_size, iso_utc(info.st_mtime))
                    else:
                        kind = _special_kind(child.stat(follow_symlinks=False).st_mode)
                        self.warnings.append(InputWarning(path=rel, code="special-file", message=(
                            f"{kind}, not a regular file: not read")))
                except OSError as exc:
                    self.warnings.append(InputWarning(path=rel, message=f"cannot stat: {exc.strerror or exc}",
                                                      code="unreadable"))
        entries.sort()
        return entries

    def _shown(self, rel: str) -> str:
        if rel.isascii():
            return rel
        shown = shown_name(rel)
        if shown != rel:
            if shown in self._real or os.path.lexists(os.path.join(self._root, shown)):
                self.warnings.append(InputWarning(path=shown, code="name-collision", message=(
                    "a name that is not valid UTF-8 reads the same, escaped, as another name: only the "
                    "first is read")))
                return shown
            self._real[shown] = rel
            if shown_name(rel.rsplit("/", 1)[-1]) != rel.rsplit("/", 1)[-1]:  # once, for the name itself
                self.warnings.append(InputWarning(path=shown, code="name-encoding", message=(
                    "file name is not valid UTF-8: shown with its bytes escaped (\\xNN)")))
        return shown

    def local_path(self, path: str) -> Path:
        return Path(self._real_path(path))

    def _real_path(self, path: str, refuse_link: bool = False, checked_by_open: bool = False) -> str:
        """The real path of host file ``path``, inside the root (else OSError), as a string: a sweep opens
        tens of thousands of files, so each folder is resolved once and the file itself only when it is
        a link or a dot name; no pathlib per file. ``refuse_link``: a link is an error, not followed;
        ``checked_by_open``: the caller opens with O_NOFOLLOW, which refuses a link itself."""
        path = self._real.get(path, path)
        parent, _, name = path.rpartition("/")
        folder = self._folders.get(parent)
        if folder is None:
            folder = self._folders[parent] = os.path.realpath(os.path.join(self._root, parent))
        target = os.path.join(folder, name)
        if name in ("", ".", "..") or (not checked_by_open and os.path.islink(target)):
            if refuse_link and os.path.islink(os.path.join(self._root, path)):
                raise OSError(f"symbolic link not followed: {shown_name(path)}")
            target = os.path.realpath(target)
        if target != self._root and not target.startswith(self._prefix):
            raise OSError(f"path escapes the evidence root: {shown_name(path)}")
        return target

    def open(self, path: str) -> BinaryIO:
        real = self._real_path(path, refuse_link=True, checked_by_open=bool(_NOFOLLOW))
        try:  # open_regular opens with O_NOFOLLOW: the kernel refuses a link as the last component
            return open_regular(real)  # a string: no pathlib per file
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise OSError(f"symbolic link not followed: {shown_name(path)}") from exc
            raise
