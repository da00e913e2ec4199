"""ParsePool sends a host's text logs to the workers in batches of consecutive files and gives the results
back in plan order, the same as parsing each file alone; what a batch may hold stays bounded. Logs are
SYNTHETIC (logfixtures.py)."""

from __future__ import annotations

import hashlib
import pickle
import random
from collections.abc import Iterable
from pathlib import Path

import pytest

from exhunt.detectors.files.samples import MemoryTree
from exhunt.model.event import Record
from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.parsers import pool
from exhunt.parsers.base import ParseReport
from exhunt.parsers.pool import (
    ParsePool,
    PrefilterSpec,
    Spilled,
    pack,
    parse_batch_in_worker,
    parse_in_worker,
    unpack,
)
from exhunt.parsers.prefilter import BlockPrefilter, build_prefilter, hyperscan_available
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


def _plain(result: tuple[Iterable[Record] | None, ParseReport] | None) -> object:
    assert result is not None
    records, report = result
    return ([(r.line, r.raw, r.timestamp, r.fields) for r in records or ()], report)


def test_batches_give_what_each_file_gives_alone() -> None:
    tree, artifacts = _host(40)
    parser = W3CParser()
    alone = [_plain(parse_in_worker(parser, tree, artifact, SPEC)) for artifact in artifacts]
    workers = ParsePool(2, tree)
    try:
        assert workers.active
        workers.plan([(position, parser, artifact, SPEC) for position, artifact in enumerate(artifacts)])
        assert len(workers._sent) < len(artifacts)  # several files per task
        taken = [_plain(workers.take(position)) for position in range(len(artifacts))]
    finally:
        workers.close()
    assert taken == alone


def test_a_position_not_planned_is_left_to_the_caller() -> None:
    tree, artifacts = _host(3)
    workers = ParsePool(2, tree)
    try:
        workers.plan([(0, W3CParser(), artifacts[0], SPEC), (2, W3CParser(), artifacts[2], SPEC)])
        assert workers.take(1) is None
        assert workers.take(2) is not None
    finally:
        workers.close()


def test_a_batch_stops_holding_records_past_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    tree, artifacts = _host(5)
    held = [sum(len(r.raw) for r in parse_in_worker(W3CParser(), tree, a, SPEC)[0] or ()) for a in artifacts]
    assert all(held)
    monkeypatch.setattr(pool, "RECORD_BYTES", max(held))  # each file alone fits; two files together do not
    results = parse_batch_in_worker(tree, [(W3CParser(), artifact, SPEC) for artifact in artifacts])
    assert results[0] is not None and results[0][0] is not None
    held_here = [sum(len(r.raw) for r in result[0]) for result in results
                 if result is not None and isinstance(result[0], list)]
    assert sum(held_here) <= max(held)  # what the batch holds stays within the bound
    left = [result is None or result[0] is None for result in results]
    assert left[2:] == [True] * 3  # parsed by the caller instead, streaming


def test_serial_pool_takes_nothing() -> None:
    tree, artifacts = _host(2)
    serial = ParsePool(1, tree)
    serial.plan([(0, W3CParser(), artifacts[0], SPEC)])
    assert not serial.active and serial.take(0) is None
    serial.close()


def test_records_past_the_bound_are_spilled_and_read_back_in_order(monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path) -> None:
    tree, artifacts = _host(1)
    artifact = artifacts[0]
    alone = _plain(parse_in_worker(W3CParser(), tree, artifact, SPEC))
    monkeypatch.setattr(pool, "SPILL_CHUNK", 1)  # one chunk per record
    records, report = parse_in_worker(W3CParser(), tree, artifact, SPEC, True, str(tmp_path), budget=0)
    assert isinstance(records, Spilled)
    assert report.sha256 == hashlib.sha256(tree.read_head(artifact.path, 1 << 20)).hexdigest()
    assert _plain((list(records), report)) == alone
    assert not list(tmp_path.iterdir())  # removed once read


