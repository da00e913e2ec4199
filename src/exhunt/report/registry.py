"""The reporters exhunt offers, by --format name. Written by hand: one line per reporter."""

from __future__ import annotations

from exhunt.report.base import Reporter
from exhunt.report.console import ConsoleReporter
from exhunt.report.csvtimeline import CsvTimelineReporter
from exhunt.report.html import HtmlReporter
from exhunt.report.jsonl import JsonlReporter
from exhunt.report.misp import MispReporter
from exhunt.report.navigator import NavigatorReporter
from exhunt.report.settings import ReportSettings
from exhunt.report.stix import StixReporter
from exhunt.report.timesketch import TimesketchJsonlReporter


def reporters(settings: ReportSettings | None = None) -> dict[str, Reporter]:
    found: list[Reporter] = [
        ConsoleReporter(settings),
        JsonlReporter(settings),
        CsvTimelineReporter(settings),
        TimesketchJsonlReporter(settings),
        HtmlReporter(settings),
        StixReporter(settings),
        MispReporter(settings),
        NavigatorReporter(settings),
    ]
    return {r.name: r for r in found}
