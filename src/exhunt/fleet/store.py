"""A DuckDB case store: every host's verdict, findings, evidence, indicators and coverage in tables.

    exhunt scan evidence/* --store case.duckdb
    duckdb case.duckdb "select rule_id, count(distinct host) from findings group by 1 order by 2 desc"

Schema and example queries: docs/case-store.md. Findings have a stable ``finding_id`` (the same finding of the
same evidence gets the same id in every run); ``evidence`` and ``indicators`` rows point at it with a foreign
key; times are TIMESTAMP (UTC; impossible times such as 1601-01-01 are NULL). Re-scanning a host replaces its
rows, keyed by host and a normalised identity of its evidence (the resolved absolute path, in the ``evidence``
column), so another spelling of the same path does not add rows. Each host is written as soon as it is assessed
(``write_host``); the ``results`` table keeps each host's whole result as JSON for ``exhunt scan --resume``.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import orjson

from exhunt.fleet.identity import evidence_identity
from exhunt.fleet.serial import dumps, loads
from exhunt.model.finding import Finding
from exhunt.model.result import HostResult
from exhunt.report.indicators import indicators_of
from exhunt.report.times import plausible

SCHEMA_VERSION = 2
SCHEMA = (
    "create table if not exists store_meta (schema_version integer)",
    "create table if not exists hosts (host varchar, evidence varchar, verdict varchar, reasons varchar,"
    " finding_count integer, first_time timestamp, last_time timestamp, exposure json, timeline json,"
    " notes json, primary key (host, evidence))",
    "create table if not exists findings (finding_id varchar primary key, host varchar, evidence varchar,"
    " rule_id varchar, title varchar, severity varchar, confidence varchar, outcome varchar, detector varchar,"
    " cves varchar[], attack varchar[], first_seen timestamp, last_seen timestamp, evidence_total integer,"
    " attributes json, description varchar)",
    "create table if not exists evidence (finding_id varchar references findings (finding_id), host varchar,"
    " evidence varchar, rule_id varchar, seq integer, path varchar, line bigint, record bigint,"
    " byte_offset bigint, sha256 varchar, ts timestamp, excerpt varchar, note varchar)",
    "create table if not exists indicators (finding_id varchar references findings (finding_id), host varchar,"
    " evidence varchar, type varchar, value varchar, directory varchar, to_ids boolean)",
    "create table if not exists coverage (host varchar, evidence varchar, source varchar, status varchar,"
    " files integer, files_failed integer, bytes bigint, records bigint, first_time timestamp,"
    " last_time timestamp)",
    "create table if not exists warnings (host varchar, evidence varchar, path varchar, line bigint,"
    " byte_offset bigint, code varchar, message varchar)",
    "create table if not exists results (host varchar, evidence varchar, result json)",
)
CHILD_TABLES = ("evidence", "indicators")  # reference findings: deleted first, in their own transaction
HOST_TABLES = ("findings", "coverage", "warnings", "hosts", "results")


class StoreError(Exception):
    """The case store cannot be written (an older layout, not a DuckDB file)."""


def finding_ids(result: HostResult) -> list[str]:
    """A stable id per finding: its host, evidence, rule, time and first evidence; an ordinal for twins."""
    seen: dict[str, int] = {}
    ids = []
    identity = evidence_identity(result.evidence)
    for f in result.findings:
        first = f.evidence[0] if f.evidence else None
        key = "|".join(str(x) for x in (result.host, identity, f.rule_id, f.title, f.first_seen,
                                         f.last_seen, first.path if first else "", first and first.line,
                                         first and first.record))
        base = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        count = seen.get(base, 0)
        seen[base] = count + 1
        ids.append(base if count == 0 else f"{base}-{count}")
    return ids


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def prepare(con: duckdb.DuckDBPyConnection) -> None:
    for statement in SCHEMA:
        con.execute(statement)
    columns = {row[0] for row in con.execute(
        "select column_name from information_schema.columns where table_name = 'findings'").fetchall()}
    if "finding_id" not in columns:
        raise StoreError("this case store was written by an older exhunt (no finding_id): use a new --store file")
    if con.execute("select count(*) from store_meta").fetchone() == (0,):
        con.execute("insert into store_meta values (?)", (SCHEMA_VERSION,))


def open_store(db_path: Path) -> duckdb.DuckDBPyConnection:
    """Open (create) the store and its tables. Raises duckdb.Error, StoreError or OSError when it cannot."""
    con = duckdb.connect(str(db_path))
    try:
        prepare(con)
    except BaseException:
        con.close()
        raise
    return con


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
    """Replace one host's rows (two transactions: DuckDB checks foreign keys against deletes eagerly; the
    host's new rows go in one, so a crash keeps every finished host whole)."""
    key = (r.host, evidence_identity(r.evidence))
    _transaction(con, lambda: [con.execute(f"delete from {table} where host = ? and evidence = ?", key)
                               for table in CHILD_TABLES])
    _transaction(con, lambda: _write_rows(con, key, r))


