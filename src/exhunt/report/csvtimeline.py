"""CSV timeline: one row per piece of evidence cited, in time order, for spreadsheet triage."""

from __future__ import annotations

import csv
from typing import TextIO

from exhunt.model.result import HostResult
from exhunt.report.base import Reporter

COLUMNS = ("time", "host", "step", "rule_id", "title", "severity", "outcome", "cves", "attack", "path", "line",
           "record", "sha256", "excerpt")


class CsvTimelineReporter(Reporter):
    name = "csv"
    description = "CSV timeline: one row per piece of evidence, in time order"

    def write(self, results: list[HostResult], out: TextIO) -> None:
        rows: list[tuple[str, ...]] = []
        for result in results:
            for finding in result.findings:
                steps = finding.attr_values("step")
                for ref in finding.evidence:
                    rows.append((
                        ref.timestamp or finding.first_seen or "", result.host, steps[0] if steps else "",
                        finding.rule_id, finding.title, finding.severity.label, finding.outcome.value,
                        " ".join(finding.cves), " ".join(finding.attack), ref.path,
                        "" if ref.line is None else str(ref.line), "" if ref.record is None else str(ref.record),
                        ref.sha256 or "", _defuse(ref.excerpt)))
        rows.sort()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(rows)


def _defuse(text: str) -> str:
    """Evidence text must never become a spreadsheet formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
