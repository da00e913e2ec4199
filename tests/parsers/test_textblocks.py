"""Newline counting in ``textblocks``: the same answer as ``bytearray.count`` on every range."""

from __future__ import annotations

import random

from exhunt.parsers import textblocks
from exhunt.parsers.textblocks import _newlines


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
