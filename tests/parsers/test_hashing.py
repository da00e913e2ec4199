"""parse_in_worker hashes a text log that gives records from the bytes its parser reads (HashingTree): what
was read before the first record is read again, the rest is hashed in the same pass. The whole file is read
again only when the parser did not read it whole, in order. Logs are SYNTHETIC (logfixtures.py)."""

from __future__ import annotations

import hashlib
import io
import random
from pathlib import Path
from typing import Any, BinaryIO, cast

import pytest

from exhunt.detectors.files.samples import MemoryTree
from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.parsers import pool
from exhunt.parsers.base import ParseReport
from exhunt.parsers.hashing import HashingReader, HashingTree
from exhunt.parsers.oab import OabParser
from exhunt.parsers.pool import PrefilterSpec, parse_in_worker
from exhunt.parsers.textblocks import LineReader
from exhunt.parsers.textfile import BOM
from exhunt.parsers.w3c import W3CParser
from exhunt.sources.directory import DirectoryTree
from logfixtures import IIS_ATTACKS, iis_header, iis_line, oab_line

IIS_PATH = "C/inetpub/logs/LogFiles/W3SVC1/u_ex210303.log"
OAB_PATH = "C/Program Files/Microsoft/Exchange Server/V15/Logging/OABGeneratorLog/OABGenerator_2021030300-1.LOG"
DAY = "2021-03-03"
LITERALS = PrefilterSpec("literals", ("/owa/auth/x.js", "/ecp/y.js"), ((frozenset({"/owa/auth/x.js"}),),
                                                                       (frozenset({"/ecp/y.js"}),)))


def iis_log(lines: int = 400, attacks_every: int = 97) -> bytes:
    rng = random.Random(7)
    out = [iis_header(DAY)]
    for second in range(lines):
        if second % attacks_every == attacks_every - 1:
            out.append(IIS_ATTACKS[second % 2].format(d=DAY, t=f"00:{second // 60 % 60:02d}:{second % 60:02d}"))
        else:
            out.append(iis_line(rng, DAY, second))
        out.append("\r\n")
    return "".join(out).encode()


