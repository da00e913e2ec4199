"""The multi-literal prefilter: find the few lines of a big log block that any rule could match.

Detectors say which literals a record must contain to matter to them (``Interest.literals``). The text-log
parsers scan large blocks for those literals at once (Hyperscan, case-insensitive) and parse only the lines
that hold a match. Without Hyperscan a slower pure-Python scanner gives the same answers.

A literal is matched against the *raw* line, so it is cut down to the part that is written the same way in
the raw log as in the parsed value: IIS writes spaces as ``+``, CSV doubles quotes, the Sigma pipeline
joins stem and query with ``?``. The longest safe segment is kept; when a segment shorter than
``MIN_LITERAL`` bytes is all that is left, no prefilter can be built and the parser reads every line. A
``%`` is kept: no parser decodes %-escapes (a value holds them as the raw line does), and rules that look for
escaped payloads (``%24%7b``) are made of little else.
"""

from __future__ import annotations

import re
import threading
from abc import abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

from exhunt.content.hyperscan_db import compile_database, default_cache
from exhunt.parsers.base import Prefilter

if TYPE_CHECKING:
    from exhunt.parsers.columns import ColumnGate
    from exhunt.parsers.conjunctions import LineGate, Requirement


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
_UNSAFE = re.compile(r"[\s+\",?\x00-\x1f\x7f-\U0010ffff]+")


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

    def with_columns(self, columns: ColumnGate) -> BlockPrefilter | None:
        """This prefilter (sharing its database and scratch: both are per thread) with a column gate, when its
        scan can tell the gate which requirements matched on a line (``ConjunctionPrefilter``); else None."""
        return None

    def _clone(self) -> BlockPrefilter:
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.__dict__.pop("_placed", None)
        clone.__dict__.pop("_placed_count", None)
        return clone

    def __getstate__(self) -> dict[str, Any]:
        """A compiled Hyperscan database crosses to a worker serialised (``hs_serialize_database``): the worker
        loads it in well under a millisecond instead of compiling it again (0.1-0.2 s each); its scratch space
        is made there."""
        state = dict(self.__dict__)
        state.pop("_placed", None)  # scans placed in layouts' columns (``positions.py``): built where used
        state.pop("_placed_count", None)
        database = state.pop("_db", None)
        state.pop("_scratch", None)
        if database is not None:
            assert _hs is not None
            state["_db_serialised"] = _hs.dumpb(database)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        serialised = state.pop("_db_serialised", None)
        self.__dict__.update(state)
        if serialised is not None:
            assert _hs is not None
            database = _hs.loadb(serialised, _hs.HS_MODE_BLOCK)
            self.__dict__.update(_db=database, _scratch=_hs.Scratch(database))


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
        self._db = compile_database(_hs, expressions, flags, tag="text-prefilter", literal=True,
                                    cache=default_cache())
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




def build_prefilter(literals: Iterable[str], *, requirements: Sequence[Requirement] | None = None,
                    force_python: bool = False) -> BlockPrefilter | None:
    """A prefilter for ``literals`` (case-insensitive), or None when every line must be parsed.

    An empty set of literals gives a prefilter that matches nothing: the parser then only counts lines and
    reads the first and last timestamps. With ``requirements`` a line holding a literal is parsed only when,
    for one requirement, each of its groups has a literal on the line (groups whose literals cannot be
    prefiltered are left out of the check, which only makes it looser).
    """
    if requirements is not None:
        from exhunt.parsers.conjunctions import gated  # the finer prefilter, built on this module's scanners

        return gated(list(literals), requirements, force_python)
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
