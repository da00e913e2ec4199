"""A host tree seen through a path rewrite: collection tools store drives under their own prefixes.

KAPE writes ``<dest>/C/Windows/...`` (sometimes under a host folder); Velociraptor collection zips write
``uploads/auto/C%3A/Windows/...`` or ``uploads/ntfs/%5C%5C.%5CC%3A/Windows/...``. Detectors see the
plain drive layout ``C/Windows/...`` whatever tool collected it.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote

from exhunt.sources.base import FileEntry, HostTree
from exhunt.sources.listing import Listing

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
        listing = inner.listing()
        mapped, origins = Listing(), array("q")  # packed: the mapped path, and where it came from
        for position, path in enumerate(listing.paths()):
            target = self._map(path)
            if target is not None:
                mapped.append(target, listing.size(position), listing.mtime(position))
                origins.append(position)
        order = mapped.sort()
        if order is not None:
            origins = array("q", (origins[n] for n in order))
        # a path mapped twice (an upload under two accessors) is read from its first origin only
        self._entries, self._origins = Listing(), array("q")
        previous: str | None = None
        for position, entry in enumerate(mapped):
            if entry.path != previous:
                self._entries.append(entry.path, entry.size, entry.mtime)
                self._origins.append(origins[position])
            previous = entry.path
        self._inner_listing = listing
        self._near = -1  # the position found last: files are opened mostly in listing order

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

    def listing(self) -> Listing:
        return self._entries

    def _original(self, path: str) -> str | None:
        position = self._entries.find(path, self._near)
        if position is None:
            return None
        self._near = position
        return self._inner_listing.path(self._origins[position])

    def open(self, path: str) -> BinaryIO:
        original = self._original(path)
        if original is None:
            raise OSError(f"no such file: {path}")
        return self.inner.open(original)

    def local_path(self, path: str) -> Path | None:
        original = self._original(path)
        return None if original is None else self.inner.local_path(original)

    def __getstate__(self) -> dict[str, object]:
        """What crosses to a worker: this host's own original paths, not the listing of the whole evidence
        (a folder of many hosts ships one host at a time)."""
        shipped: tuple[Listing, array[int]] | None = self.__dict__.get("_shipped")
        if shipped is None:  # made once: the parse pool pickles the tree with every batch it sends
            own = Listing()
            inner = self._inner_listing
            for origin in self._origins:
                own.append(inner.path(origin), inner.size(origin), inner.mtime(origin))
            shipped = self._shipped = (own, array("q", range(len(own))))
        state = {key: value for key, value in self.__dict__.items() if key != "_shipped"}
        state["_inner_listing"], state["_origins"], state["_near"] = shipped[0], shipped[1], -1
        return state

    def close(self) -> None:
        self.inner.close()
