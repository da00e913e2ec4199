"""One loose file handed over on its own (an EVTX file, a JSON export, a log)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from exhunt.sources.base import FileEntry, HostTree
from exhunt.sources.directory import iso_utc


class SingleFileTree(HostTree):
    def __init__(self, path: Path) -> None:
        super().__init__(path.stem, str(path))
        self.path = path.resolve()

    def walk(self) -> Iterator[FileEntry]:
        info = self.path.stat()
        yield FileEntry(self.path.name, info.st_size, iso_utc(info.st_mtime))

    def open(self, path: str) -> BinaryIO:
        if path != self.path.name:
            raise OSError(f"no such file: {path}")
        return self.path.open("rb")

    def local_path(self, path: str) -> Path | None:
        return self.path if path == self.path.name else None
