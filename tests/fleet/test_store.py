"""The DuckDB case store: results land in queryable tables; re-scanning a host replaces its rows."""

from __future__ import annotations

from pathlib import Path

import duckdb

from exhunt.fleet.store import write_results
from exhunt.model.coverage import HostCoverage, InputWarning, SourceCoverage, SourceStatus
from exhunt.model.finding import Confidence, EvidenceRef, Finding, Outcome, Severity
from exhunt.model.result import HostResult, Verdict


def _result(host: str, rule: str) -> HostResult:
    finding = Finding(host=host, rule_id=rule, title="t", severity=Severity.HIGH, confidence=Confidence.HIGH,
                      outcome=Outcome.SUCCEEDED, detector="sigma", cves=("CVE-2021-26855",), attack=("T1190",),
                      first_seen="2021-03-03T04:00:00Z", evidence=(EvidenceRef("C/a.log", "raw", line=3),),
                      attributes=(("client_ip", "203.0.113.7"),))
    coverage = HostCoverage(sources={"iis": SourceCoverage("iis", SourceStatus.READ, files=1, records=10)},
                            warnings=[InputWarning("C/b.log", "garbage", line=2)])
    return HostResult(host=host, evidence=f"/cases/{host}", verdict=Verdict.COMPROMISED, findings=[finding],
                      coverage=coverage)


def test_results_are_queryable_and_rescans_replace(tmp_path: Path) -> None:
    db = tmp_path / "case.duckdb"
    write_results(db, [_result("ex01", "R1"), _result("ex02", "R1")])
    write_results(db, [_result("ex01", "R2")])
    con = duckdb.connect(str(db))
    rows = con.execute("select host, rule_id from findings order by host").fetchall()
    assert rows == [("ex01", "R2"), ("ex02", "R1")]
    assert con.execute("select count(*) from evidence").fetchone() == (2,)
    assert con.execute("select line from warnings where host = 'ex01'").fetchall() == [(2,)]
    assert con.execute("select verdict from hosts where host = 'ex02'").fetchone() == ("compromised",)
