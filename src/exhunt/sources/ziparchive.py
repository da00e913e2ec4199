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
from exhunt.sources.base import FileEntry, HostTree

MAX_RATIO = 200  # a member expanding more than this is refused (compression bombs)
MAX_MEMBER = 64 << 30  # 64 GiB: no single member larger than this is read


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
    def __init__(self, archive: Path, name: str | None = None) -> None:
        super().__init__(name or archive.stem, str(archive))
        self.archive = archive
        self._zip = zipfile.ZipFile(archive)
        self._members: dict[str, zipfile.ZipInfo] = {}
        self._scan()

    def _scan(self) -> None:
        for info in self._zip.infolist():
            if info.is_dir():
                continue
            rel = safe_member_name(info.filename)
            if rel is None:
                self.warnings.append(InputWarning(path=f"{self.archive.name}!{info.filename}",
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
            self._members[rel] = info

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
