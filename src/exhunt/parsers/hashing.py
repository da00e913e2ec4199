"""Hashing a log in the pass that parses it.

A text log that gives records is cited, so its SHA-256 is wanted; which file gives records is known only
as they come. ``HashingTree`` hands the parser a ``HashingReader`` for the one file being parsed: it counts
the bytes read until the first record (``HashingTree.start``), reads that much again from a new handle, then
hashes the rest as the parser reads it. The digest is used only when the file was opened once and read
whole, in order; otherwise ``file_sha256`` reads it again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, cast

from exhunt.sources.base import FileEntry, HostTree


def file_sha256(tree: HostTree, path: str) -> str | None:
    digest = hashlib.sha256()
    try:
        with tree.open(path) as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except OSError:
        return None  # the caller hashes it again when it cites it, and reports the error then
    return digest.hexdigest()


class HashingReader:
    """A binary file handle that hashes (SHA-256) the bytes ``read`` and ``readinto`` return.

    With ``hashing=False`` it only counts them until ``catch_up`` hashes them again from another handle.
    The digest is the file's only when the file was read front to back to its end: a seek or any other
    method (``readline``, ``fileno``...) is passed on to the handle but makes the digest unusable.
    """

    def __init__(self, handle: BinaryIO, hashing: bool = True) -> None:
        self._handle = handle
        self._digest = hashlib.sha256()
        self.hashing = hashing
        self.position = 0  # bytes read
        self.at_end = False  # the last read found the end of the file
        self.sequential = True  # read only through read/readinto, without seeking

    def read(self, size: int | None = -1) -> bytes:
        data = self._handle.read(-1 if size is None else size)
        if self.hashing:
            self._digest.update(data)
        self.position += len(data)
        self.at_end = size is None or size < 0 or (size > 0 and not data)
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:
        method = getattr(self._handle, "readinto", None)
        if method is None:
            data = self.read(len(buffer))
            buffer[: len(data)] = data
            return len(data)
        got = method(buffer)
        if got is None:  # a non-blocking stream with nothing ready: not a plain file
            self.sequential = False
            return 0
        view = memoryview(buffer).cast("B")
        if self.hashing:
            self._digest.update(view[:got])
        self.position += got
        self.at_end = got == 0 and len(view) > 0
        return int(got)

    def catch_up(self, source: BinaryIO) -> None:
        """Start hashing: the bytes read so far are read again from ``source``, the same file opened anew."""
        remaining = self.position
        while remaining > 0:
            chunk = source.read(min(remaining, 1 << 20))
            if not chunk:
                self.sequential = False  # the file is shorter than what was read from it
                return
            self._digest.update(chunk)
            remaining -= len(chunk)
        self.hashing = True

    def seek(self, offset: int, whence: int = 0) -> int:
        self.sequential = False
        return self._handle.seek(offset, whence)

    def tell(self) -> int:
        return self._handle.tell()

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> HashingReader:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        self.sequential = False
        return getattr(self._handle, name)

    def sha256(self, size: int) -> str | None:
        """The hex SHA-256 of the file when all its ``size`` bytes were read in order, else None."""
        if self.hashing and self.sequential and self.at_end and self.position == size:
            return self._digest.hexdigest()
        return None


class HashingTree(HostTree):
    """``tree`` with the file ``path`` hashed while a parser reads it (``HashingReader``). Every other call,
    ``read_head`` included, goes to ``tree`` itself; ``close`` does nothing (the tree stays the caller's).

    Only a file that gives records is hashed, and which one does is known only as they come: the reader
    counts bytes until ``start`` (the first record), which reads that much of the file again, then hashes
    the rest as the parser reads it.
    """

    def __init__(self, tree: HostTree, path: str) -> None:
        super().__init__(tree.name, tree.origin)
        self.warnings = tree.warnings
        self.tree = tree
        self.path = path
        self.readers: list[HashingReader] = []

    def walk(self) -> Iterator[FileEntry]:
        return self.tree.walk()

    def open(self, path: str) -> BinaryIO:
        handle = self.tree.open(path)
        if path != self.path:
            return handle
        reader = HashingReader(handle, hashing=False)
        self.readers.append(reader)
        return cast(BinaryIO, reader)

    def local_path(self, path: str) -> Path | None:
        return self.tree.local_path(path)

    def read_head(self, path: str, size: int = 4096) -> bytes:
        return self.tree.read_head(path, size)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.tree, name)

    def start(self) -> None:
        """Hash the file from now on, and what was read of it before."""
        if len(self.readers) != 1 or self.readers[0].hashing:
            return
        try:
            with self.tree.open(self.path) as source:
                self.readers[0].catch_up(source)
        except OSError:
            return  # no digest: ``parse_in_worker`` reads the file again, and reports the error then

    def sha256(self, size: int) -> str | None:
        """The file's hex SHA-256 when it was opened once and read whole, in order (``size`` bytes)."""
        return self.readers[0].sha256(size) if len(self.readers) == 1 else None
