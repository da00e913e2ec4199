"""The finer prefilter: a line is parsed only when it can satisfy some detector's requirement.

A requirement is a conjunction of groups of literals (``{post} AND {.js, main.css} AND {/ecp/, /owa/auth/}``).
With Hyperscan each conjunction becomes line-local patterns (one per order of its groups, ``[^\\n]*`` between
them), so the block scan itself finds only lines that satisfy a requirement. Without Hyperscan the Python
scanner finds each requirement's most selective group and ``LineGate`` checks the other groups on the line.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from exhunt.content.hyperscan_db import compile_database, default_cache
from exhunt.parsers.prefilter import (
    _CACHE_SIZE,
    _ODD_LINE,
    MIN_LITERAL,
    BlockMarks,
    BlockPrefilter,
    PythonPrefilter,
    _cache,
    _hs,
    _hyperscan_or_python,
    _plain,
    prepare_literals,
    safe_literal,
)

if TYPE_CHECKING:
    from exhunt.parsers.columns import ColumnGate

Requirement = Sequence[frozenset[str]]  # a conjunction of groups of literals


class LineGate:
    """The second stage: whether a line holding literals can satisfy some detector's requirement.

    Each requirement is a conjunction of groups of literals; the line passes when, for one requirement,
    every group has one of its literals on the line. Only one group of each requirement (its anchor, the
    most selective) is in the block scan; a line holding an anchor literal checks the other groups of the
    requirements that anchor starts, by substring on the lowercased line.
    """

    def __init__(self, table: list[bytes], requirements: list[tuple[frozenset[int], ...]]) -> None:
        self.by_literal: dict[int, list[tuple[tuple[bytes, ...], ...]]] = {}
        self.free: set[int] = set()  # anchors whose requirement has no other group: a match is enough
        for requirement in requirements:
            anchor = max(requirement, key=lambda g: (min(len(table[i]) for i in g), -len(g), sorted(g)))
            rest = tuple(tuple(table[i] for i in sorted(g)) for g in requirement if g is not anchor)
            for ident in anchor:
                if not rest:
                    self.free.add(ident)
                else:
                    self.by_literal.setdefault(ident, []).append(rest)
        self.anchors = sorted(self.free | set(self.by_literal))

    def accept(self, idents: set[int], line: bytes | bytearray | memoryview) -> bool:
        if not self.free.isdisjoint(idents):
            return True
        low: bytes | None = None
        for ident in idents:
            for rest in self.by_literal.get(ident, ()):
                if low is None:
                    low = bytes(line).lower()
                if all(any(lit in low for lit in group) for group in rest):
                    return True
        return False


# after a database's own patterns: directive lines, blank lines (LF, CRLF), odd lines (``scan_marks``)
STRUCTURE = [rb"\n#", rb"\n\n", rb"\n\r\n", _ODD_LINE]


def scan_marks(database: Any, scratch: Any, block: bytes | bytearray | memoryview, count: int,
               on_pattern: Callable[[int, int], None]) -> BlockMarks:
    """One pass of ``database`` (its first ``count`` patterns, then ``STRUCTURE``) over ``block``: each
    pattern match goes to ``on_pattern(pattern, end)``, the structure markers into the marks returned."""
    result = BlockMarks()
    directives, odd = result.directives, result.odd
    blanks: list[int] = []

    def on_match(ident: int, _start: int, end: int, _flags: int, _ctx: object) -> None:
        if ident < count:
            on_pattern(ident, end)
        elif ident == count:
            directives.append(end - 1)
        elif ident == count + 3:
            odd.append(end - 1)
        else:
            blanks.append(end)

    database.scan(block, match_event_handler=on_match, scratch=scratch)
    odd.sort()
    result.blank_lines = len(blanks)
    return result


MAX_GROUPS_IN_PATTERN = 3  # groups of a conjunction put in one line pattern (3! orders); more: the most selective


def _alternation(group: Sequence[bytes]) -> bytes:
    return b"(?:" + b"|".join(re.escape(lit) for lit in sorted(group)) + b")"


def chosen_groups(groups: Sequence[Sequence[bytes]]) -> list[Sequence[bytes]]:
    """The groups of a conjunction its line patterns hold (the most selective, ``MAX_GROUPS_IN_PATTERN``)."""
    return sorted(groups, key=lambda g: (-min(len(x) for x in g), sorted(g)))[:MAX_GROUPS_IN_PATTERN]


def conjunction_patterns(groups: Sequence[Sequence[bytes]]) -> list[bytes]:
    """Regexes matching a line that holds one literal of every group, in any order, within one line."""
    parts = [_alternation(g) for g in chosen_groups(groups)]
    return sorted({b"[^\n]*".join(order) for order in itertools.permutations(parts)})


class ConjunctionPrefilter(BlockPrefilter):
    """Hyperscan finds whole requirements: one pattern per order of a conjunction's groups, held to one line.

    No second stage runs in Python: a line is a candidate only when Hyperscan saw every group of one
    requirement on it, and the structure markers (directives, blank lines, odd lines) come from the same pass.
    """

    gating: int | None = None  # with a column gate: patterns with a smaller id make a candidate, the others inform

    def __init__(self, conjunctions: Sequence[Sequence[Sequence[bytes]]],
                 informing: Sequence[Sequence[Sequence[bytes]]] = ()) -> None:
        """``informing``: conjunctions whose patterns are reported with the lines they match (``idents``) but
        make no line a candidate (see ``with_columns``)."""
        assert _hs is not None
        self._conjunctions = [[list(group) for group in conj] for conj in conjunctions]
        patterns = sorted({p for conj in conjunctions for p in conjunction_patterns(conj)})
        extra = sorted({p for conj in informing for p in conjunction_patterns(conj)} - set(patterns))
        if informing:
            self.gating = len(patterns)
        patterns += extra
        self.literals = tuple(patterns)
        self._count = len(patterns)
        expressions = [*patterns, *STRUCTURE]
        flags = [_hs.HS_FLAG_CASELESS] * len(patterns) + [0] * len(STRUCTURE)
        self._db = compile_database(_hs, expressions, flags, tag="text-conjunctions", cache=default_cache())
        self._scratch = _hs.Scratch(self._db)

    def marks(self, block: bytes | bytearray | memoryview) -> BlockMarks:
        matches: list[int] = []
        count = self._count
        # with a column gate, which patterns matched on each line is told too: each match kept as one number,
        # position * count + pattern, sorted as such (cheaper than pairs); else the position alone
        scale, keyed = (count, 1) if self.gating is not None else (1, 0)

        def on_pattern(ident: int, end: int) -> None:
            matches.append((end - 1) * scale + ident * keyed)  # a position on the matching line

        result = scan_marks(self._db, self._scratch, block, count, on_pattern)
        matches.sort()
        if self.gating is None:
            result.matches, result.idents = matches, [0] * len(matches)
        else:
            result.idents = [key % count for key in matches]
            result.matches = [key // count for key in matches]
        return result

    def with_columns(self, columns: ColumnGate) -> BlockPrefilter | None:
        """This scan, its candidate lines the same, that also tells the column gate which of its requirements
        may hold on each candidate line: the patterns matched there (``TextLine.hits``), each mapped to the
        gate's requirements that imply it (``_implied``). A requirement that implies none of this scan's
        conjunctions gets patterns of its own (its literal groups, fields left out) that make no line a
        candidate but are reported with the lines they match, or, when its groups' occurrences may overlap
        (a pattern would miss them), is checked on every candidate line (``ColumnGate.always``). None when
        Hyperscan refuses them."""
        assert _hs is not None
        chosen = [[frozenset(g) for g in chosen_groups(conj)] for conj in self._conjunctions]
        by_literal: dict[bytes, set[int]] = {}
        for number, groups in enumerate(chosen):
            for group in groups:
                for literal in group:
                    by_literal.setdefault(literal, set()).add(number)
        implied = [_implied([frozenset(g) for g in groups], chosen, by_literal) for groups in columns.groups]
        # the others get patterns of their own, when their groups' occurrences always lie apart (a pattern
        # needs them apart); else they are checked on every candidate line
        always = [number for number, (groups, found) in enumerate(zip(columns.groups, implied, strict=True))
                  if found is None and not _apart([frozenset(g) for g in chosen_groups(groups)])]
        own = [groups for number, (groups, found) in enumerate(zip(columns.groups, implied, strict=True))
               if found is None and number not in always]
        if own:
            try:
                clone = ConjunctionPrefilter(self._conjunctions, own)
            except _hs.error:
                return None
        else:
            clone = cast("ConjunctionPrefilter", self._clone())
            clone.gating = self._count
        at = {pattern: ident for ident, pattern in enumerate(clone.literals)}
        patterns_of = [[at[p] for p in conjunction_patterns(conj)] for conj in self._conjunctions]
        by_pattern: list[set[int]] = [set() for _ in clone.literals]
        for number, (own_groups, found) in enumerate(zip(columns.groups, implied, strict=True)):
            if number in always:
                continue
            idents = [at[p] for p in conjunction_patterns(own_groups)] if found is None else \
                [ident for conj in found for ident in patterns_of[conj]]
            for ident in idents:
                by_pattern[ident].add(number)
        clone.columns = columns
        columns.by_pattern = [tuple(sorted(numbers)) for numbers in by_pattern]
        columns.always = tuple(always)
        for number, found in enumerate(implied):  # an implied pattern or none at all proves nothing
            if found is not None or number in always:
                positive, excluded, _ = columns.requirements[number]
                columns.requirements[number] = (positive, excluded, False)
        return clone


def _implied(groups: list[frozenset[bytes]], chosen: list[list[frozenset[bytes]]],
             by_literal: dict[bytes, set[int]]) -> list[int] | None:
    """Conjunctions of the scan (their ``chosen`` groups), one of which matches every line where all of
    ``groups`` hold; None when none are found.

    A conjunction's pattern needs one occurrence per group, apart from each other (in any order). So each of
    its groups is covered by a different group of ``groups`` that it holds whole, and the groups so chosen
    must be such that no literal of one can overlap one of another (none contains the other, no end of one
    is the start of the other): their occurrences on a line then lie apart. A conjunction so covered is
    enough alone; else, for one group of ``groups`` (the anchor), each of its literals must find one where
    that literal alone may stand for the anchor."""
    apart: dict[tuple[frozenset[bytes], frozenset[bytes]], bool] = {}

    def disjoint(a: frozenset[bytes], b: frozenset[bytes]) -> bool:
        key = (a, b)
        if key not in apart:
            apart[key] = not any(_overlap(x, y) for x in a for y in b)
        return apart[key]

    def implies(conj: int, anchor: frozenset[bytes] | None, literal: bytes | None) -> bool:
        options = []
        for group in chosen[conj]:
            covers = [(g, g) for g in groups if g <= group and g is not anchor]
            if literal is not None and anchor is not None and literal in group:
                covers.append((anchor, frozenset({literal})))  # the anchor's occurrence, this literal
            if not covers:
                return False
            options.append(covers)
        for choice in itertools.product(*options):
            owners = [owner for owner, _ in choice]
            if len(set(owners)) == len(owners) and all(
                    disjoint(a, b) for (_, a), (_, b) in itertools.combinations(choice, 2)):
                return True
        return False

    candidates = sorted({c for g in groups for lit in g for c in by_literal.get(lit, ())})
    for conj in candidates:
        if implies(conj, None, None):
            return [conj]
    for anchor in sorted(groups, key=lambda g: (len(g), sorted(g))):
        picks: list[int] = []
        for literal in sorted(anchor):
            found = next((c for c in sorted(by_literal.get(literal, ())) if implies(c, anchor, literal)), None)
            if found is None:
                break
            picks.append(found)
        else:
            return picks
    return None


def _apart(groups: list[frozenset[bytes]]) -> bool:
    """Whether no literal of one group can overlap a literal of another."""
    return not any(_overlap(x, y) for a, b in itertools.combinations(groups, 2) for x in a for y in b)


def _overlap(a: bytes, b: bytes) -> bool:
    """Whether occurrences of ``a`` and ``b`` (caseless) can share a byte."""
    a, b = a.lower(), b.lower()
    if a in b or b in a:
        return True
    return any(a.endswith(b[:n]) or b.endswith(a[:n]) for n in range(1, min(len(a), len(b))))


def gated(literals: list[str], requirements: Sequence[Requirement], force_python: bool) -> BlockPrefilter | None:
    raw: dict[str, bytes] = {}
    for literal in {*literals, *(lit for req in requirements for group in req for lit in group)}:
        raw[literal] = safe_literal(literal)
    if any(len(raw[lit]) < MIN_LITERAL for lit in literals):
        return None
    every = sorted({b for b in raw.values() if len(b) >= MIN_LITERAL})
    index = {b: i for i, b in enumerate(every)}
    gates: set[tuple[frozenset[int], ...]] = set()
    for requirement in requirements:
        groups = []
        for group in requirement:
            ids = [index.get(raw[lit]) for lit in group]
            if ids and all(i is not None for i in ids):
                groups.append(frozenset(i for i in ids if i is not None))
        if not groups:
            prepared = prepare_literals(literals)  # a requirement no literal can check: literals alone decide
            return None if prepared is None else _plain(prepared, force_python)
        gates.add(tuple(sorted(set(groups), key=lambda g: sorted(g))))
    ordered = sorted(gates, key=lambda g: [sorted(x) for x in g])
    if not force_python and _hs is not None:
        conjunctions = [[[every[i] for i in sorted(group)] for group in conj] for conj in ordered]
        cache_hs: dict[tuple[object, ...], BlockPrefilter] = _cache.__dict__.setdefault("conjunctions", {})
        key_hs = tuple(tuple(tuple(g) for g in c) for c in conjunctions)
        found_hs = cache_hs.get(key_hs)
        if found_hs is None:
            try:
                found_hs = ConjunctionPrefilter(conjunctions)
            except _hs.error:
                found_hs = None  # a database Hyperscan refuses: the Python gate gives the same answers
            if found_hs is not None:
                if len(cache_hs) >= _CACHE_SIZE:
                    cache_hs.pop(next(iter(cache_hs)))
                cache_hs[key_hs] = found_hs
        if found_hs is not None:
            return found_hs
    gate = LineGate(every, ordered)
    table = [every[i] for i in gate.anchors]  # only anchors are scanned for; ids renumbered below
    renumber = {old: new for new, old in enumerate(gate.anchors)}
    gate.free = {renumber[i] for i in gate.free}
    gate.by_literal = {renumber[i]: v for i, v in gate.by_literal.items()}
    cache: dict[tuple[object, ...], BlockPrefilter] = _cache.__dict__.setdefault("gated", {})
    key = (force_python or _hs is None, tuple(every), tuple(ordered))
    found = cache.get(key)
    if found is None:
        found = PythonPrefilter(table) if key[0] else _hyperscan_or_python(table)
        found.gate = gate
        if len(cache) >= _CACHE_SIZE:
            cache.pop(next(iter(cache)))
        cache[key] = found
    return found