@pytest.fixture
def rereads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths hashed by reading them a second time (``file_sha256``)."""
    seen: list[str] = []
    original = pool.file_sha256

    def counted(tree: object, path: str) -> str | None:
        seen.append(path)
        return original(tree, path)  # type: ignore[arg-type]

    monkeypatch.setattr(pool, "file_sha256", counted)
    return seen


class _Tracked(io.BytesIO):
    read_to = 0  # the position at close

    def close(self) -> None:
        if not self.closed:
            self.read_to = self.tell()
        super().close()


class CountingTree(MemoryTree):
    """Keeps every handle it opens, so that a test sees how much of a file each open read."""

    def __init__(self, files: dict[str, bytes]) -> None:
        super().__init__(files)
        self.handles: list[_Tracked] = []

    def open(self, path: str) -> BinaryIO:
        handle = _Tracked(self.files[path])
        self.handles.append(handle)
        return cast(BinaryIO, handle)


def run(data: bytes, spec: PrefilterSpec = LITERALS, parser: W3CParser | OabParser | None = None,
        kind: ArtifactKind = ArtifactKind.IIS, path: str = IIS_PATH) -> str | None:
    tree = MemoryTree({path: data})
    artifact = Artifact(kind, path, len(data))
    records, report = parse_in_worker(parser or W3CParser(), tree, artifact, spec)
    assert records, "the file must give records for parse_in_worker to hash it"
    unhashed, unhashed_report = parse_in_worker(parser or W3CParser(), tree, artifact, spec, hash_it=False)
    assert unhashed == records and unhashed_report.sha256 is None  # hashing changes nothing else
    return report.sha256


@pytest.mark.parametrize("spec", [LITERALS, PrefilterSpec("all")], ids=["literals", "all"])
def test_a_log_read_whole_is_hashed_in_the_same_pass(spec: PrefilterSpec, rereads: list[str]) -> None:
    data = iis_log()
    assert run(data, spec) == hashlib.sha256(data).hexdigest()
    assert rereads == []


def test_only_what_was_read_before_the_first_record_is_read_again(rereads: list[str]) -> None:
    data = iis_log(2000, attacks_every=1500)
    first = min(i for i in (data.find(b"/owa/auth/x.js"), data.find(b"/ecp/y.js")) if i >= 0)
    assert 8 * 4096 < first < len(data) - 8 * 4096
    tree = CountingTree({IIS_PATH: data})
    records, report = parse_in_worker(W3CParser(block_size=4096), tree,
                                      Artifact(ArtifactKind.IIS, IIS_PATH, len(data)), LITERALS)
    assert records and report.sha256 == hashlib.sha256(data).hexdigest()
    parse, catch_up = tree.handles  # the head check reads through the parse handle: no third open
    assert parse.read_to == len(data) and first < catch_up.read_to <= first + 2 * 4096
    assert rereads == []


def test_a_log_without_records_is_not_hashed(rereads: list[str]) -> None:
    data = iis_log(attacks_every=10_000)
    tree = CountingTree({IIS_PATH: data})
    records, report = parse_in_worker(W3CParser(), tree, Artifact(ArtifactKind.IIS, IIS_PATH, len(data)),
                                      LITERALS)
    assert records == [] and report.sha256 is None
    assert len(tree.handles) == 1  # head and lines through one handle: nothing read again, nothing hashed
    assert rereads == []


def test_a_log_with_a_bom_is_hashed_with_its_bom(rereads: list[str]) -> None:
    data = BOM + iis_log()
    assert run(data) == hashlib.sha256(data).hexdigest()
    assert rereads == []


def test_a_line_longer_than_the_read_buffer_is_skipped_but_hashed(rereads: list[str]) -> None:
    lines = iis_log().split(b"\r\n")
    lines.insert(150, DAY.encode() + b" 00:00:00 " + b"x" * 5000)  # after the first record (line 100)
    data = b"\r\n".join(lines)
    tree = MemoryTree({IIS_PATH: data})
    artifact = Artifact(ArtifactKind.IIS, IIS_PATH, len(data))
    records, report = parse_in_worker(W3CParser(block_size=1024), tree, artifact, LITERALS)
    assert records and any(w.code == "too-long" for w in report.warnings)
    assert report.sha256 == hashlib.sha256(data).hexdigest()
    assert rereads == []


def test_a_truncated_last_line_is_hashed(rereads: list[str]) -> None:
    data = iis_log() + IIS_ATTACKS[0].format(d=DAY, t="23:59:59").encode()[:60]
    tree = MemoryTree({IIS_PATH: data})
    records, report = parse_in_worker(W3CParser(), tree, Artifact(ArtifactKind.IIS, IIS_PATH, len(data)),
                                      PrefilterSpec("all"))
    assert records and any(w.code == "truncated" for w in report.warnings)
    assert report.sha256 == hashlib.sha256(data).hexdigest()
    assert rereads == []


def test_an_oab_log_is_hashed_in_the_same_pass(rereads: list[str]) -> None:
    rng = random.Random(3)
    data = "".join(oab_line(rng, DAY, s, "Download failed") + "\r\n" for s in range(50)).encode()
    assert run(data, PrefilterSpec("all"), OabParser(), ArtifactKind.OABGENERATOR, OAB_PATH) == \
        hashlib.sha256(data).hexdigest()
    assert rereads == []


def test_a_real_file_is_hashed_in_the_same_pass(tmp_path: Path, rereads: list[str]) -> None:
    data = iis_log(3000)
    (tmp_path / IIS_PATH).parent.mkdir(parents=True)
    (tmp_path / IIS_PATH).write_bytes(data)
    tree = DirectoryTree(tmp_path)
    records, report = parse_in_worker(W3CParser(block_size=4096), tree,
                                      Artifact(ArtifactKind.IIS, IIS_PATH, len(data)), LITERALS)
    assert records and report.sha256 == hashlib.sha256(data).hexdigest()
    assert rereads == []


class _FailsOnce(MemoryTree):
    """A tree whose first read past ``limit`` bytes of a file fails, as a damaged disk or a lost share does."""

    def __init__(self, files: dict[str, bytes], limit: int) -> None:
        super().__init__(files)
        self.limit, self.failed = limit, False

    def open(self, path: str) -> BinaryIO:
        return cast(BinaryIO, _Failing(self, self.files[path]))


class _Failing(io.BytesIO):
    def __init__(self, tree: _FailsOnce, data: bytes) -> None:
        super().__init__(data)
        self.tree = tree

    def readinto(self, buffer: Any) -> int:
        if not self.tree.failed and self.tell() + len(buffer) > self.tree.limit:
            self.tree.failed = True
            raise OSError("I/O error")
        return super().readinto(buffer)


def test_a_parser_that_stops_early_leaves_the_hash_to_a_second_read(rereads: list[str]) -> None:
    data = iis_log(1000)
    tree = _FailsOnce({IIS_PATH: data}, len(data) // 2)
    artifact = Artifact(ArtifactKind.IIS, IIS_PATH, len(data))
    records, report = parse_in_worker(W3CParser(block_size=4096), tree, artifact, LITERALS)
    assert records and any(w.code == "unreadable" for w in report.warnings) and not report.failed
    assert all(record.offset < len(data) // 2 for record in records)  # type: ignore[operator]
    assert report.sha256 == hashlib.sha256(data).hexdigest()
    assert rereads == [IIS_PATH]

    hashing = HashingTree(MemoryTree({IIS_PATH: data}), IIS_PATH)
    for _record in W3CParser().parse(hashing, artifact, ParseReport(IIS_PATH), None):
        break  # a consumer that stops
    assert hashing.sha256(len(data)) is None


def test_a_log_without_a_fields_header_gives_nothing_to_hash(rereads: list[str]) -> None:
    data = b"\r\n".join(line for line in iis_log().split(b"\r\n") if not line.startswith(b"#Fields"))
    tree = MemoryTree({IIS_PATH: data})
    records, report = parse_in_worker(W3CParser(), tree, Artifact(ArtifactKind.IIS, IIS_PATH, len(data)),
                                      LITERALS)
    assert records == [] and report.not_understood and report.sha256 is None  # not cited: not hashed
    assert rereads == []


def test_the_second_read_hashes_a_file_the_parser_did_not_read_whole(monkeypatch: pytest.MonkeyPatch,
                                                                       rereads: list[str]) -> None:
    data = iis_log()
    artifact = Artifact(ArtifactKind.IIS, IIS_PATH, len(data))
    monkeypatch.setattr(HashingTree, "sha256", lambda self, size: None)
    records, report = parse_in_worker(W3CParser(), MemoryTree({IIS_PATH: data}), artifact, LITERALS)
    assert records and report.sha256 == hashlib.sha256(data).hexdigest()
    assert rereads == [IIS_PATH]


def test_a_size_other_than_the_listed_one_leaves_the_hash_to_a_second_read(rereads: list[str]) -> None:
    data = iis_log()
    artifact = Artifact(ArtifactKind.IIS, IIS_PATH, len(data) - 1)  # the file grew after it was listed
    records, report = parse_in_worker(W3CParser(), MemoryTree({IIS_PATH: data}), artifact, LITERALS)
    assert records and report.sha256 == hashlib.sha256(data).hexdigest()
    assert rereads == [IIS_PATH]


@pytest.mark.parametrize("prefilter", [None, LITERALS], ids=["all-lines", "prefilter"])
@pytest.mark.parametrize("shape", ["plain", "bom", "long-line", "truncated", "no-newline-at-all"])
def test_the_line_reader_reads_every_byte_once_in_order(shape: str, prefilter: PrefilterSpec | None) -> None:
    data = {"plain": iis_log(), "bom": BOM + iis_log(),
            "long-line": iis_log().replace(b"\r\n", b"\r\n" + b"y" * 3000 + b"\r\n", 3),
            "truncated": iis_log()[:-7], "no-newline-at-all": b"#" + b"z" * 5000}[shape]
    reader = HashingReader(io.BytesIO(data))
    report = ParseReport(IIS_PATH)
    lines = LineReader(report, None if prefilter is None else prefilter.build(), block_size=1024).lines(reader)
    assert sum(1 for _ in lines) > 0 or shape == "no-newline-at-all"  # one line, too long: skipped
    assert report.bytes_read == len(data)
    assert reader.sha256(len(data)) == hashlib.sha256(data).hexdigest()


def test_the_reader_gives_a_digest_only_for_a_whole_file_read_in_order() -> None:
    data = bytes(range(256)) * 40
    digest = hashlib.sha256(data).hexdigest()

    def reader(hashing: bool = True) -> HashingReader:
        return HashingReader(io.BytesIO(data), hashing)

    whole = reader()
    assert whole.read(3) == data[:3]
    buffer = bytearray(1000)
    while got := whole.readinto(memoryview(buffer)[10:]):
        assert got <= 990
    assert whole.sha256(len(data)) == digest
    assert whole.sha256(len(data) + 1) is None

    everything = reader()
    assert everything.read() == data and everything.sha256(len(data)) == digest

    late = reader(hashing=False)
    late.read(1234)
    assert late.sha256(len(data)) is None
    late.catch_up(io.BytesIO(data))
    late.read()
    assert late.sha256(len(data)) == digest

    uncaught = reader(hashing=False)
    uncaught.read()
    assert uncaught.sha256(len(data)) is None

    shorter = reader(hashing=False)
    shorter.read(100)
    shorter.catch_up(io.BytesIO(data[:50]))  # the file shrank
    shorter.read()
    assert shorter.sha256(len(data)) is None

    short = reader()
    short.read(len(data))  # every byte, but the end not yet seen
    assert short.sha256(len(data)) is None

    sought = reader()
    sought.read(100)
    sought.seek(0)
    sought.read()
    assert sought.sha256(len(data)) is None

    other = reader()
    other.readline()  # not read through read/readinto: not hashed
    other.read()
    assert other.sha256(len(data)) is None


def test_heads_and_other_files_are_read_past_the_hashing_reader() -> None:
    tree = MemoryTree({IIS_PATH: b"abcdef", "other.log": b"xyz"})
    hashing = HashingTree(tree, IIS_PATH)
    hashing.start()  # nothing opened yet: nothing to hash
    assert hashing.read_head(IIS_PATH, 2) == b"ab" and hashing.readers == []
    with hashing.open("other.log") as handle:
        assert not isinstance(handle, HashingReader) and handle.read() == b"xyz"
    assert hashing.files is tree.files and hashing.name == tree.name  # the rest is the tree's
    with hashing.open(IIS_PATH) as first:
        assert first.read(2) == b"ab"
        hashing.start()
        assert first.read() == b"cdef"
    assert hashing.sha256(6) == hashlib.sha256(b"abcdef").hexdigest()
    with hashing.open(IIS_PATH) as second:
        second.read()
    assert hashing.sha256(6) is None  # opened twice: which read is the file's is not known
