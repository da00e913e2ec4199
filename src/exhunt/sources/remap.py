"""A host tree seen through a path rewrite: collection tools store drives under their own prefixes.

KAPE writes ``<dest>/C/Windows/...`` (sometimes under a host folder); Velociraptor collection zips write
``uploads/auto/C%3A/Windows/...`` or ``uploads/ntfs/%5C%5C.%5CC%3A/Windows/...``. Detectors see the
plain drive layout ``C/Windows/...`` whatever tool collected it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote

from exhunt.sources.base import FileEntry, HostTree

_DRIVE = re.compile(r"^(?:\\\\[.?]\\)?([A-Za-z]):?$")


def velociraptor_path(path: str) -> str | None:
    """``uploads/auto/C%3A/x`` -> ``C/x``; None when the path is not a Velociraptor upload."""
    parts = path.split("/")
    if len(parts) < 4 or parts[0].lower() != "uploads":
        return None
    drive = _DRIVE.match(unquote(parts[2]))
    if drive is None:
        return None
    rest = [unquote(p) for p in parts[3:]]
    return "/".join([drive.group(1).upper(), *rest])


class RemappedTree(HostTree):
    """Expose ``inner`` with every path rewritten by ``mapper`` (paths it maps to None are hidden)."""

    def __init__(self, inner: HostTree, *, prefix: str = "", velociraptor: bool = False,
                 name: str | None = None) -> None:
        super().__init__(name or inner.name, inner.origin)
        self.inner = inner
        self.prefix = prefix.rstrip("/")
        self.velociraptor = velociraptor
        self.warnings = inner.warnings
        self._back: dict[str, str] = {}
        self._entries: list[FileEntry] = []
        for entry in inner.walk():
            mapped = self._map(entry.path)
            if mapped is None or mapped in self._back:
                continue
            self._back[mapped] = entry.path
            self._entries.append(FileEntry(mapped, entry.size, entry.mtime))
        self._entries.sort(key=lambda e: e.path)

    def _map(self, path: str) -> str | None:
        if self.prefix:
            if not path.lower().startswith(self.prefix.lower() + "/"):
                return None
            path = path[len(self.prefix) + 1:]
        if self.velociraptor:
            return velociraptor_path(path)
        return path

    def walk(self) -> Iterator[FileEntry]:
        yield from self._entries

    def open(self, path: str) -> BinaryIO:
        original = self._back.get(path)
        if original is None:
            raise OSError(f"no such file: {path}")
        return self.inner.open(original)

    def local_path(self, path: str) -> Path | None:
        original = self._back.get(path)
        return None if original is None else self.inner.local_path(original)

    def close(self) -> None:
        self.inner.close()
