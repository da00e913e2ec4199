"""One loose file handed over on its own (an EVTX file, a JSON export, a log)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from exhunt.sources.base import FileEntry, HostTree, shown_name
from exhunt.sources.directory import iso_utc, open_regular


class SingleFileTree(HostTree):
    def __init__(self, path: Path) -> None:
        super().__init__(shown_name(path.stem), shown_name(str(path)))
        self.path = path.resolve()
        self.shown = shown_name(self.path.name)

    def walk(self) -> Iterator[FileEntry]:
        info = self.path.stat()
        yield FileEntry(self.shown, info.st_size, iso_utc(info.st_mtime))

    def open(self, path: str) -> BinaryIO:
        if path != self.shown:
            raise OSError(f"no such file: {path}")
        return open_regular(self.path)

    def local_path(self, path: str) -> Path | None:
        return self.path if path == self.shown else None
