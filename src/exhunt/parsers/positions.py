"""The column gate inside the block scan, for IIS logs: patterns that match only where a requirement's literals
stand in the columns it names.

The column gate (``columns.py``) judges each candidate line in Python, after the line has been found,
decoded and split: on a real server most of the IIS lines that hold the rules' words (every OWA sign-in,
every ECP page) are such candidates, and that per-line work was most of a scan's time. An IIS line's columns
are its runs of non-space bytes, so for one ``#Fields`` layout "literal L in column k" is a regular
expression Hyperscan can run in the same pass as the literals: ``^ *(?:[^ \\n]+ +){k}[^ \\n]*L``. For each
requirement that names columns, its terms are placed in their columns: terms sharing a column are looked for
in one token, in any order, or overlapping (``_token``). A requirement that names no column, or too many
column choices, columns past ``MAX_COLUMN`` or patterns past ``MAX_PATTERNS``, keeps its line pattern, fields
left out (``conjunctions.py``). An exclusion (``not cs-uri-stem = /owa/auth/logon.aspx``) becomes a pattern
of its own, its columns read exactly as the parser reads them, that turns its requirement away on the lines
it matches (its requirement's patterns then run on to the end of the line, where the exclusion's does: a
line is told by its end). The lines so found are the candidates, judged by no Python gate.

Every pattern only ever lets more through than the requirement it stands for: a term that may be anywhere
in the line, a term too short to scan, a third group in one column and the values of an exclusion that the
raw line may write differently (``+``, spaces, ``-``) are left out, which only widens the match. A literal
that ``safe_literal`` kept holds no space or ``+``, so it is in a column's raw token exactly when it is in
the value the record holds (``+`` read as a space, ``-`` as empty). A layout that cannot be so placed (a
requirement with overlapping groups and no column, more patterns than ``MAX_PLACED_PATTERNS`` placed or
``MAX_LAYOUT_PATTERNS`` in all, Hyperscan refusing them) keeps the former scan; so does every layout after
the first ``MAX_PLACED`` of a process (a hostile host's thousands of headers would each cost a compilation).

The layout is taken from the file's first ``#Fields`` line. From the first block that holds another
``#Fields`` line (or a NUL byte: after a crash IIS writes its new header right after the NULs of its
preallocated region, on their line) to the end of the file, the former scan is used (``fits``). Lines that
the former scan made candidates and this one passes over are counted and their edges timed as before, but
no longer examined one by one: like every line that holds no literal, their malformations are not reported
(and a line written out of time order among them no longer moves the file's first or last time).
"""

from __future__ import annotations

import itertools
import math
import re
from typing import TYPE_CHECKING

from exhunt.content.hyperscan_db import compile_database, default_cache
from exhunt.parsers.conjunctions import (
    MAX_GROUPS_IN_PATTERN,
    STRUCTURE,
    _alternation,
    _apart,
    chosen_groups,
    conjunction_patterns,
    scan_marks,
)
from exhunt.parsers.prefilter import BlockMarks, BlockPrefilter, _hs

if TYPE_CHECKING:
    from exhunt.parsers.columns import ColumnGate, ColumnPlan

_TOKEN = rb"[^ \n]*"
_TO_END = rb"[^\n]*$"  # (multi-line mode) on to the end of the line
MAX_CHOICES = 16  # column assignments of one requirement (a field named by several columns multiplies them)
MAX_PATTERNS = 512  # patterns of one requirement placed in columns; more: its line pattern
MAX_PLACED_PATTERNS = 2048  # patterns of one layout placed in columns; more: the former scan
MAX_LAYOUT_PATTERNS = 16384  # patterns of one layout in all (an indicator feed gives one each)
MAX_COLUMN = 64  # a term in a later column is not placed (IIS writes about 30; hostile headers: compile time)
MAX_LAYOUTS = 8  # layouts whose scans are kept per prefilter (a host's IIS logs have one or two)
MAX_PLACED = 32  # layouts placed per prefilter and process; after them, the former scan (hostile hosts)
MAX_FIELDS_LINE = 4096  # a longer '#Fields' line is not placed
_UNSAFE_VALUE = re.compile(rb"[\s+\x00-\x1f\x7f-\xff]")  # an excluded value the raw token may write otherwise


