"""Memory per file does not grow with the width of its lines (#14): a parse worker gives back a file's records
only while they hold little raw text; beyond, the caller streams the file (bench/bench_memory.py measures the
whole scan's peak RSS)."""

from __future__ import annotations

from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.parsers.pool import RECORD_BYTES, PrefilterSpec, parse_in_worker
from exhunt.parsers.w3c import W3CParser
from exhunt.sources.base import FileEntry, HostTree
from logfixtures import iis_header

PATH = "C/inetpub/logs/LogFiles/W3SVC1/u_ex210303.log"


class _Tree(HostTree):
    def __init__(self, data: bytes) -> None:
        super().__init__("ex01", "memory")
        self.data = data

    def walk(self):  # type: ignore[no-untyped-def]
        yield FileEntry(PATH, len(self.data))

    def open(self, path: str):  # type: ignore[no-untyped-def]
        import io

        return io.BytesIO(self.data)


def _wide_log(columns: int, size: int) -> bytes:
    header = iis_header("2021-03-03").split("#Fields:")[0] + "#Fields: date time cs-method cs-uri-stem " + \
        " ".join(f"x-c{n}" for n in range(columns - 4)) + "\r\n"
    lines, total, n = [header], len(header), 0
    while total < size:
        line = f"2021-03-03 00:00:{n % 60:02d} POST /ecp/y.js " + " ".join("v" * 3 for _ in range(columns - 4)) + "\r\n"
        lines.append(line)
        total, n = total + len(line), n + 1
    return "".join(lines).encode()


def test_a_worker_does_not_hold_a_wide_files_records() -> None:
    spec = PrefilterSpec("literals", ("/ecp/y.js",), ((frozenset({"/ecp/y.js"}),),))
    wide = _wide_log(500, 2 * RECORD_BYTES)
    records, _ = parse_in_worker(W3CParser(), _Tree(wide), Artifact(ArtifactKind.IIS, PATH, len(wide)), spec)
    assert records is None  # streamed by the caller instead
    narrow = _wide_log(10, RECORD_BYTES // 4)
    records, _ = parse_in_worker(W3CParser(), _Tree(narrow), Artifact(ArtifactKind.IIS, PATH, len(narrow)), spec)
    assert records