def test_a_file_spilling_too_much_is_left_to_the_caller(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    tree, artifacts = _host(1)
    monkeypatch.setattr(pool, "SPILL_CHUNK", 1)
    monkeypatch.setattr(pool, "SPILL_BYTES", 1)
    records, _ = parse_in_worker(W3CParser(), tree, artifacts[0], SPEC, True, str(tmp_path), budget=0)
    assert records is None
    assert not list(tmp_path.iterdir())


def test_a_pool_spills_big_files_and_removes_its_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    tree, artifacts = _host(6)
    parser = W3CParser()
    alone = [_plain(parse_in_worker(parser, tree, artifact, SPEC)) for artifact in artifacts]
    monkeypatch.setattr(pool, "RECORD_BYTES", 1)  # inherited by the forked workers
    workers = ParsePool(2, tree)
    try:
        folder = workers._spill_dir
        assert folder is not None and Path(folder).is_dir()
        workers.plan([(position, parser, artifact, SPEC) for position, artifact in enumerate(artifacts)])
        taken = []
        for position in range(len(artifacts)):
            result = workers.take(position)
            assert result is not None and isinstance(result[0], Spilled)
            taken.append(_plain((list(result[0]), result[1])))
    finally:
        workers.close()
    assert taken == alone
    assert not Path(folder).exists()


def test_records_cross_packed_and_come_back_equal() -> None:
    tree, artifacts = _host(2)
    records = [r for a in artifacts for r in (parse_in_worker(W3CParser(), tree, a, SPEC)[0] or [])]
    records[0].fields["_extra"] = ["a", "b"]
    records[0].attrs["site"] = "W3SVC1"
    records[1].matched = {"sigma": (1, 2)}
    assert records
    assert unpack(pickle.loads(pickle.dumps(pack(records)))) == records


def test_a_prefilter_crosses_to_a_worker_built_and_finds_the_same() -> None:
    if not hyperscan_available():
        pytest.skip("Hyperscan is not installed: prefilters hold no compiled database to send")
    tree, artifacts = _host(1)
    block = tree.read_head(artifacts[0].path, 1 << 20)
    for built in (build_prefilter(["/owa/auth/x.js", "/ecp/y.js"]), SPEC.build()):
        assert isinstance(built, BlockPrefilter)
        copy = pickle.loads(pickle.dumps(built))
        assert type(copy) is type(built) and copy is not built
        assert copy.marks(block) == built.marks(block)
        assert copy.marks(block).matches


def test_a_pool_sends_its_built_prefilters_with_the_batches() -> None:
    tree, artifacts = _host(4)
    workers = ParsePool(2, tree)
    try:
        workers.plan([(position, W3CParser(), artifact, SPEC) for position, artifact in enumerate(artifacts)])
        assert set(workers._prebuilt) == {SPEC}
        assert all(workers.take(position) is not None for position in range(len(artifacts)))
    finally:
        workers.close()


def _even_lines(record: Record) -> bool:
    return record.line % 2 == 0


def test_workers_send_back_only_the_records_a_detector_may_use() -> None:
    """The record filters published by ``plan`` reach the workers, forked at the first batch sent after them;
    a file that sends back no record is not hashed."""
    tree, artifacts = _host(6)
    parser = W3CParser()
    nothing = {ArtifactKind.IIS: lambda record: False}
    for keep in (_even_lines, nothing[ArtifactKind.IIS]):
        alone = [_plain(parse_in_worker(parser, tree, artifact, SPEC, keep=keep)) for artifact in artifacts]
        workers = ParsePool(2, tree)
        try:
            workers.plan([(position, parser, artifact, SPEC) for position, artifact in enumerate(artifacts)],
                         {ArtifactKind.IIS: keep})
            taken = [workers.take(position) for position in range(len(artifacts))]
        finally:
            workers.close()
        assert [_plain(result) for result in taken] == alone
        for artifact, result in zip(artifacts, taken, strict=True):
            assert result is not None and result[0] is not None
            data = tree.read_head(artifact.path, 1 << 20)
            assert result[1].sha256 == (hashlib.sha256(data).hexdigest() if list(result[0]) else None)
        assert any(list(r[0] or ()) for r in taken if r is not None) == (keep is _even_lines)
    assert not pool._filters  # withdrawn when the pool closes
