"""The reporters exhunt offers, by --format name. Written by hand."""

from __future__ import annotations

from exhunt.report.base import Reporter
from exhunt.report.console import ConsoleReporter
from exhunt.report.jsonl import JsonlReporter


def reporters() -> dict[str, Reporter]:
    found: list[Reporter] = [ConsoleReporter(), JsonlReporter()]
    return {r.name: r for r in found}
