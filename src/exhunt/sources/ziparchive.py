"""A host's evidence inside a .zip, read in place: nothing is extracted to disk.

Member names are checked: absolute names, drive letters and '..' components are refused with a
warning (they could never be written out safely), links are not followed, and each member is read
through a size guard so a zip bomb cannot exhaust memory or time.
"""

from __future__ import annotations

import io
import stat
import zipfile
import zlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import IO, BinaryIO, cast

from exhunt.model.coverage import InputWarning
from exhunt.sources.base import FileEntry, HostTree, shown_name
from exhunt.sources.directory import open_regular

MAX_RATIO = 200  # a member expanding more than this is refused (compression bombs)
MAX_MEMBER = 64 << 30  # 64 GiB: no single member larger than this is read
MAX_TOTAL_RATIO = 100  # the whole archive may expand to this many times its size ...
MIN_TOTAL_BUDGET = 256 << 20  # ... or to this much, whichever is larger; members beyond are refused
ARCHIVE_SUFFIXES = (".zip", ".7z", ".rar", ".tar", ".tgz", ".tar.gz", ".gz", ".cab")


def safe_member_name(name: str) -> str | None:
    """The member's relative '/' path, or None when it is unsafe (absolute, drive, '..')."""
    cleaned = name.replace("\\", "/")
    if cleaned.startswith("/") or (len(cleaned) > 1 and cleaned[1] == ":"):
        return None
    parts = [p for p in PurePosixPath(cleaned).parts if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        return None
    return "/".join(parts)


class _Guarded(io.RawIOBase):
    """A member stream that stops with an error once it has produced more than it declared."""

    def __init__(self, inner: IO[bytes], limit: int, name: str) -> None:
        self.inner, self.limit, self.name, self.done = inner, limit, name, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        try:
            data = self.inner.read(len(buffer))
        except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
            raise OSError(f"zip member {self.name} is damaged: {exc}") from exc
        self.done += len(data)
        if self.done > self.limit:
            raise OSError(f"zip member {self.name} expands beyond its declared size")
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self.inner.close()
        super().close()


class ZipTree(HostTree):
    """``handle``: the archive already open (a nested archive spooled to a temporary file), which the tree
    then owns; ``origin`` says where it came from (``outer.zip!ex01.zip``)."""

    def __init__(self, archive: Path, name: str | None = None, handle: BinaryIO | None = None,
                 origin: str | None = None) -> None:
        super().__init__(shown_name(name or archive.stem), shown_name(origin or str(archive)))
        self.archive = archive
        self._handle = handle if handle is not None else open_regular(archive)
        try:
            size = self._handle.seek(0, io.SEEK_END)
            self._handle.seek(0)
            self._zip = zipfile.ZipFile(self._handle)
        except BaseException:
            self._handle.close()
            raise
        self._members: dict[str, zipfile.ZipInfo] = {}
        self._budget = max(MIN_TOTAL_BUDGET, MAX_TOTAL_RATIO * size)
        self._scan()

    def _scan(self) -> None:
        expanded, over, over_bytes, first_over = 0, 0, 0, ""
        for info in self._zip.infolist():
            if info.is_dir():
                continue
            rel = safe_member_name(shown_name(info.filename))
            if rel is None:
                self.warnings.append(InputWarning(path=shown_name(f"{self.archive.name}!{info.filename}"),
                                                  message="unsafe member name refused (absolute or '..')",
                                                  code="unsafe-name"))
                continue
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                self.warnings.append(InputWarning(path=rel, message="link member not followed", code="link"))
                continue
            if info.file_size > MAX_MEMBER or (
                info.compress_size and info.file_size / max(info.compress_size, 1) > MAX_RATIO
                and info.file_size > (1 << 20)
            ):
                self.warnings.append(InputWarning(path=rel, message=(
                    f"member refused: {info.file_size} bytes from {info.compress_size} compressed"),
                    code="zip-bomb"))
                continue
            if expanded + info.file_size > self._budget:  # the whole archive is bounded, not only big members
                over, over_bytes, first_over = over + 1, over_bytes + info.file_size, first_over or rel
                continue
            expanded += info.file_size
            if rel.lower().endswith(ARCHIVE_SUFFIXES):
                self.warnings.append(InputWarning(path=rel, code="nested-archive", message=(
                    "an archive inside the archive: not opened (nested archives are not read in place); "
                    "extract it and scan it on its own")))
            if rel in self._members:
                rel = self._duplicate_name(rel)
            self._members[rel] = info
        if over:
            self.warnings.append(InputWarning(path=first_over, code="zip-bomb", message=(
                f"{over} member(s) refused ({over_bytes} bytes): the archive would expand beyond "
                f"{self._budget} bytes ({MAX_TOTAL_RATIO} times its size); first refused here")))

    def _duplicate_name(self, rel: str) -> str:
        """A second member of the same name is read too, under a marked name (the last would else win)."""
        folder, _, name = rel.rpartition("/")
        stem, dot, ext = name.rpartition(".")
        if not dot:
            stem, ext = name, ""
        number = 2
        while True:
            marked = f"{stem}~dup{number}{dot}{ext}"
            candidate = f"{folder}/{marked}" if folder else marked
            if candidate not in self._members:
                break
            number += 1
        self.warnings.append(InputWarning(path=rel, code="duplicate-member", message=(
            f"the archive holds this name more than once: every copy is read, this one as {candidate}")))
        return candidate

    def member_names(self) -> list[str]:
        return sorted(self._members)

    def walk(self) -> Iterator[FileEntry]:
        for rel in sorted(self._members):
            info = self._members[rel]
            try:
                stamp = datetime(*info.date_time).strftime("%Y-%m-%dT%H:%M:%SZ")
            except ValueError:
                stamp = None
            yield FileEntry(rel, info.file_size, stamp)

    def open(self, path: str) -> BinaryIO:
        info = self._members.get(path)
        if info is None:
            raise OSError(f"no such member: {path}")
        try:
            raw = self._zip.open(info)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError) as exc:
            raise OSError(f"cannot open zip member {path}: {exc}") from exc
        return cast(BinaryIO, io.BufferedReader(_Guarded(raw, info.file_size, path), buffer_size=1 << 20))

    def close(self) -> None:
        self._zip.close()
        self._handle.close()
