"""Timeline rows, one per piece of evidence cited, shaped for Timesketch (and any spreadsheet).

Timesketch needs ``message``, ``datetime`` (ISO 8601), ``timestamp`` (microseconds since the epoch) and
``timestamp_desc``, which here says what the time is: a log line's, an event record's, a file's (its
modification time), or, for evidence that has no time of its own, the finding's first sighting. Evidence with
no plausible time at all (none, a copy's time that is not when the file was written, or an impossible one such
as 1601-01-01) cannot be placed on a timeline: the CSV keeps it in rows after the timed ones, with empty
``datetime``/``timestamp`` and ``timestamp_desc`` "Time unknown" (nothing dropped from a spreadsheet); the
Timesketch JSONL, whose importer needs a time, leaves it out (it stays in JSONL, HTML, console, the case store).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from exhunt.model.finding import EvidenceRef, Finding
from exhunt.model.result import HostResult
from exhunt.report.times import plausible

COLUMNS = ("datetime", "timestamp", "timestamp_desc", "message", "host", "tlp", "step", "rule_id", "title",
           "severity", "outcome", "cves", "attack", "path", "line", "record", "sha256", "excerpt")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def defuse(text: str) -> str:
    """Text from the evidence must never become a spreadsheet formula (OWASP's CSV injection advice), even
    behind leading spaces."""
    return "'" + text if text.lstrip(" ")[:1] in FORMULA_START else text


def _time_of(ref: EvidenceRef, finding: Finding) -> tuple[str, str] | None:
    own = plausible(ref.timestamp)
    if own:
        if ref.record is not None:  # an event record (EVTX, or a JSON export's line holding one)
            return own, "Event record time"
        if ref.line is not None:
            return own, "Log line time"
        return own, "File modification time"
    first = plausible(finding.first_seen)
    return (first, "Finding first seen (the evidence has no time of its own)") if first else None


def _micros(stamp: str) -> int:
    moment = datetime.strptime(stamp[:23], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC)
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


UNTIMED = "Time unknown (no plausible time: see the finding)"


def rows(results: list[HostResult], tlp_label: str, untimed: bool = False) -> list[dict[str, Any]]:
    """Timeline rows in time order; ``untimed``: evidence without a plausible time too, after the rest."""
    found: list[dict[str, Any]] = []
    late: list[dict[str, Any]] = []
    for result in results:
        for finding in result.findings:
            steps = finding.attr_values("step")
            for ref in finding.evidence:
                when = _time_of(ref, finding)
                if when is None and not untimed:
                    continue
                where = ref.path + (f":{ref.line}" if ref.line else "") + (
                    f" record {ref.record}" if ref.record else "")
                (found if when else late).append({
                    "datetime": when[0] if when else "", "timestamp": _micros(when[0]) if when else None,
                    "timestamp_desc": when[1] if when else UNTIMED,
                    "message": f"{finding.title} [{finding.rule_id}, {finding.outcome.value}] {where}",
                    "host": result.host, "tlp": tlp_label, "step": steps[0] if steps else "",
                    "rule_id": finding.rule_id, "title": finding.title, "severity": finding.severity.label,
                    "outcome": finding.outcome.value, "cves": " ".join(finding.cves),
                    "attack": " ".join(finding.attack), "path": ref.path, "line": ref.line, "record": ref.record,
                    "sha256": ref.sha256 or "", "excerpt": ref.excerpt})
    for group in (found, late):
        group.sort(key=lambda r: (r["datetime"], r["host"], r["rule_id"], r["path"], r["line"] or 0,
                                  r["record"] or 0, r["message"]))
    return found + late
