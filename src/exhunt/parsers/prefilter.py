"""The multi-literal prefilter: find the few lines of a big log block that any rule could match.

Detectors say which literals a record must contain to matter to them (``Interest.literals``). The text-log
parsers scan large blocks for those literals at once (Hyperscan, case-insensitive) and parse only the lines
that hold a match. Without Hyperscan a slower pure-Python scanner gives the same answers.

A literal is matched against the *raw* line, so it is cut down to the part that is written the same way in
the raw log as in the parsed value: IIS writes spaces as ``+``, CSV doubles quotes, URLs may be
%-encoded, the Sigma pipeline joins stem and query with ``?``. The longest safe segment is kept; when a
segment shorter than ``MIN_LITERAL`` bytes is all that is left, no prefilter can be built and the parser
reads every line.
"""

from __future__ import annotations

import itertools
import re
import threading
from abc import abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from types import ModuleType

from exhunt.parsers.base import Prefilter


def _load_hyperscan() -> ModuleType | None:
    """Hyperscan is a declared dependency; the fallback keeps exhunt usable where its wheel is missing."""
    try:
        import hyperscan
    except ImportError:  # pragma: no cover - the fallback is tested through ``force_python``
        return None
    return hyperscan


_hs = _load_hyperscan()

MIN_LITERAL = 3
_CACHE_SIZE = 16
_cache = threading.local()
# characters the raw log may write differently from the parsed value, or that separate fields
_UNSAFE = re.compile(r"[\s+\"%,?\x00-\x1f\x7f-\U0010ffff]+")


def safe_literal(literal: str) -> bytes:
    """The longest segment of ``literal`` that the raw log writes byte for byte, lowercased ASCII."""
    segments = [s for s in _UNSAFE.split(literal) if s]
    if not segments:
        return b""
    best = max(segments, key=lambda s: (len(s), s))  # ties broken by value: stable whatever the order
    return best.lower().encode("ascii")


def prepare_literals(literals: Iterable[str]) -> list[bytes] | None:
    """Sorted, de-duplicated raw literals; None when one of them is too short to prefilter with."""
    prepared: set[bytes] = set()
    for literal in literals:
        raw = safe_literal(literal)
        if len(raw) < MIN_LITERAL:
            return None
        prepared.add(raw)
    # a literal that contains another one is redundant: the shorter one finds the same lines
    ordered = sorted(prepared, key=lambda b: (len(b), b))
    kept: list[bytes] = []
    for lit in ordered:
        if not any(k in lit for k in kept):
            kept.append(lit)
    return sorted(kept)


@dataclass(slots=True)
class BlockMarks:
    """What one pass over a block found: literal match starts, directive line starts, blank lines."""

    matches: list[int] = field(default_factory=list)  # sorted start offsets of literal matches
    idents: list[int] = field(default_factory=list)  # the literal index of each match (parallel to matches)
    directives: list[int] = field(default_factory=list)  # offsets of '#' that start a line (not at 0)
    blank_lines: int = 0  # lines that are empty or a lone CR, not counting one at the block start
    odd: list[int] = field(default_factory=list)  # starts of lines that do not begin with a digit or '#'


# Every data line of the logs read here starts with its date or time; a line that does not is looked at
# (and reported when it is garbage) even when it holds no literal, so bad input is never skipped unseen.
_ODD_LINE = rb"\n[^0-9#\r\n]"


def _odd_lines(block: bytes | bytearray | memoryview) -> list[int]:
    if _hs is None:
        return [m.start() + 1 for m in re.finditer(_ODD_LINE, bytes(block))]
    scanner = _cache.__dict__.get("odd")  # one database and scratch per thread
    if scanner is None:
        db = _hs.Database(mode=_hs.HS_MODE_BLOCK)
        db.compile(expressions=[_ODD_LINE], ids=[0], elements=1, flags=[0])
        scanner = _cache.__dict__["odd"] = (db, _hs.Scratch(db))
    found: list[int] = []

    def on_match(_ident: int, _start: int, end: int, _flags: int, _ctx: object) -> None:
        found.append(end - 1)

    scanner[0].scan(block, match_event_handler=on_match, scratch=scanner[1])
    return found


