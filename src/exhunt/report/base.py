"""What every reporter implements: the same model (findings + coverage) rendered one way."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TextIO

from exhunt.model.result import HostResult
from exhunt.report.settings import ReportSettings


class Reporter(ABC):
    name: str = ""
    description: str = ""

    def __init__(self, settings: ReportSettings | None = None) -> None:
        self.settings = settings or ReportSettings()

    @abstractmethod
    def write(self, results: list[HostResult], out: TextIO) -> None:
        """Render ``results`` to ``out``. Output depends on the results and the settings only (byte for byte)."""
