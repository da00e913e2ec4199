"""Impossible times (EVTX zero time 1601-01-01, the Unix epoch, the far future) are unknown, with a warning."""

from __future__ import annotations

from exhunt.parsers.base import ParseReport


def test_zero_time_is_unknown_and_warned_once() -> None:
    report = ParseReport(path="C/Windows/System32/winevt/Logs/Security.evtx")
    for stamp in ("1601-01-01T00:00:00.000Z", "2021-03-03T04:00:00.000Z", "1970-01-01T00:00:00.000Z",
                  "2021-03-04T05:00:00.000Z", "9999-12-31T23:59:59.000Z"):
        report.see_time(stamp)
    assert (report.first_time, report.last_time) == ("2021-03-03T04:00:00.000Z", "2021-03-04T05:00:00.000Z")
    assert report.impossible_times == 3
    assert [w.code for w in report.warnings] == ["impossible-time"]
    assert "1601-01-01" in report.warnings[0].message
