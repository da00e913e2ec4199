"""The literal prefilter: literal preparation, Hyperscan and the pure-Python fallback agree."""

from __future__ import annotations

import io
import random

import pytest

from exhunt.parsers.base import ParseReport, Prefilter
from exhunt.parsers.prefilter import (
    BlockPrefilter,
    HyperscanPrefilter,
    PythonPrefilter,
    build_prefilter,
    hyperscan_available,
    prepare_literals,
    safe_literal,
)
from exhunt.parsers.textblocks import LineReader


@pytest.mark.parametrize(("literal", "expected"), [
    ("ServerInfo~", b"serverinfo~"),
    ("/owa/auth/X.JS", b"/owa/auth/x.js"),
    ("Mozilla/5.0 (compatible; zgrab)", b"(compatible;"),  # IIS writes the spaces as '+'
    ('Request["code"]', b"request["),  # CSV doubles the quotes
    ("/ecp/y.js?foo", b"/ecp/y.js"),  # the pipeline joins stem and query with '?'
    ("%2Fecp", b"%2fecp"),  # no parser decodes %-escapes: the value holds them as the raw line does
    ("a,bcd", b"bcd"),
    ("Ünïcode-pfad", b"code-pfad"),
    ("  ", b""),
])
def test_safe_literal(literal: str, expected: bytes) -> None:
    assert safe_literal(literal) == expected


def test_prepare_literals_sorts_dedupes_and_drops_redundant() -> None:
    assert prepare_literals(["X.js", "/owa/auth/x.js", "x.JS", "ServerInfo~"]) == [b"serverinfo~", b"x.js"]
    assert prepare_literals([]) == []


@pytest.mark.parametrize("literals", [["ab"], ["ServerInfo~", "-"], ["a b c"], [""]])
def test_short_literals_mean_no_prefilter(literals: list[str]) -> None:
    assert build_prefilter(literals) is None


def test_hyperscan_is_used_when_installed() -> None:
    prefilter = build_prefilter(["ServerInfo~"])
    expected = HyperscanPrefilter if hyperscan_available() else PythonPrefilter
    assert isinstance(prefilter, expected)
    assert isinstance(build_prefilter(["ServerInfo~"], force_python=True), PythonPrefilter)


def _block(seed: int) -> bytes:
    rng = random.Random(seed)
    words = [b"GET", b"/owa/", b"SERVERINFO~x", b"serverinfo~", b"x.JS", b"#", b"\n", b"\r\n", b"\n\n",
             b"\n#Fields: a", b"\n\r\n", b"abc", b"ServerInfo", b"~"]
    return b"".join(rng.choice(words) for _ in range(4000))


@pytest.mark.parametrize("seed", range(5))
def test_hyperscan_and_python_find_the_same_marks(seed: int) -> None:
    if not hyperscan_available():
        pytest.skip("hyperscan not installed")
    block = _block(seed)
    literals = [b"serverinfo~", b"x.js"]
    fast = HyperscanPrefilter(literals).marks(memoryview(block))
    slow = PythonPrefilter(literals).marks(block)
    assert fast.matches == slow.matches
    assert fast.directives == slow.directives
    assert fast.blank_lines == slow.blank_lines
    lowered = block.lower()
    expected = sorted(i for lit in literals for i in range(len(block)) if lowered.startswith(lit, i))
    assert fast.matches == expected
    assert fast.directives == [i for i in range(1, len(block)) if block[i - 1:i + 1] == b"\n#"]


def test_empty_literal_set_matches_nothing() -> None:
    prefilter = build_prefilter([])
    assert isinstance(prefilter, BlockPrefilter)
    assert prefilter.scan(b"anything at all\n") == []


class _PlainPrefilter(Prefilter):
    """A prefilter written against the base interface only (no block marks)."""

    def scan(self, block: bytes | memoryview) -> list[int]:
        data = bytes(block).lower()
        return [i for i in range(len(data)) if data.startswith(b"needle", i)]


@pytest.mark.parametrize("prefilter", [_PlainPrefilter(), build_prefilter(["NEEDLE"]),
                                       build_prefilter(["needle"], force_python=True)])
