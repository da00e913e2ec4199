"""The DuckDB case store: results land in queryable tables; re-scanning a host replaces its rows."""

from __future__ import annotations

from dataclasses import replace
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


DOC = Path(__file__).resolve().parents[2] / "docs" / "case-store.md"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_a_rule_firing_twice_joins_without_doubling(tmp_path: Path) -> None:
    twice = _result("ex01", "R1")
    second = replace(twice.findings[0], first_seen="2021-03-04T04:00:00Z",
                     evidence=(EvidenceRef("C/a.log", "raw2", line=9), EvidenceRef("C/a.log", "raw3", line=10)))
    twice.findings.append(second)
    db = tmp_path / "case.duckdb"
    write_results(db, [twice])
    write_results(db, [twice])  # a rescan keeps the same ids
    con = duckdb.connect(str(db))
    rows = con.execute("select f.finding_id, count(*) from findings f join evidence e using (finding_id) "
                       "group by 1 order by 2").fetchall()
    assert [n for _, n in rows] == [1, 2]
    assert con.execute("select count(distinct finding_id) from findings").fetchone() == (2,)
    assert con.execute("select typeof(first_seen) from findings limit 1").fetchone() == ("TIMESTAMP",)
    assert con.execute("select type, value from indicators").fetchall() == [("ipv4", "203.0.113.7")] * 2


def test_impossible_times_are_null(tmp_path: Path) -> None:
    result = _result("ex01", "R1")
    result.coverage.sources["iis"].first_time = "1601-01-01T00:00:00.000Z"
    db = tmp_path / "case.duckdb"
    write_results(db, [result])
    con = duckdb.connect(str(db))
    assert con.execute("select first_time from coverage").fetchone() == (None,)


def test_documented_queries_run_on_the_examples(tmp_path: Path) -> None:
    from exhunt.content.bundle import ContentSpec
    from exhunt.fleet.local import assess_paths

    db = tmp_path / "case.duckdb"
    write_results(db, assess_paths(sorted(p for p in EXAMPLES.iterdir() if p.is_dir()), ContentSpec(), {}))
    queries = [block.split("```", 1)[0] for block in DOC.read_text(encoding="utf-8").split("```sql\n")[1:]]
    statements = [s.strip() for q in queries for s in q.split(";") if s.strip()]
    assert len(statements) >= 7
    con = duckdb.connect(str(db))
    answers = [con.execute(statement).fetchall() for statement in statements]
    shared = dict(((t, v), n) for t, v, n, _ in answers[1])
    assert shared[("user-agent", "Mozilla/5.0 zgrab/0.x")] == 2
    assert answers[0] and answers[2]
