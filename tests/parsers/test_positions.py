"""The column gate placed in the block scan (``parsers/positions.py``): property tests that it finds every IIS
line on which a requirement holds, on generated requirements and lines (synthetic).

Requirements: terms scoped to one or two columns or to none, literals that overlap (``/owa/`` and
``/powershell``), exclusions of whole values and of prefixes, columns named twice. Lines: values drawn from
the literals and their near misses, in the right and the wrong columns, with runs of spaces, leading
spaces, ``+`` in the request-header columns, ``-``, CRLF and LF, missing and extra columns, mixed case.
The truth is worked out from the values the W3C parser gives (``+`` read as a space, ``-`` as empty), as
the column gate reads them (``columns.py``); the placed scan must make a candidate of every line on which
one holds, and turn most of the others away. The end-to-end check (the records the shipped and SigmaHQ's
rules keep) is in ``test_columns.py``.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from exhunt.detectors.files.samples import MemoryTree
from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.parsers import positions
from exhunt.parsers.base import ParseReport
from exhunt.parsers.columns import ColumnGate, Term
from exhunt.parsers.pool import PrefilterSpec
from exhunt.parsers.positions import PlacedPrefilter, fields_line, layout_names, placed
from exhunt.parsers.prefilter import BlockPrefilter, _hs, safe_literal
from exhunt.parsers.w3c import W3CParser

pytestmark = pytest.mark.skipif(_hs is None, reason="the placed scan is built with Hyperscan")

NAMES = ("date", "time", "s-ip", "cs-method", "cs-uri-stem", "cs-uri-query", "s-port", "cs-username", "c-ip",
         "cs(User-Agent)", "cs(Referer)", "sc-status", "time-taken", "cs-method")  # cs-method twice: odd
FIELDS_LINE = b"#Fields: " + b" ".join(n.encode() for n in NAMES)
HEAD = b"#Software: Microsoft Internet Information Services 10.0\r\n#Version: 1.0\r\n" + FIELDS_LINE + b"\r\n"
LITERALS = ["/owa/", "/powershell", "/owa/powershell", "post", ".aspx", "/ecp/", "/ecp/default.aspx",
            "securitytoken=", "x-rps-cat", "curl/", "wer/x", "logon.aspx", "ecp/def"]
FILLER = ["GET", "/owa/auth/logon.aspx", "/ecp/DDI/DDIService.svc/GetList", "a=b", "Mozilla/5.0+(Windows)",
          "https://mail/owa/", "-", "443", "10.0.0.1", "200", "/OWA/PowerShell", "/Owa/Auth/Logon.aspx"]


def _requirements(rng: random.Random) -> list[tuple[Term, ...]]:
    fields = sorted({n.lower() for n in NAMES})
    out = []
    for _ in range(rng.randrange(3, 9)):
        terms = []
        for _ in range(rng.randrange(1, 4)):
            where = rng.random()
            scope = None if where < 0.15 else frozenset(rng.sample(fields, 2 if where > 0.85 else 1))
            terms.append(Term(scope, frozenset(rng.sample(LITERALS, rng.randrange(1, 3)))))
        if rng.random() < 0.4:
            values = rng.sample(FILLER + LITERALS, 2)
            terms.append(Term(frozenset({rng.choice(["cs-uri-stem", "cs-method", "cs(user-agent)"])}),
                              frozenset(v.lower() for v in values), rng.choice(["eq", "prefix"])))
        out.append(tuple(terms))
    return out


def _value(rng: random.Random) -> str:
    pick = rng.random()
    if pick < 0.45:
        value = rng.choice(LITERALS)
    elif pick < 0.8:
        value = rng.choice(FILLER)
    else:
        value = rng.choice(FILLER) + rng.choice(LITERALS) + rng.choice(["", "/x", ".js", "+y"])
    return value.upper() if rng.random() < 0.2 else value


def _line(rng: random.Random) -> bytes:
    width = len(NAMES) + rng.choice([0, 0, 0, 0, -3, 2])
    values = ["2021-03-04", "00:00:01", *(_value(rng) for _ in range(width - 2))]
    separator = "  " if rng.random() < 0.1 else " "
    text = (" " if rng.random() < 0.05 else "") + separator.join(values)
    return text.encode() + (b"\r\n" if rng.random() < 0.7 else b"\n")


def _values(line: bytes) -> list[str]:
    """The values the W3C parser reads from a line (``w3c.py``), padded to the header's width."""
    values = [v for v in line.decode().rstrip("\r\n").split(" ") if v]
    values = ["" if v == "-" else v for v in values]
    for index, name in enumerate(NAMES):
        if name.startswith("cs(") and index < len(values):
            values[index] = values[index].replace("+", " ")
    return values + [""] * (len(NAMES) - len(values))