def fields_line(head: bytes) -> bytes | None:
    """The first ``#Fields:`` line of an IIS log's head (its bytes, no line ending), when it names IIS
    columns (no comma: Exchange's CSV logs are not placed) in plain ASCII; else None."""
    at = _fields_at(head)
    if at is None:
        return None
    end = head.find(b"\n", at)
    if end < 0:
        return None
    line = head[at:end].rstrip(b"\r")
    value = line[len(b"#fields:"):]
    if len(line) > MAX_FIELDS_LINE or not line.isascii() or b"," in value or b"\x00" in line or b"\r" in line \
            or value.strip()[:1] in (b"[", b"(", b"'", b'"') or b"'" in value:
        return None
    return line


def _fields_at(head: bytes) -> int | None:
    """Where the first ``#Fields:`` line starts: as IIS writes the name, found without lowering the whole
    head; else in any case."""
    at = _line_start(head, b"#Fields:")
    return at if at is not None else _line_start(head.lower(), b"#fields:")


def _line_start(data: bytes, name: bytes) -> int | None:
    if data.startswith(name):
        return 0
    at = data.find(b"\n" + name)
    return at + 1 if at >= 0 else None


def layout_names(line: bytes) -> tuple[str, ...]:
    """The column names of a ``#Fields`` line, as the W3C parser binds them."""
    return tuple(line.decode("ascii").partition(":")[2].split())


def _skip(columns: int) -> bytes:
    return b"(?:[^ \n]+ +){%d}" % columns if columns else b""


def _in_token(groups: list[list[bytes]]) -> list[bytes]:
    """One token holding a literal of every group (groups whose literals cannot overlap), in any order."""
    parts = [_alternation(group) for group in groups]
    return sorted({_TOKEN + _TOKEN.join(order) for order in itertools.permutations(parts)})


def _merged(first: list[bytes], second: list[bytes]) -> list[bytes]:
    """The strings a token holds where a literal of ``first`` and one of ``second`` overlap (one inside the
    other, or the end of one the start of the other)."""
    out: set[bytes] = set()
    for a in first:
        for b in second:
            if b in a or a in b:
                out.add(a if b in a else b)
                continue
            for n in range(1, min(len(a), len(b))):
                if a.endswith(b[:n]):
                    out.add(a + b[n:])
                if b.endswith(a[:n]):
                    out.add(b + a[n:])
    return sorted(out)


def _token(groups: list[list[bytes]]) -> list[bytes]:
    """Patterns of one token holding a literal of every group: the most selective groups whose literals cannot
    overlap, in any order; or two that can, apart in either order or overlapping; others are left out."""
    groups = sorted(groups, key=lambda g: (-min(len(x) for x in g), sorted(g)))
    kept: list[list[bytes]] = []
    for group in groups:
        if len(kept) < MAX_GROUPS_IN_PATTERN and _apart([frozenset(group), *map(frozenset, kept)]):
            kept.append(group)
    if len(kept) == 1 and len(groups) > 1:  # the second group may overlap the first
        merged = _merged(groups[0], groups[1])
        return [*_in_token([groups[0], groups[1]]), _TOKEN + _alternation(merged)]
    return _in_token(kept)


def _placed(by_column: dict[int, list[list[bytes]]]) -> list[bytes] | None:
    """Patterns for literal groups placed in columns: every column's groups in its token; None when they
    would be more than ``MAX_PATTERNS``."""
    columns = sorted(by_column)
    tokens = [_token(by_column[column]) for column in columns]
    if math.prod(len(token) for token in tokens) > MAX_PATTERNS:
        return None
    patterns = []
    for choice in itertools.product(*tokens):
        pattern, at = b"^ *", 0
        for index, (column, token) in enumerate(zip(columns, choice, strict=True)):
            pattern += _skip(column - at) + token
            if index < len(columns) - 1:
                pattern += _TOKEN + b" +"
            at = column + 1
        patterns.append(pattern)
    return patterns


