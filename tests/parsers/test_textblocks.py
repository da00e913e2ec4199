"""Newline counting in ``textblocks``: the same answer as ``bytearray.count`` on every range."""

from __future__ import annotations

import io
import random

import pytest

from exhunt.parsers import textblocks
from exhunt.parsers.base import ParseReport, Prefilter
from exhunt.parsers.prefilter import build_prefilter
from exhunt.parsers.textblocks import LineReader, _newlines


def test_newlines_match_count_on_any_range() -> None:
    rng = random.Random(13)
    size = 3 * textblocks._COUNT_PIECE + 1234  # several pieces, the last one short
    buf = bytearray(rng.choice(b"ab\n\r#") for _ in range(size))
    edges = [0, 1, 4095, 4096, 4097, textblocks._COUNT_PIECE - 1, textblocks._COUNT_PIECE,
             textblocks._COUNT_PIECE + 1, size - 1, size]
    ranges = [(a, b) for a in edges for b in edges if a <= b]
    ranges += [tuple(sorted((rng.randrange(size + 1), rng.randrange(size + 1)))) for _ in range(50)]
    for start, end in ranges:
        assert _newlines(buf, start, end) == buf.count(b"\n", start, end), (start, end)


def test_newlines_of_lines_only_and_of_none() -> None:
    assert _newlines(bytearray(b"\n" * 100_000), 0, 100_000) == 100_000
    assert _newlines(bytearray(b"x" * 100_000), 0, 100_000) == 0
    assert _newlines(bytearray(b"\n\n"), 1, 1) == 0


def _read_both(data: bytes, prefilter: Prefilter | None, odd_lines: bool,
               max_line: int = textblocks.MAX_LINE) -> tuple[tuple[object, ...], tuple[object, ...]]:
    """What ``LineReader.whole`` and ``LineReader.lines`` (from a handle) give for the same file."""
    results = []
    for whole in (True, False):
        report = ParseReport("x.log")
        reader = LineReader(report, prefilter, odd_lines=odd_lines, max_line=max_line)
        lines = reader.whole(data) if whole else reader.lines(io.BytesIO(data), len(data))
        got = [(t.number, t.offset, t.data, t.directive, t.candidate, t.terminated) for t in lines]
        results.append((got, report.records, report.bytes_read, [(w.code, w.line, w.offset) for w in report.warnings]))
    return tuple(results[0]), tuple(results[1])


@pytest.mark.parametrize("prefilter", [None, "python", "hyperscan"])
def test_whole_file_gives_what_reading_from_the_handle_gives(prefilter: str | None) -> None:
    """A small file read at once (``whole``) against the same file read through the buffer: the same lines,
    numbers, offsets, flags, record count, bytes read and warnings, on random files of the awkward bytes
    (BOM, CR, NUL, blank lines, directives, lines that start with neither a digit nor '#', no final newline)."""
    built = None if prefilter is None else build_prefilter(["ab#", "9 x"], force_python=prefilter == "python")
    rng = random.Random(7)
    pieces = [b"\n", b"\r\n", b"#Fields: a b\n", b"2021-01-01 ab# 1\n", b"9 x", b"\x00", b"\r", b" ", b"ab#",
              b"1", b"zz", b"\n\n", b"\xef\xbb\xbf"]
    cases = [b"", b"\n", b"x", b"\xef\xbb\xbf", b"\xef\xbb\xbf#Fields: a\n1 ab#", b"1 9 x\n" * 3, b"#x"]
    cases += [(b"\xef\xbb\xbf" if rng.random() < 0.3 else b"") + b"".join(rng.choice(pieces)
              for _ in range(rng.randrange(1, 60))) for _ in range(400)]
    for data in cases:
        for odd_lines in (False, True):
            whole, streamed = _read_both(data, built, odd_lines)
            assert whole == streamed, data
    long_line = b"1 " + b"y" * 5000 + b" ab#\n2 ab#\n"
    assert _read_both(long_line, built, True, max_line=1000)[0] == _read_both(long_line, built, True, max_line=1000)[1]