def _holds(requirement: tuple[Term, ...], line: bytes) -> bool:
    """Whether the requirement holds on the line as the column gate reads it (safe literals; an exclusion
    only where its field is one column)."""
    values = _values(line)
    for term in requirement:
        if term.exclude:
            at = [i for i, n in enumerate(NAMES) if term.fields and n.lower() in term.fields]
            if len(term.fields or ()) == 1 and len(at) == 1:
                value = values[at[0]].lower() if at[0] < len(values) else ""
                if (value.startswith(tuple(term.literals)) if term.exclude == "prefix"
                        else value in term.literals):
                    return False
            continue
        literals = [safe_literal(lit).decode() for lit in term.literals]
        if term.fields is None:
            if not any(lit in line.decode().lower() for lit in literals):
                return False
            continue
        columns = [i for i, n in enumerate(NAMES) if n.lower() in term.fields]
        if not any(lit in values[i].lower() for i in columns for lit in literals):
            return False
    return True


def _candidates(prefilter: BlockPrefilter, block: bytes) -> set[int]:
    marks = prefilter.marks(block)
    return {block.rfind(b"\n", 0, pos) + 1 for pos in marks.matches}


def test_the_placed_scan_finds_every_line_a_requirement_holds_on() -> None:
    results = [found for seed in range(24) if (found := _check(seed)) is not None]
    assert len(results) >= 16, "most sets of requirements can be placed"
    held = sum(h for h, _, _ in results)
    assert held > 300, "requirements hold on many lines"
    assert sum(a for _, a, _ in results) > 0.5 * sum(o for _, _, o in results), "most others are turned away"


def _check(seed: int) -> tuple[int, int, int] | None:
    """(lines a requirement holds on, other lines turned away, other lines); None when the requirements
    cannot be placed (the former scan is then used)."""
    rng = random.Random(seed)
    requirements = _requirements(rng)
    gate = ColumnGate.build(requirements)
    if gate is None:
        return None  # a requirement that always holds: no gate
    patterns = positions.placed_patterns(gate, gate.plan(layout_names(FIELDS_LINE)))
    if patterns is None:
        return None
    former = _spec().build()
    assert isinstance(former, BlockPrefilter)
    scan = PlacedPrefilter(former, FIELDS_LINE, patterns)
    lines = [_line(rng) for _ in range(600)]
    block = b"".join(lines)
    found = _candidates(scan, block)
    start, held, away = 0, 0, 0
    for line in lines:
        if any(_holds(r, line) for r in requirements):
            held += 1
            assert start in found, (line, requirements)
        elif start not in found:
            away += 1
        start += len(line)
    return held, away, len(lines) - held