def _store(result: BlockMarks, pairs: list[tuple[int, int]]) -> None:
    pairs.sort()
    result.matches = [pos for pos, _ in pairs]
    result.idents = [ident for _, ident in pairs]


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


class BlockPrefilter(Prefilter):
    """A prefilter that also marks the structural lines of a block in the same pass."""

    literals: tuple[bytes, ...] = ()
    gate: LineGate | None = None  # when set, a line with matches must also pass the gate to be parsed

    @abstractmethod
    def marks(self, block: bytes | bytearray | memoryview) -> BlockMarks:
        """Literal matches, directive line starts and the blank-line count of ``block``."""
        raise NotImplementedError

    def scan(self, block: bytes | memoryview) -> list[int]:
        return self.marks(block).matches


class HyperscanPrefilter(BlockPrefilter):
    """All literals (caseless) plus the line-structure markers in one Hyperscan database."""

    def __init__(self, literals: list[bytes]) -> None:
        assert _hs is not None
        self.literals = tuple(literals)
        self._count = len(literals)
        self._lengths = [len(lit) for lit in literals]
        structure = [b"\n#", b"\n\n", b"\n\r\n"]
        expressions = [*literals, *structure]
        flags = [_hs.HS_FLAG_CASELESS] * len(literals) + [0] * len(structure)
        self._db = _hs.Database(mode=_hs.HS_MODE_BLOCK)
        self._db.compile(expressions=expressions, ids=list(range(len(expressions))),
                         elements=len(expressions), flags=flags, literal=True)
        self._scratch = _hs.Scratch(self._db)

    def marks(self, block: bytes | bytearray | memoryview) -> BlockMarks:
        result = BlockMarks()
        pairs: list[tuple[int, int]] = []
        directives = result.directives
        blanks: list[int] = []
        count = self._count
        lengths = self._lengths

        def on_match(ident: int, _start: int, end: int, _flags: int, _ctx: object) -> None:
            if ident < count:
                pairs.append((end - lengths[ident], ident))
            elif ident == count:
                directives.append(end - 1)
            else:
                blanks.append(end)

        self._db.scan(block, match_event_handler=on_match, scratch=self._scratch)
        _store(result, pairs)
        result.blank_lines = len(blanks)
        result.odd = _odd_lines(block)
        return result


MAX_GROUPS_IN_PATTERN = 3  # groups of a conjunction put in one line pattern (3! orders); more: the most selective


def _alternation(group: Sequence[bytes]) -> bytes:
    return b"(?:" + b"|".join(re.escape(lit) for lit in sorted(group)) + b")"


def conjunction_patterns(groups: Sequence[Sequence[bytes]]) -> list[bytes]:
    """Regexes matching a line that holds one literal of every group, in any order, within one line."""
    chosen = sorted(groups, key=lambda g: (-min(len(x) for x in g), sorted(g)))[:MAX_GROUPS_IN_PATTERN]
    parts = [_alternation(g) for g in chosen]
    return sorted({b"[^\n]*".join(order) for order in itertools.permutations(parts)})


