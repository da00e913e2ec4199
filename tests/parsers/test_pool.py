"""ParsePool sends a host's text logs to the workers in batches of consecutive files and gives the results
back in plan order, the same as parsing each file alone; what a batch may hold stays bounded. Logs are
SYNTHETIC (logfixtures.py)."""

from __future__ import annotations

import random

import pytest

from exhunt.detectors.files.samples import MemoryTree
from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.parsers import pool
from exhunt.parsers.pool import ParsePool, PrefilterSpec, parse_batch_in_worker, parse_in_worker
from exhunt.parsers.w3c import W3CParser
from logfixtures import IIS_ATTACKS, iis_header, iis_line

SPEC = PrefilterSpec("literals", ("/owa/auth/x.js", "/ecp/y.js"), ((frozenset({"/owa/auth/x.js"}),),
                                                                   (frozenset({"/ecp/y.js"}),)))


def _log(seed: int, lines: int = 60) -> bytes:
    rng = random.Random(seed)
    day = "2021-03-03"
    out = [iis_header(day)]
    for second in range(lines):
        if second % 17 == seed % 17:
            out.append(IIS_ATTACKS[second % 2].format(d=day, t=f"00:{second // 60 % 60:02d}:{second % 60:02d}"))
        else:
            out.append(iis_line(rng, day, second))
        out.append("\r\n")
    return "".join(out).encode()


def _host(files: int) -> tuple[MemoryTree, list[Artifact]]:
    data = {f"C/inetpub/logs/LogFiles/W3SVC1/u_ex2103{n:04d}.log": _log(n) for n in range(files)}
    return MemoryTree(data), [Artifact(ArtifactKind.IIS, path, len(body)) for path, body in data.items()]


def _plain(result: tuple[list[object] | None, object] | None) -> object:
    assert result is not None
    records, report = result
    return ([(r.line, r.raw, r.timestamp) for r in records or ()], report)  # type: ignore[attr-defined]


def test_batches_give_what_each_file_gives_alone() -> None:
    tree, artifacts = _host(40)
    parser = W3CParser()
    alone = [_plain(parse_in_worker(parser, tree, artifact, SPEC)) for artifact in artifacts]
    workers = ParsePool(2, tree)
    try:
        assert workers.active
        workers.plan([(position, parser, artifact, SPEC) for position, artifact in enumerate(artifacts)])
        assert len(workers._sent) < len(artifacts)  # several files per task
        taken = [_plain(workers.take(position, artifact.path)) for position, artifact in enumerate(artifacts)]
    finally:
        workers.close()
    assert taken == alone


def test_a_position_not_planned_is_left_to_the_caller() -> None:
    tree, artifacts = _host(3)
    workers = ParsePool(2, tree)
    try:
        workers.plan([(0, W3CParser(), artifacts[0], SPEC), (2, W3CParser(), artifacts[2], SPEC)])
        assert workers.take(1, artifacts[1].path) is None
        assert workers.take(2, artifacts[2].path) is not None
    finally:
        workers.close()


def test_a_batch_stops_holding_records_past_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    tree, artifacts = _host(5)
    held = [sum(len(r.raw) for r in parse_in_worker(W3CParser(), tree, a, SPEC)[0] or ()) for a in artifacts]
    assert all(held)
    monkeypatch.setattr(pool, "RECORD_BYTES", max(held))  # each file alone fits; two files together do not
    results = parse_batch_in_worker(tree, [(W3CParser(), artifact, SPEC, False) for artifact in artifacts])
    assert all(result is not None and result[0] is not None for result in results[:2])
    assert results[2:] == [None] * 3  # not parsed in the worker: the caller parses them, streaming


def test_serial_pool_takes_nothing() -> None:
    tree, artifacts = _host(2)
    serial = ParsePool(1, tree)
    serial.plan([(0, W3CParser(), artifacts[0], SPEC)])
    assert not serial.active and serial.take(0, artifacts[0].path) is None
    serial.close()
