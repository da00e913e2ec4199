"""The reporters exhunt offers, by --format name. Written by hand: one line per reporter."""

from __future__ import annotations

from exhunt.report.base import Reporter
from exhunt.report.console import ConsoleReporter
from exhunt.report.csvtimeline import CsvTimelineReporter
from exhunt.report.html import HtmlReporter
from exhunt.report.jsonl import JsonlReporter
from exhunt.report.misp import MispReporter
from exhunt.report.navigator import NavigatorReporter
from exhunt.report.stix import StixReporter


def reporters() -> dict[str, Reporter]:
    found: list[Reporter] = [
        ConsoleReporter(),
        JsonlReporter(),
        CsvTimelineReporter(),
        HtmlReporter(),
        StixReporter(),
        MispReporter(),
        NavigatorReporter(),
    ]
    return {r.name: r for r in found}
