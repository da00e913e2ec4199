"""Shared helpers for the Sigma detector tests: an in-memory host."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import BinaryIO

import pytest

from exhunt.detectors.base import HostContext
from exhunt.model.coverage import HostCoverage
from exhunt.sources.base import FileEntry, HostTree


class MemoryTree(HostTree):
    def __init__(self, files: dict[str, bytes]) -> None:
        super().__init__("ex01", "memory")
        self.files = files

    def walk(self) -> Iterator[FileEntry]:
        for path in sorted(self.files):
            yield FileEntry(path, len(self.files[path]))

    def open(self, path: str) -> BinaryIO:
        return io.BytesIO(self.files[path])


@pytest.fixture
def make_ctx() -> Callable[[dict[str, bytes]], HostContext]:
    def build(files: dict[str, bytes]) -> HostContext:
        return HostContext(host="ex01", tree=MemoryTree(files), artifacts=[], coverage=HostCoverage())
    return build