def _exclusion(column: int, excluded: frozenset[str] | tuple[str, ...]) -> bytes | None:
    """A pattern matching, up to the end of the line, where ``column``'s value certainly is (``eq``) or starts
    with (prefixes) one of ``excluded``; None when no value can be so told from the raw line."""
    if column >= MAX_COLUMN:
        return None
    values = sorted(v.encode() for v in excluded if v.isascii() and v not in ("", "-")
                    and not _UNSAFE_VALUE.search(v.encode()))
    if not values:
        return None
    end = _TO_END if type(excluded) is tuple else rb"(?: [^\n]*|\r?)$"  # on to the line's end, as its positives
    return b"^ *" + _skip(column) + _alternation(values) + end


def _assigned(placed: list[int], choices: list[tuple[int, ...]], literal_groups: dict[int, list[bytes]]
              ) -> list[bytes] | None:
    """The patterns of the terms ``placed`` in every assignment of them to their columns; None when they
    would be more than ``MAX_PATTERNS``."""
    out: list[bytes] = []
    for assignment in itertools.product(*choices):
        by_column: dict[int, list[list[bytes]]] = {}
        for term, column in zip(placed, assignment, strict=True):
            by_column.setdefault(column, []).append(literal_groups[term])
        patterns = _placed(by_column)
        if patterns is None or len(out) + len(patterns) > MAX_PATTERNS:
            return None
        out.extend(patterns)
    return out


def placed_patterns(gate: ColumnGate, plan: ColumnPlan) -> list[tuple[bytes, int, bool]] | None:
    """(pattern, requirement, excludes) for every requirement that may hold on ``plan``'s layout; None when
    one of them cannot be placed."""
    out: list[tuple[bytes, int, bool]] = []
    placed_count = 0  # patterns anchored on columns (their compilation costs more than a literal's)
    for number, (positive, _, _) in enumerate(gate.requirements):
        if not plan.possible[number]:
            continue  # a field it names is not in this layout: it holds on no line
        literal_groups = {t: [lit.encode() for lit in gate.terms[t][1]] for t in positive}
        placed = [t for t in positive if plan.term_columns[t] is not None]
        choices = [plan.term_columns[t] or () for t in placed]
        count = 1
        for found in choices:
            count *= len(found)
        mine = None if not placed or count > MAX_CHOICES or any(c >= MAX_COLUMN for found in choices for c in found) \
            else _assigned(placed, choices, literal_groups)
        if mine is None:  # a line pattern, fields left out
            groups = [literal_groups[t] for t in positive]
            if not _apart([frozenset(g) for g in chosen_groups(groups)]):
                return None  # its groups may overlap, which a line pattern would miss
            mine = conjunction_patterns(groups)
        out.extend((pattern, number, False) for pattern in mine)
        exclusions = [p for column, excluded in plan.exclusions[number]
                      if (p := _exclusion(column, excluded)) is not None]
        if exclusions:  # every pattern of the requirement then ends where its line does: a match is told
            ended = [(p + _TO_END, n, e) for p, n, e in out if n == number]  # from an exclusion by its end
            out = [item for item in out if item[1] != number] + ended
            out.extend((p, number, True) for p in exclusions)
        placed_count += sum(p.startswith(b"^") for p in mine) + len(exclusions)
        if placed_count > MAX_PLACED_PATTERNS or len(out) > MAX_LAYOUT_PATTERNS:
            return None
    return out


