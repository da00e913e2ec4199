"""Times the reports may state: canonical, plausible, and with the basis they were taken from.

A time before 1990 or after 2100 (Windows' zero time 1601-01-01, the Unix epoch 1970-01-01, a garbled field)
is not a time anything happened on an Exchange server: reports treat it as unknown. Where a format needs a time
that the evidence does not give (STIX ``created``, a MISP event ``date``), the evidence's time range is used,
else the scan's time, and the report says which (``basis``); never a made-up date.
"""

from __future__ import annotations

from dataclasses import dataclass

from exhunt.model.result import HostResult
from exhunt.model.timefmt import canonical

EARLIEST = "1990-01-01"  # before Exchange existed: an empty or zero timestamp, not an event time
LATEST = "2100-01-01"


def plausible(stamp: str | None) -> str | None:
    """``stamp`` in the one canonical form, or None when it is missing or cannot be a real event time."""
    text = canonical(stamp)
    if not text or len(text) < 19 or not text[:4].isdigit():
        return None
    if not EARLIEST <= text[:10] < LATEST:
        return None
    return text


@dataclass(frozen=True, slots=True)
class TimeRange:
    first: str | None
    last: str | None
    basis: str  # "findings", "evidence" (the logs' coverage window), "run" (every host's), "scan" or "unknown"

    def describe(self) -> str:
        if self.basis == "unknown" or not self.first:
            return "no time known"
        what = {"findings": "the findings' time range", "evidence": "the evidence's time range (log coverage)",
                "run": "the evidence's time range (findings and log coverage of every host)",
                "scan": "the scan's time (the evidence gives none)"}[self.basis]
        return f"{what}: {self.first} .. {self.last}"


def _span(stamps: list[str | None], basis: str) -> TimeRange | None:
    good = sorted(s for s in (plausible(x) for x in stamps) if s)
    return TimeRange(good[0], good[-1], basis) if good else None


def host_range(result: HostResult, scan_time: str | None = None) -> TimeRange:
    """When this host's evidence says things happened: its findings, else its logs' coverage, else the scan."""
    found = _span([t for f in result.findings for t in (f.first_seen, f.last_seen)], "findings")
    if found:
        return found
    covered = _span([t for s in result.coverage.sources.values() for t in (s.first_time, s.last_time)], "evidence")
    if covered:
        return covered
    scan = plausible(scan_time)
    return TimeRange(scan, scan, "scan") if scan else TimeRange(None, None, "unknown")


def run_range(results: list[HostResult], scan_time: str | None = None) -> TimeRange:
    """The time range of a whole run: every host's evidence (findings and coverage), else the scan."""
    stamps: list[str | None] = []
    for result in results:
        stamps.extend(t for f in result.findings for t in (f.first_seen, f.last_seen))
        stamps.extend(t for s in result.coverage.sources.values() for t in (s.first_time, s.last_time))
    found = _span(stamps, "run")
    if found:
        return found
    scan = plausible(scan_time)
    return TimeRange(scan, scan, "scan") if scan else TimeRange(None, None, "unknown")
