"""A DuckDB case store: every host's verdict, findings, evidence and coverage in tables, to query a fleet.

    exhunt scan evidence/* --store case.duckdb
    duckdb case.duckdb "select rule_id, count(distinct host) from findings group by 1 order by 2 desc"

Re-scanning a host replaces its rows (keyed by host and evidence).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import orjson

from exhunt.model.result import HostResult

SCHEMA = (
    "create table if not exists hosts (host varchar, evidence varchar, verdict varchar, reasons varchar,"
    " finding_count integer, exposure json, timeline json, notes json)",
    "create table if not exists findings (host varchar, evidence varchar, rule_id varchar, title varchar,"
    " severity varchar, confidence varchar, outcome varchar, detector varchar, cves varchar[],"
    " attack varchar[], first_seen varchar, last_seen varchar, evidence_total integer, attributes json,"
    " description varchar)",
    "create table if not exists evidence (host varchar, evidence varchar, rule_id varchar, path varchar,"
    " line bigint, record bigint, byte_offset bigint, sha256 varchar, ts varchar, excerpt varchar)",
    "create table if not exists coverage (host varchar, evidence varchar, source varchar, status varchar,"
    " files integer, files_failed integer, bytes bigint, records bigint, first_time varchar, last_time varchar)",
    "create table if not exists warnings (host varchar, evidence varchar, path varchar, line bigint,"
    " byte_offset bigint, code varchar, message varchar)",
)
TABLES = ("hosts", "findings", "evidence", "coverage", "warnings")


def write_results(db_path: Path, results: list[HostResult]) -> None:
    con = duckdb.connect(str(db_path))
    try:
        for statement in SCHEMA:
            con.execute(statement)
        con.execute("begin")
        for r in results:
            key = (r.host, r.evidence)
            for table in TABLES:
                con.execute(f"delete from {table} where host = ? and evidence = ?", key)
            con.execute("insert into hosts values (?, ?, ?, ?, ?, ?, ?, ?)", (
                *key, r.verdict.value, " ".join(r.verdict_reasons), len(r.findings),
                orjson.dumps(r.exposure, option=orjson.OPT_SORT_KEYS).decode(),
                orjson.dumps(r.timeline, option=orjson.OPT_SORT_KEYS).decode(),
                orjson.dumps(r.coverage.notes).decode()))
            for f in r.findings:
                data = f.to_dict()
                con.execute("insert into findings values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (
                    *key, f.rule_id, f.title, data["severity"], data["confidence"], data["outcome"], f.detector,
                    list(f.cves), list(f.attack), f.first_seen, f.last_seen, data["evidence_total"],
                    orjson.dumps(data["attributes"], option=orjson.OPT_SORT_KEYS).decode(), f.description))
                for e in f.evidence:
                    con.execute("insert into evidence values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (
                        *key, f.rule_id, e.path, e.line, e.record, e.offset, e.sha256, e.timestamp, e.excerpt))
            for s in r.coverage.sources.values():
                con.execute("insert into coverage values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (
                    *key, s.source, s.status.value, s.files, s.files_failed, s.bytes, s.records, s.first_time,
                    s.last_time))
            for w in r.coverage.warnings:
                con.execute("insert into warnings values (?, ?, ?, ?, ?, ?, ?)",
                            (*key, w.path, w.line, w.offset, w.code, w.message))
        con.execute("commit")
    finally:
        con.close()
