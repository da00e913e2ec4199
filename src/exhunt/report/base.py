"""What every reporter implements: the same model (findings + coverage) rendered one way."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TextIO

from exhunt.model.result import HostResult


class Reporter(ABC):
    name: str = ""
    description: str = ""

    @abstractmethod
    def write(self, results: list[HostResult], out: TextIO) -> None:
        """Render ``results`` to ``out``. Output depends on the results only (byte for byte)."""
