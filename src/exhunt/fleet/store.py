"""A DuckDB case store: every host's verdict, findings, evidence and coverage in tables, to query a fleet.

    exhunt scan evidence/* --store case.duckdb
    duckdb case.duckdb "select rule_id, count(distinct host) from findings group by 1 order by 2 desc"

Re-scanning a host replaces its rows, keyed by host and a normalised identity of its evidence (the
resolved absolute path, in the ``evidence`` column), so another spelling of the same path does not add
rows. Each host is written in its own transaction as soon as it is assessed (``write_host``); the
``results`` table keeps each host's whole result as JSON for ``exhunt scan --resume``.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import orjson

from exhunt.fleet.identity import evidence_identity
from exhunt.fleet.serial import dumps, loads
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
    "create table if not exists results (host varchar, evidence varchar, result json)",
)
TABLES = ("hosts", "findings", "evidence", "coverage", "warnings", "results")


def open_store(db_path: Path) -> duckdb.DuckDBPyConnection:
    """Open (create) the store and its tables. Raises duckdb.Error or OSError when it cannot."""
    con = duckdb.connect(str(db_path))
    try:
        for statement in SCHEMA:
            con.execute(statement)
    except BaseException:
        con.close()
        raise
    return con


def write_results(db_path: Path, results: list[HostResult]) -> None:
    con = open_store(db_path)
    try:
        for r in results:
            write_host(con, r)
    finally:
        con.close()


def stored_results(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], HostResult]:
    """Every host result kept in an open store, by (host, evidence identity): what ``--resume`` skips."""
    rows = con.execute("select host, evidence, result from results").fetchall()
    found: dict[tuple[str, str], HostResult] = {}
    for host, evidence, text in rows:
        try:
            found[(host, evidence)] = loads(text)
        except (ValueError, TypeError, KeyError):
            continue  # a damaged row: that host is assessed again
    return found


def write_host(con: duckdb.DuckDBPyConnection, r: HostResult) -> None:
    """One host's rows, replacing any it had, in one transaction (a crash keeps every finished host)."""
    con.execute("begin")
    try:
        key = (r.host, evidence_identity(r.evidence))
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
        con.execute("insert into results values (?, ?, ?)", (*key, dumps(r)))
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
