"""The read-only view of one host's evidence that every later layer reads through."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from exhunt.model.coverage import InputWarning

if TYPE_CHECKING:
    from exhunt.sources.listing import Listing


@dataclass(frozen=True, slots=True)
class FileEntry:
    path: str  # relative to the host root, '/' separated, case as stored
    size: int
    mtime: str | None = None  # ISO 8601 UTC


class HostTree(ABC):
    """One host's files, read-only. Paths are relative and '/' separated; lookups ignore case."""

    def __init__(self, name: str, origin: str) -> None:
        self.name = name  # host name used in findings
        self.origin = origin  # what the user handed over, for reports
        self.warnings: list[InputWarning] = []  # problems met while listing (bad zip names, links...)

    @abstractmethod
    def walk(self) -> Iterator[FileEntry]:
        """Every regular file of the host, in a stable (sorted) order."""

    @abstractmethod
    def open(self, path: str) -> BinaryIO:
        """Open a file for binary reading. Raises OSError when it cannot be read."""

    def listing(self) -> Listing:
        """Every file of ``walk()``, packed (a tree that keeps its listing packed hands it over as it is)."""
        from exhunt.sources.listing import Listing

        return Listing(self.walk())

    def local_path(self, path: str) -> Path | None:
        """A real file-system path for ``path`` when the evidence is a plain folder, else None.

        Readers that need a path (a native parser) use it when given and spool to a temporary file
        otherwise.
        """
        return None

    def read_head(self, path: str, size: int = 4096) -> bytes:
        with self.open(path) as handle:
            return handle.read(size)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the tree holds open (zip handles)."""


def shown_name(name: str) -> str:
    """A name safe to carry everywhere (JSON, DuckDB, a terminal's encoder): a file name that is not valid
    UTF-8 (kept by Python as surrogate escapes) is shown with its bytes escaped, ``a\\xff\\xfe.aspx``, so
    the original bytes can still be read off it. Valid names come back unchanged."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        pass
    try:
        raw = name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # lone surrogates that are not escapes of bytes
        raw = name.encode("utf-8", "surrogatepass")
    return raw.decode("utf-8", "backslashreplace")


class EvidenceError(Exception):
    """The evidence cannot be opened at all (not found, not a supported container)."""