class ConjunctionPrefilter(BlockPrefilter):
    """Hyperscan finds whole requirements: one pattern per order of a conjunction's groups, held to one line.

    No second stage runs in Python: a line is a candidate only when Hyperscan saw every group of one
    requirement on it, and the structure markers (directives, blank lines, odd lines) come from the same pass.
    """

    def __init__(self, conjunctions: Sequence[Sequence[Sequence[bytes]]]) -> None:
        assert _hs is not None
        patterns = sorted({p for conj in conjunctions for p in conjunction_patterns(conj)})
        self.literals = tuple(patterns)
        self._count = len(patterns)
        structure = [rb"\n#", rb"\n\n", rb"\n\r\n", _ODD_LINE]
        expressions = [*patterns, *structure]
        flags = [_hs.HS_FLAG_CASELESS] * len(patterns) + [0] * len(structure)
        self._db = _hs.Database(mode=_hs.HS_MODE_BLOCK)
        self._db.compile(expressions=expressions, ids=list(range(len(expressions))),
                         elements=len(expressions), flags=flags)
        self._scratch = _hs.Scratch(self._db)

    def marks(self, block: bytes | bytearray | memoryview) -> BlockMarks:
        result = BlockMarks()
        matches = result.matches
        directives = result.directives
        odd = result.odd
        blanks: list[int] = []
        count = self._count

        def on_match(ident: int, _start: int, end: int, _flags: int, _ctx: object) -> None:
            if ident < count:
                matches.append(end - 1)  # a position on the matching line
            elif ident == count:
                directives.append(end - 1)
            elif ident == count + 3:
                odd.append(end - 1)
            else:
                blanks.append(end)

        self._db.scan(block, match_event_handler=on_match, scratch=self._scratch)
        matches.sort()
        result.idents = [0] * len(matches)
        odd.sort()
        result.blank_lines = len(blanks)
        return result


class PythonPrefilter(BlockPrefilter):
    """The same answers as ``HyperscanPrefilter`` with ``bytes.find`` (several passes; slower)."""

    def __init__(self, literals: list[bytes]) -> None:
        self.literals = tuple(literals)

    def marks(self, block: bytes | bytearray | memoryview) -> BlockMarks:
        data = bytes(block)
        lowered = data.lower()
        result = BlockMarks()
        pairs: list[tuple[int, int]] = []
        for ident, lit in enumerate(self.literals):
            pos = lowered.find(lit)
            while pos >= 0:
                pairs.append((pos, ident))
                pos = lowered.find(lit, pos + 1)
        _store(result, pairs)
        result.odd = _odd_lines(data)
        pos = data.find(b"#", 1)
        while pos >= 0:
            if data[pos - 1] == 0x0A:
                result.directives.append(pos)
            pos = data.find(b"#", pos + 1)
        for marker in (b"\n\n", b"\n\r\n"):
            pos = data.find(marker)
            while pos >= 0:
                result.blank_lines += 1
                pos = data.find(marker, pos + 1)
        return result


Requirement = Sequence[frozenset[str]]  # a conjunction of groups of literals


def build_prefilter(literals: Iterable[str], *, requirements: Sequence[Requirement] | None = None,
                    force_python: bool = False) -> BlockPrefilter | None:
    """A prefilter for ``literals`` (case-insensitive), or None when every line must be parsed.

    An empty set of literals gives a prefilter that matches nothing: the parser then only counts lines and
    reads the first and last timestamps. With ``requirements`` a line holding a literal is parsed only when,
    for one requirement, each of its groups has a literal on the line (groups whose literals cannot be
    prefiltered are left out of the check, which only makes it looser).
    """
    if requirements is not None:
        return _gated(list(literals), requirements, force_python)
    prepared = prepare_literals(literals)
    if prepared is None:
        return None
    # compiled once per thread and literal set: the engine asks for one per file, and a Hyperscan
    # scratch space must not be shared between threads
    cache: dict[tuple[bool, tuple[bytes, ...]], BlockPrefilter] = _cache.__dict__.setdefault("prefilters", {})
    key = (force_python or _hs is None, tuple(prepared))
    found = cache.get(key)
    if found is None:
        found = PythonPrefilter(prepared) if key[0] else _hyperscan_or_python(prepared)
        if len(cache) >= _CACHE_SIZE:
            cache.pop(next(iter(cache)))
        cache[key] = found
    return found


def _gated(literals: list[str], requirements: Sequence[Requirement], force_python: bool) -> BlockPrefilter | None:
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


def _plain(table: list[bytes], force_python: bool) -> BlockPrefilter:
    return PythonPrefilter(table) if force_python or _hs is None else _hyperscan_or_python(table)


def _hyperscan_or_python(literals: list[bytes]) -> BlockPrefilter:
    assert _hs is not None
    try:
        return HyperscanPrefilter(literals)
    except _hs.error:  # a database Hyperscan refuses to build: the same answers, slower
        return PythonPrefilter(literals)


def hyperscan_available() -> bool:
    return _hs is not None