def test_fields_line() -> None:
    assert fields_line(HEAD) == FIELDS_LINE
    assert fields_line(FIELDS_LINE + b"\n") == FIELDS_LINE
    assert fields_line(b"#fields: date time cs-uri-stem\n") == b"#fields: date time cs-uri-stem"
    assert fields_line(b"#Fields: DateTime,RequestId,UrlStem\r\n") is None  # Exchange's CSV logs
    assert fields_line(b"#Fields: [date time]\n") is None  # read with the brackets removed: not placed
    assert fields_line(b"#Fields: date time\x00\n") is None
    assert fields_line(b"#Fields: date t\xc3\xa9\n") is None
    assert fields_line(b"#Software: x\n") is None
    assert fields_line(b"#Fields: date time") is None  # the line does not end in the head


def _spec() -> PrefilterSpec:
    stem = (Term(frozenset({"cs-uri-stem"}), frozenset({"/ecp/"})),
            Term(frozenset({"cs-uri-stem"}), frozenset({"/owa/auth/logon.aspx"}), "eq"))
    return PrefilterSpec("literals", ("/ecp/",), ((frozenset({"/ecp/"}),),), (stem,))


def test_placed_per_layout_and_back_to_the_former_scan_in_a_block_with_another_layout() -> None:
    former = _spec().build()
    assert isinstance(former, BlockPrefilter) and former.columns is not None
    scan = placed(former, HEAD)
    assert isinstance(scan, PlacedPrefilter) and scan.former is former
    assert placed(former, HEAD) is scan  # kept per layout
    assert placed(former, b"#Fields: a,b,c\n") is former
    other = b"#Fields: date time cs-uri-stem\r\n"
    assert scan.fits(HEAD, [0, HEAD.index(b"#Version"), HEAD.index(b"#Fields")], len(HEAD))
    block = HEAD + b"2021-03-04 00:00:00 x\r\n" + other
    assert not scan.fits(block, [block.index(other)], len(block))
    nul = b"#Fie\x00lds: x\n"
    assert not scan.fits(nul, [0], len(nul))
    assert "_placed" not in former.__getstate__()  # built where used, never shipped to a worker


def test_an_exclusion_turns_its_requirement_away_on_its_line_only() -> None:
    former = _spec().build()
    assert isinstance(former, BlockPrefilter)
    scan = placed(former, HEAD)
    lines = [b"2021-03-04 00:00:00 1.2.3.4 GET /ecp/x.aspx -\r\n",
             b"2021-03-04 00:00:00 1.2.3.4 GET /ecp/ -\r\n",
             b"2021-03-04 00:00:00 1.2.3.4 GET /owa/auth/logon.aspx /ecp/\r\n",  # '/ecp/' not in the stem
             b"2021-03-04 00:00:00 1.2.3.4 GET /ecp/ /ecp/\n"]
    block = b"".join(lines)
    found = _candidates(scan, block)
    starts = [sum(len(x) for x in lines[:i]) for i in range(len(lines))]
    assert found == {starts[0], starts[1], starts[3]}
    excluded = (Term(frozenset({"cs-uri-stem"}), frozenset({"/ecp/"})),
                Term(frozenset({"cs-uri-stem"}), frozenset({"/ecp/"}), "eq"))
    gate = ColumnGate.build([excluded])
    assert gate is not None
    patterns = positions.placed_patterns(gate, gate.plan(layout_names(FIELDS_LINE)))
    assert patterns is not None
    only = PlacedPrefilter(former, FIELDS_LINE, patterns)
    assert _candidates(only, block) == {starts[0]}  # the stem '/ecp/' itself is excluded


IIS_PATH = "C/inetpub/logs/LogFiles/W3SVC1/u_ex210303.log"
OTHER_LAYOUT = b"#Fields: date time cs-method cs-uri-stem cs-uri-query\r\n"  # no s-ip: the stem one column left


def _parse(data: bytes, place: bool, block_size: int | None = None) -> list[int]:
    """The lines the W3C parser makes records of with the ``/ecp/``-in-the-stem requirement (``_spec``)."""
    tree = MemoryTree({IIS_PATH: data})
    artifact = Artifact(ArtifactKind.IIS, IIS_PATH, len(data))
    parser = W3CParser(block_size=block_size, place=place)
    return [r.line or 0 for r in parser.parse(tree, artifact, ParseReport(IIS_PATH), _spec().build())]