def _transaction(con: duckdb.DuckDBPyConnection, work: Callable[[], object]) -> None:
    """``work`` in one transaction; on any interruption (Ctrl-C included) rolled back, and the interruption
    passed on as it was (a failed rollback, e.g. after an interrupted commit, must not replace it)."""
    con.execute("begin")
    try:
        work()
        con.execute("commit")
    except BaseException as exc:
        with contextlib.suppress(duckdb.Error, RuntimeError):
            con.execute("rollback")
        if isinstance(exc, RuntimeError) and "interrupted" in str(exc).lower():
            raise KeyboardInterrupt from exc  # DuckDB's own word for a Ctrl-C during a query
        raise


def _write_rows(con: duckdb.DuckDBPyConnection, key: tuple[str, str], r: HostResult) -> None:
    for table in HOST_TABLES:
        con.execute(f"delete from {table} where host = ? and evidence = ?", key)
    times = sorted(t for t in (plausible(x) for f in r.findings for x in (f.first_seen, f.last_seen)) if t)
    con.execute("insert into hosts values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (
        *key, r.verdict.value, " ".join(r.verdict_reasons), len(r.findings), times[0] if times else None,
        times[-1] if times else None, _json(r.exposure), _json(r.timeline), _json(r.coverage.notes)))
    for fid, f in zip(finding_ids(r), r.findings, strict=True):
        _finding(con, key, fid, f)
    for s in r.coverage.sources.values():
        con.execute("insert into coverage values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (
            *key, s.source, s.status.value, s.files, s.files_failed, s.bytes, s.records, plausible(s.first_time),
            plausible(s.last_time)))
    for w in r.coverage.warnings:
        con.execute("insert into warnings values (?, ?, ?, ?, ?, ?, ?)",
                    (*key, w.path, w.line, w.offset, w.code, w.message))
    con.execute("insert into results values (?, ?, ?)", (*key, dumps(r)))


def _finding(con: duckdb.DuckDBPyConnection, key: tuple[str, str], fid: str, f: Finding) -> None:
    data = f.to_dict()
    con.execute("insert into findings values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (
        fid, *key, f.rule_id, f.title, data["severity"], data["confidence"], data["outcome"], f.detector,
        list(f.cves), list(f.attack), plausible(f.first_seen), plausible(f.last_seen), data["evidence_total"],
        _json(data["attributes"]), f.description))
    for seq, e in enumerate(f.evidence):
        con.execute("insert into evidence values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (
            fid, *key, f.rule_id, seq, e.path, e.line, e.record, e.offset, e.sha256, plausible(e.timestamp),
            e.excerpt, e.note))
    for i in indicators_of(f):
        con.execute("insert into indicators values (?, ?, ?, ?, ?, ?, ?)",
                    (fid, *key, i.kind, i.value, i.directory, i.to_ids))


def write_results(db_path: Path, results: list[HostResult]) -> None:
    con = open_store(db_path)
    try:
        for r in results:
            write_host(con, r)
    finally:
        con.close()