def test_line_reader_with_any_prefilter(prefilter: Prefilter | None) -> None:
    lines = [b"#Fields: x", b"1 first", b"", b"2 hay", b"3 needle here", b"#Date: y", b"4 hay NeEdLe", b"\r",
             b"5 last"]
    data = b"\n".join(lines)  # no newline at the end
    report = ParseReport("f.log")
    got = list(LineReader(report, prefilter, block_size=32).lines(io.BytesIO(data)))
    assert [(t.number, t.data) for t in got if t.candidate] == [(5, b"3 needle here"), (7, b"4 hay NeEdLe")]
    assert [(t.number, t.data) for t in got if t.directive] == [(1, b"#Fields: x"), (6, b"#Date: y")]
    edges = [t.number for t in got if not t.candidate and not t.directive]
    assert {2, 9} <= set(edges) and set(edges) <= {2, 4, 9}  # first and last data lines, block edges
    assert report.records == 5 and report.bytes_read == len(data)
    assert all(data[t.offset:].startswith(t.data) for t in got)
    assert got[-1].terminated is False
    full = ParseReport("f.log")
    every = list(LineReader(full, None, block_size=32).lines(io.BytesIO(data)))
    assert [t.number for t in every] == [1, 2, 4, 5, 6, 7, 9] and full.records == 5


def _lines_through(prefilter: BlockPrefilter, data: bytes) -> list[bytes]:
    report = ParseReport(path="x.log")
    reader = LineReader(report, prefilter, block_size=4096, odd_lines=True)
    return [line.data for line in reader.lines(io.BytesIO(data)) if line.candidate]


@pytest.mark.parametrize("force_python", [False, True])
def test_requirements_gate_passes_exactly_the_lines_some_conjunction_allows(force_python: bool) -> None:
    rng = random.Random(11)
    words = ["POST", "GET", "/ecp/", "/owa/auth/", "x.js", "main.css", "ServerInfo~a", "-", "200", "401"]
    weights = [3, 6, 2, 2, 1, 1, 0.05, 8, 8, 3]
    lines = [f"2021-03-03 {n:05d} " + " ".join(rng.choices(words, weights)[0] for _ in range(6))
             for n in range(3000)]
    data = ("\n".join(lines) + "\n").encode()
    requirements = [
        (frozenset({"post"}), frozenset({"x.js", "main.css"}), frozenset({"/ecp/", "/owa/auth/"})),
        (frozenset({"ServerInfo~"}),),
    ]
    literals = {"x.js", "main.css", "ServerInfo~"}
    prefilter = build_prefilter(sorted(literals), requirements=requirements, force_python=force_python)
    assert prefilter is not None

    def allowed(line: str) -> bool:
        low = line.lower()
        return any(all(any(lit.lower() in low for lit in group) for group in conj) for conj in requirements)

    expected = [line.encode() for line in lines if allowed(line)]
    assert 0 < len(expected) < len(lines) // 2
    assert _lines_through(prefilter, data) == expected


def test_requirement_with_an_unscannable_group_still_gates_on_the_others() -> None:
    prefilter = build_prefilter(["ServerInfo~"], requirements=[(frozenset({"ServerInfo~"}), frozenset({"-"}))])
    assert prefilter is not None
    assert _lines_through(prefilter, b"1 a ServerInfo~x b\n2 c d\n") == [b"1 a ServerInfo~x b"]


def test_lines_that_do_not_look_like_records_are_always_looked_at() -> None:
    prefilter = build_prefilter(["ServerInfo~"])
    assert prefilter is not None
    data = b"1 ok\n2 ok\ngarbage here\n3 ok\n\x00\x01binary\n4 ServerInfo~x\n5 ok\n"
    assert _lines_through(prefilter, data) == [b"garbage here", b"\x00\x01binary", b"4 ServerInfo~x"]


@pytest.mark.parametrize("prefilter", [None, build_prefilter(["needle"])])
@pytest.mark.parametrize("hint", [None, 0, 10, "exact", 1 << 30])
@pytest.mark.parametrize("prefix", [0, 2, 3, 100, "all"])
def test_size_hint_and_prefix_change_nothing(prefilter: Prefilter | None, hint: object, prefix: object) -> None:
    """The buffer sized from a (possibly wrong) size hint, grown while blocks fill it, and a head already
    read by the caller give the same lines, numbers, offsets and counts as the plain read."""
    rng = random.Random(7)
    lines = [b"#Fields: x"] + [b"%d %s" % (i, rng.choice((b"hay", b"needle", b"x" * 3000, b""))) for i in range(400)]
    data = b"\xef\xbb\xbf" + b"\r\n".join(lines) + b"\r\n" + b"9 needle" * 9000  # a long last line, no newline

    def read(size_hint: int | None, head: int) -> tuple[list[tuple[int, int, bytes, bool, bool]], int, int]:
        report = ParseReport("f.log")
        handle = io.BytesIO(data)
        already = handle.read(head)
        got = LineReader(report, prefilter, block_size=1 << 16).lines(handle, size_hint, already)
        return [(t.number, t.offset, t.data, t.candidate, t.terminated) for t in got], report.records, \
            report.bytes_read

    expected = read(None, 0)
    size_hint = len(data) if hint == "exact" else hint
    assert isinstance(size_hint, int | None)
    head = len(data) if prefix == "all" else prefix
    assert isinstance(head, int)
    assert read(size_hint, head) == expected