def _benign(count: int, other: bool = False) -> bytes:
    ip = b"" if other else b"10.0.0.5 "
    return b"".join(b"2021-03-03 00:00:%02d %sGET /owa/auth/logon.aspx a=%d\r\n" % (n % 60, ip, n)
                    for n in range(count))


ATTACK = b"2021-03-03 00:01:00 POST /ecp/y.js -\r\n"  # written under the other layout


def test_a_new_layout_in_a_later_block_keeps_the_former_scan_to_the_end_of_the_file() -> None:
    """Found in review: the former scan was used for the block holding the new header only, and the old
    layout's columns for the blocks after it, so an attack line written there was lost."""
    data = HEAD + _benign(40) + b"#Software: Microsoft Internet Information Services 10.0\r\n" + OTHER_LAYOUT + \
        _benign(200, other=True) + ATTACK + _benign(20, other=True)
    attack = data[:data.index(ATTACK)].count(b"\n") + 1
    assert len(data) > 8 * 1024
    for block_size in (None, 1024, 4096):
        assert attack in _parse(data, place=False, block_size=block_size)
        assert attack in _parse(data, place=True, block_size=block_size), block_size


def test_a_header_written_after_nul_bytes_keeps_the_former_scan() -> None:
    """Found in review: after a crash IIS writes its new header on the line of its preallocated NULs, where no
    directive is seen before the parser cleans the line."""
    data = HEAD + _benign(30) + b"\x00" * 300 + OTHER_LAYOUT + ATTACK
    attack = data.count(b"\n")
    assert attack in _parse(data, place=False)
    assert attack in _parse(data, place=True)


def test_patterns_are_bounded_before_they_are_built(monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in review: three literals on each of several columns made 6 ** columns patterns before the
    bound was checked (seconds and hundreds of MB): now a line pattern, and no more than the bound is built."""
    names = tuple(f"c{n}" for n in range(8))
    requirement = tuple(Term(frozenset({name}), frozenset({f"{lit}{n}"})) for n, name in enumerate(names)
                        for lit in ("aaa", "bbb", "ccc"))
    gate = ColumnGate.build([requirement])
    assert gate is not None
    built = [0]

    def product(*iterables: list[bytes]) -> Iterator[tuple[bytes, ...]]:
        for item in itertools.product(*iterables):
            built[0] += 1
            assert built[0] <= 4 * positions.MAX_PATTERNS, "patterns built past the bound"
            yield item

    monkeypatch.setattr(positions, "itertools", SimpleNamespace(product=product, permutations=itertools.permutations))
    patterns = positions.placed_patterns(gate, gate.plan(names))
    assert patterns is not None and len(patterns) <= positions.MAX_PATTERNS
    assert not any(p.startswith(b"^") for p, _, _ in patterns)  # the line pattern, fields left out


def test_late_columns_and_many_layouts_are_not_placed() -> None:
    names = (*(f"x{n}" for n in range(positions.MAX_COLUMN)), "cs-uri-stem")
    gate = ColumnGate.build([(Term(frozenset({"cs-uri-stem"}), frozenset({"/ecp/"})),)])
    assert gate is not None
    patterns = positions.placed_patterns(gate, gate.plan(names))
    assert patterns is not None and not any(p.startswith(b"^") for p, _, _ in patterns)
    shared = _spec().build()
    assert isinstance(shared, BlockPrefilter)
    former = shared._clone()  # none placed yet
    built = {placed(former, b"#Fields: date time x%d cs-uri-stem\n" % n) for n in range(positions.MAX_PLACED + 5)}
    assert sum(isinstance(b, PlacedPrefilter) for b in built) == positions.MAX_PLACED
