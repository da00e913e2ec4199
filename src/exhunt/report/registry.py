"""The reporters exhunt offers, by --format name. Written by hand: one line per reporter.

A reporter's module is imported only when that reporter is asked for (``reporter``): a scan writing JSONL
does not import rich's tables, the STIX or the HTML writer."""

from __future__ import annotations

import importlib

from exhunt.report.base import Reporter
from exhunt.report.settings import ReportSettings

# --format name -> (module, class); the class's ``name`` is the key (a test checks it)
REPORTERS: dict[str, tuple[str, str]] = {
    "console": ("exhunt.report.console", "ConsoleReporter"),
    "jsonl": ("exhunt.report.jsonl", "JsonlReporter"),
    "csv": ("exhunt.report.csvtimeline", "CsvTimelineReporter"),
    "timesketch": ("exhunt.report.timesketch", "TimesketchJsonlReporter"),
    "html": ("exhunt.report.html", "HtmlReporter"),
    "stix": ("exhunt.report.stix", "StixReporter"),
    "misp": ("exhunt.report.misp", "MispReporter"),
    "navigator": ("exhunt.report.navigator", "NavigatorReporter"),
}


def names() -> list[str]:
    """The --format names, without importing any reporter."""
    return list(REPORTERS)


def reporter(name: str, settings: ReportSettings | None = None) -> Reporter:
    """The reporter for ``name`` (KeyError when there is none), its module imported now."""
    module, cls = REPORTERS[name]
    made = getattr(importlib.import_module(module), cls)(settings)
    if not isinstance(made, Reporter):
        raise TypeError(f"{module}.{cls} is not a Reporter")
    return made


def reporters(settings: ReportSettings | None = None) -> dict[str, Reporter]:
    """Every reporter, by name (imports them all)."""
    return {name: reporter(name, settings) for name in REPORTERS}