class PlacedPrefilter(BlockPrefilter):
    """The block scan of one IIS layout: candidate lines are those where some requirement's literals stand in
    its columns and none of its exclusions holds. ``former``: the scan it stands in for, which a block with
    another layout goes back to."""

    def __init__(self, former: BlockPrefilter, line: bytes, patterns: list[tuple[bytes, int, bool]]) -> None:
        assert _hs is not None
        self.former = former
        self.line = line
        expressions = sorted({pattern for pattern, _, _ in patterns})
        at = {pattern: ident for ident, pattern in enumerate(expressions)}
        self.requirement: list[int] = [0] * len(expressions)  # per pattern: the requirement it stands for
        self.excludes: list[bool] = [False] * len(expressions)
        owners: dict[int, set[tuple[int, bool]]] = {}
        for pattern, number, excludes in patterns:
            owners.setdefault(at[pattern], set()).add((number, excludes))
        shared = [ident for ident, found in owners.items() if len(found) > 1]
        for ident, found in owners.items():
            number, excludes = min(found)
            self.requirement[ident], self.excludes[ident] = number, excludes
        if shared:  # one pattern standing for several requirements: kept apart under ids of their own
            for ident in shared:
                for number, excludes in sorted(owners[ident])[1:]:
                    expressions.append(expressions[ident])
                    self.requirement.append(number)
                    self.excludes.append(excludes)
        self.literals = tuple(expressions)
        self._count = len(expressions)
        self._checked = {number for number, excludes in zip(self.requirement, self.excludes, strict=True)
                         if excludes}  # requirements with an exclusion: their matches end with their lines
        self._numbers = max(self.requirement, default=0) + 1
        flags = [_hs.HS_FLAG_CASELESS | _hs.HS_FLAG_MULTILINE] * len(expressions) + [0] * len(STRUCTURE)
        self._db = compile_database(_hs, [*expressions, *STRUCTURE], flags, tag="text-placed",
                                    cache=default_cache())
        self._scratch = _hs.Scratch(self._db)

    def fits(self, block: bytes | bytearray | memoryview, directives: list[int], end: int) -> bool:
        """Whether every ``#Fields`` line of the block is this layout's, and the block holds no NUL byte (after
        a crash IIS writes its new header right after the NULs of its preallocated region, on their line)."""
        data = block if not isinstance(block, memoryview) else block.obj
        assert isinstance(data, bytes | bytearray)
        if data.find(b"\x00", 0, end) >= 0:
            return False
        for start in directives:
            stop = data.find(b"\n", start, end)
            line = bytes(data[start:end if stop < 0 else stop]).rstrip(b"\r")
            if line != self.line and (b"\x00" in line or b"field" in line.lower()):
                return False
        return True

    def marks(self, block: bytes | bytearray | memoryview) -> BlockMarks:
        found: list[int] = []
        held: list[int] = []  # requirements with an exclusion: (line end) * requirements + requirement
        turned: list[int] = []  # ... where one of their exclusions holds
        requirement, excludes, watched, numbers = self.requirement, self.excludes, self._checked, self._numbers

        def on_pattern(ident: int, end: int) -> None:
            number = requirement[ident]
            if number not in watched:
                found.append(end - 1)
            elif excludes[ident]:
                turned.append(end * numbers + number)
            else:
                held.append(end * numbers + number)

        result = scan_marks(self._db, self._scratch, block, self._count, on_pattern)
        if held:
            away = set(turned)
            found.extend(key // numbers - 1 for key in held if key not in away)
        found.sort()
        result.matches = found
        result.idents = [0] * len(found)
        return result


def placed(former: BlockPrefilter, head: bytes) -> BlockPrefilter:
    """The scan for the layout of the file whose head is ``head``: ``former`` placed in its columns when it
    has a column gate and the layout can be placed (kept per layout), else ``former``."""
    gate = former.columns
    if gate is None or _hs is None:
        return former
    line = fields_line(head)
    if line is None:
        return former
    kept: dict[bytes, BlockPrefilter] = former.__dict__.setdefault("_placed", {})
    found = kept.get(line)
    if found is None:
        count = former.__dict__.get("_placed_count", 0)
        if count >= MAX_PLACED:
            return former
        former.__dict__["_placed_count"] = count + 1
        patterns = placed_patterns(gate, gate.plan(layout_names(line)))
        found = former
        if patterns is not None:
            try:
                found = PlacedPrefilter(former, line, patterns)
            except _hs.error:
                found = former
        if len(kept) >= MAX_LAYOUTS:
            kept.clear()
        kept[line] = found
    return found
