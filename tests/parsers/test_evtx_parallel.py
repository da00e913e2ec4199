"""EVTX read by chunk ranges in worker processes (``parsers/pool.py`` ``RangePool``): the same records,
in the same order, and the same report as a serial read, whatever the files hold.

The merging and fall-back logic runs always, on a stand-in parser over synthetic (plain-text) "EVTX" files
whose chunks are 64 KiB blocks; real EVTX from the shared corpus (attack samples, a multi-range file, damaged
and truncated files) is compared through ``assess_host`` with 1 and 2 workers when the corpus is present.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from exhunt.content.bundle import ContentBundle, ContentSpec
from exhunt.detectors.registry import load_content
from exhunt.engine import assess_host
from exhunt.model.event import Record
from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.model.timefmt import canonical
from exhunt.parsers import pool as pool_module
from exhunt.parsers.base import ParseReport, Prefilter, RecordGate
from exhunt.parsers.evtx import CHUNK, FILE_HEADER, EvtxParser, RangeRead
from exhunt.parsers.pool import RANGE_CHUNKS, PrefilterSpec, RangePool, parse_all, ranges_of
from exhunt.report.jsonl import JsonlReporter
from exhunt.sources.base import HostTree
from exhunt.sources.directory import DirectoryTree

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
needs_fork = pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                                reason="EVTX workers need the fork start method (they inherit the record gate)")


def test_ranges_cover_every_chunk_once() -> None:
    assert ranges_of(0) == [(0, 0)]
    assert ranges_of(FILE_HEADER + CHUNK) == [(0, 0)]
    size = FILE_HEADER + (2 * RANGE_CHUNKS + 3) * CHUNK + 100  # and a scrap: read by the last range
    assert ranges_of(size) == [(0, RANGE_CHUNKS), (RANGE_CHUNKS, RANGE_CHUNKS), (2 * RANGE_CHUNKS, 0)]


# --- a stand-in parser: synthetic files of 64 KiB "chunks", one record per line --------------------------


class TextChunks(EvtxParser):
    """Synthetic stand-in: a header block, then 64 KiB chunks of lines ``<id> <time>``; a line ``BAD``
    is damage (a warning, as the EVTX reader's), a line ``ODD`` a record whose time is impossible."""

    def parse(self, tree: HostTree, artifact: Artifact, report: ParseReport,
              prefilter: Prefilter | None = None, skip: int = 0) -> Iterator[Record]:
        with tree.open(artifact.path) as handle:
            data = handle.read()
        yield from self._lines(data[FILE_HEADER:], artifact, report, skip)
        if report.records == 0 and not report.warnings:
            report.warn("EVTX file holds no records", code="empty")
        report.bytes_read = artifact.size

    def parse_range(self, tree: HostTree, artifact: Artifact, report: ParseReport, prefilter: Prefilter | None,
                    first: int, count: int, read: RangeRead) -> Iterator[Record]:
        with tree.open(artifact.path) as handle:
            handle.seek(FILE_HEADER + first * CHUNK)
            data = handle.read(count * CHUNK if count else -1)
        counter = [0]
        yield from self._lines(data, artifact, report, 0, counter)
        read.items = counter[0]

    def _lines(self, data: bytes, artifact: Artifact, report: ParseReport, skip: int,
               counter: list[int] | None = None) -> Iterator[Record]:
        given = 0
        for line in data.decode().splitlines():
            if not line.strip():
                continue
            if line == "BAD":
                report.warn("damaged data skipped", code="damaged")
                continue
            given += 1
            if counter is not None:
                counter[0] = given
            stamp = "1601-01-01T00:00:00.000000Z" if line == "ODD" else line.split()[1]
            report.records += 1
            report.see_time(stamp)
            if given > skip:
                yield Record(kind=ArtifactKind.EVTX, path=artifact.path, fields={"line": line}, raw=line,
                             timestamp=stamp)


def chunked(lines_per_chunk: list[list[str]]) -> bytes:
    out = bytearray(b"H" * FILE_HEADER)
    for lines in lines_per_chunk:
        block = "".join(f"{line}\n" for line in lines).encode()
        assert len(block) < CHUNK
        out += block + b" " * (CHUNK - 1 - len(block)) + b"\n"
    return bytes(out)


def synthetic(number: int, chunks: int, bad_at: int | None = None, odd_at: int | None = None) -> bytes:
    pages = []
    for chunk in range(chunks):
        lines = [f"{number}-{chunk}-{i} 2024-03-{1 + chunk % 28:02d}T10:{i % 60:02d}:00.000000Z" for i in range(40)]
        if chunk == bad_at:
            lines.insert(7, "BAD")
        if chunk == odd_at:
            lines.insert(3, "ODD")
        pages.append(lines)
    return chunked(pages)


def serial(tree: HostTree, artifacts: list[Artifact]) -> list[tuple[list[Record], ParseReport]]:
    out = []
    for artifact in artifacts:
        report = ParseReport(artifact.path)
        records = list(parse_all(TextChunks(), tree, artifact, report, PrefilterSpec("all")))
        out.append((records, report))
    return out


def in_workers(tree: HostTree, artifacts: list[Artifact], stop_early: set[str] = frozenset()
               ) -> list[tuple[list[Record], ParseReport]]:
    pool = RangePool(2, tree, TextChunks(), RecordGate([]), artifacts)
    assert pool.executor is not None
    out = []
    try:
        for artifact in artifacts:
            report = ParseReport(artifact.path)
            records = []
            for record in pool.records(artifact, report):
                records.append(record)
                if artifact.path in stop_early and len(records) == 5:
                    break  # the caller stopped reading this file (an internal error): the next are unharmed
            out.append((records, report))
    finally:
        pool.close()
    return out


def same(left: list[tuple[list[Record], ParseReport]], right: list[tuple[list[Record], ParseReport]]) -> None:
    """Equal records (times in canonical form, as the engine gives them to detectors) and reports."""
    assert [[(r.path, r.raw, canonical(r.timestamp)) for r in records] for records, _ in left] == \
           [[(r.path, r.raw, canonical(r.timestamp)) for r in records] for records, _ in right]
    assert [report for _, report in left] == [report for _, report in right]


@needs_fork
def test_ranges_in_workers_equal_the_serial_read(tmp_path: Path) -> None:
    files = {
        "small.evtx": synthetic(1, 3),
        "large.evtx": synthetic(2, 2 * RANGE_CHUNKS + 5),  # three ranges
        "empty.evtx": chunked([[]]),
        "damaged-late.evtx": synthetic(3, 2 * RANGE_CHUNKS + 2, bad_at=RANGE_CHUNKS + 4),  # second range
        "odd-time.evtx": synthetic(4, RANGE_CHUNKS + 2, odd_at=RANGE_CHUNKS + 1),
        "tail.evtx": synthetic(5, RANGE_CHUNKS + 1) + b"9-9-9 2024-05-01T00:00:00.000000Z\n",  # a scrap
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    tree = DirectoryTree(tmp_path)
    artifacts = [Artifact(ArtifactKind.EVTX, name, len(data)) for name, data in files.items()]
    expected = serial(tree, artifacts)
    assert expected[1][1].records == (2 * RANGE_CHUNKS + 5) * 40
    assert [w.code for w in expected[3][1].warnings] == ["damaged"]
    assert [w.code for w in expected[4][1].warnings] == ["impossible-time"]
    assert [w.code for w in expected[2][1].warnings] == ["empty"]
    same(in_workers(tree, artifacts), expected)


@needs_fork
def test_a_file_left_half_read_does_not_shift_the_next(tmp_path: Path) -> None:
    files = {"first.evtx": synthetic(1, 2 * RANGE_CHUNKS + 1), "second.evtx": synthetic(2, RANGE_CHUNKS + 3)}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    tree = DirectoryTree(tmp_path)
    artifacts = [Artifact(ArtifactKind.EVTX, name, len(data)) for name, data in files.items()]
    got = in_workers(tree, artifacts, stop_early={"first.evtx"})
    same(got[1:], serial(tree, artifacts)[1:])


@needs_fork
def test_large_files_that_give_records_are_hashed_by_a_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {"large.evtx": synthetic(2, 2 * RANGE_CHUNKS + 5), "small.evtx": synthetic(1, 3),
             "empty.evtx": chunked([[]])}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    tree = DirectoryTree(tmp_path)
    artifacts = [Artifact(ArtifactKind.EVTX, name, len(data)) for name, data in files.items()]
    monkeypatch.setattr(pool_module, "HASH_IN_WORKER", len(files["small.evtx"]) + 1)
    got = in_workers(tree, artifacts)
    assert got[0][1].sha256 == hashlib.sha256(files["large.evtx"]).hexdigest()
    # small files: this parser keeps no bytes of a whole-file range (``RangeRead.whole``), so not hashed
    assert got[1][1].sha256 is None and got[2][1].sha256 is None
    got[0][1].sha256 = None
    same(got, serial(tree, artifacts))


# --- real EVTX: damage skipped in a worker's range is worded by the caller -----------------------------


SAMPLES = CORPUS / "evtx" / "omerbenamram-evtx"


def real_evtx(parser: EvtxParser, tree: HostTree, artifacts: list[Artifact], workers: int
              ) -> list[tuple[list[Record], ParseReport]]:
    if workers == 1:
        out = []
        for artifact in artifacts:
            report = ParseReport(artifact.path)
            out.append((list(parse_all(parser, tree, artifact, report, PrefilterSpec("all"))), report))
        return out
    pool = RangePool(workers, tree, parser, RecordGate([lambda channel, event_id: True]), artifacts)
    assert pool.executor is not None
    try:
        got = []
        for artifact in artifacts:
            report = ParseReport(artifact.path)
            got.append((list(pool.records(artifact, report)), report))
        return got
    finally:
        pool.close()


@needs_fork
@pytest.mark.skipif(not (SAMPLES / "security.evtx").is_file() or not (SAMPLES / "sysmon.evtx").is_file(),
                    reason=f"shared EVTX samples absent: {SAMPLES}")
def test_damage_in_ranges_is_worded_by_the_caller_without_reading_again(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    big = bytearray((SAMPLES / "security.evtx").read_bytes())
    assert len(ranges_of(len(big))) == 2
    late = bytearray(big)
    at = FILE_HEADER + RANGE_CHUNKS * CHUNK  # the second range's first chunk: its last good record is in the first
    late[at:at + 8] = b"XXXXXXXX"
    early = bytearray(big)
    early[FILE_HEADER:FILE_HEADER + 8] = b"XXXXXXXX"  # the very first chunk: no record before it
    files = {"late.evtx": bytes(late), "early.evtx": bytes(early),
             "sysmon.evtx": (SAMPLES / "sysmon.evtx").read_bytes(), "whole.evtx": bytes(big)}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    tree = DirectoryTree(tmp_path)
    artifacts = [Artifact(ArtifactKind.EVTX, name, len(data)) for name, data in files.items()]
    expected = real_evtx(EvtxParser(), tree, artifacts, 1)
    damaged = [report.warnings[0].message for _, report in expected[:2]]
    assert "after record" in damaged[0] and "chunk number 32" in damaged[0]
    assert "before the first record" in damaged[1]
    assert [w.code for w in expected[2][1].warnings] and not expected[3][1].warnings
    read_again: list[str] = []
    serial_read = pool_module.parse_all

    def spy(parser: EvtxParser, tree: HostTree, artifact: Artifact, *args: object, **kwargs: object
            ) -> Iterator[Record]:
        read_again.append(artifact.path)
        return serial_read(parser, tree, artifact, *args, **kwargs)  # type: ignore[arg-type]
    monkeypatch.setattr(pool_module, "parse_all", spy)
    got = real_evtx(EvtxParser(), tree, artifacts, 2)
    assert read_again == []  # damage alone no longer sends a file back to the caller
    assert [[(r.record, r.raw) for r in records] for records, _ in got] == \
           [[(r.record, r.raw) for r in records] for records, _ in expected]
    # a file read whole by one worker range that gave records was hashed there (the serial read leaves it to
    # the caller): the same digest as the file's
    hashed = {report.path: report.sha256 for _, report in got if report.sha256 is not None}
    assert hashed == {name: hashlib.sha256(data).hexdigest() for name, data in files.items()
                      if len(ranges_of(len(data))) == 1}
    assert "sysmon.evtx" in hashed
    for _, report in got:
        report.sha256 = None
    assert [report for _, report in got] == [report for _, report in expected]


# --- real EVTX through assess_host ----------------------------------------------------------------------


def scan_jsonl(root: Path, content: ContentBundle, workers: int) -> str:
    result = assess_host(DirectoryTree(root), content, {"parse_workers": workers})
    out: list[str] = []

    class Sink:
        def write(self, text: str) -> None:
            out.append(text)

    JsonlReporter().write([result], Sink())  # type: ignore[arg-type]
    return "".join(out)


@needs_fork
@pytest.mark.skipif(not (CORPUS / "evtx-attack-dev").is_dir() or not (CORPUS / "evtx").is_dir(),
                    reason=f"shared EVTX corpus absent: {CORPUS / 'evtx-attack-dev'}")
def test_host_of_real_evtx_is_byte_identical_with_one_and_two_workers(tmp_path: Path) -> None:
    logs = tmp_path / "host" / "Windows" / "System32" / "winevt" / "Logs"
    logs.mkdir(parents=True)
    for number, path in enumerate(sorted((CORPUS / "evtx-attack-dev").rglob("*.evtx"))[:120]):
        shutil.copyfile(path, logs / f"{number:03d}-{path.name[-50:]}")
    samples = CORPUS / "evtx" / "omerbenamram-evtx"
    for name in ("security.evtx", "sysmon.evtx", "sample_with_a_bad_chunk_magic.evtx",
                 "sample-with-zero-data-size-event.evtx"):
        if (samples / name).is_file():
            shutil.copyfile(samples / name, logs / name)
    big = (samples / "security.evtx").read_bytes()
    (logs / "cut.evtx").write_bytes(big[: FILE_HEADER + CHUNK * 20 + 1000])  # truncated
    (logs / "zero.evtx").write_bytes(b"")
    content = load_content(ContentBundle(ContentSpec()))
    one = scan_jsonl(tmp_path / "host", content, 1)
    two = scan_jsonl(tmp_path / "host", content, 2)
    assert '"evtx"' in one and "truncated" in one and '"detector":"sigma"' in one  # hits judged in workers
    assert one == two
