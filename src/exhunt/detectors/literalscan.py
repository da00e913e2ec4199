"""Which of a set of literals occur in an event's raw text (case-insensitive), in one pass.

Hyperscan when available (each literal reported once), else ``in`` tests on the lowercased text: both
give the same answers for ASCII literals but one, on the safe side: Python's lowercasing folds a few
non-ASCII letters into ASCII ones (the Kelvin sign into ``k``), so ``in`` may find a literal that Hyperscan
does not. Hyperscan folds ASCII case only, so a set holding any other literal is always tested with ``in``.

With a ``BlobCache`` (``content/cache.py``), a database is looked up there by its literals before it is
compiled, and stored after: a process deserialises (well under a millisecond) what another compiled
(10-200 ms per database). A damaged entry is compiled again, overwritten and noted (``note_problem``).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from exhunt.content.cache import BlobCache
from exhunt.content.hyperscan_db import compile_database, default_cache
from exhunt.parsers.base import LiteralTest, RouteGate

hyperscan: Any
try:  # a declared dependency; the pure-Python path gives the same answers
    import hyperscan
except ImportError:  # pragma: no cover
    hyperscan = None

MIN_FOR_HYPERSCAN = 4  # fewer literals: ``in`` tests are as fast as a scan call
MAX_UNIONS = 512  # union scans kept by a process (``gate``), shared by its hosts and threads
_unions: dict[tuple[frozenset[str], str | None], Any] = {}


def _collect(ident: int, _start: int, _end: int, _flags: int, found: list[int]) -> None:
    found.append(ident)


def _stop(_ident: int, _start: int, _end: int, _flags: int, _context: object) -> bool:
    return True


class LiteralScan:
    """Finds which of ``literals`` (lowercase) occur in a text."""

    def __init__(self, literals: Sequence[str], force_python: bool = False, cache: BlobCache | None = None) -> None:
        self.literals = [lit.lower() for lit in literals]
        self._forced = force_python
        self._cache = cache
        self._db: Any = None
        self._local = threading.local()
        self._gate: RouteGate | None = None
        self._build()

    def _build(self) -> None:
        if hyperscan is None or self._forced or len(self.literals) < MIN_FOR_HYPERSCAN:
            return
        if not all(lit.isascii() for lit in self.literals):  # Hyperscan folds ASCII case only
            return
        flag = hyperscan.HS_FLAG_CASELESS | hyperscan.HS_FLAG_SINGLEMATCH
        self._db = compile_database(hyperscan, [lit.encode("utf-8", "surrogatepass") for lit in self.literals],
                                    [flag] * len(self.literals), tag="literalscan", literal=True, cache=self._cache)

    def _scratch(self) -> Any:
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:  # scratch space must not be shared between threads (Dask runs tasks in threads)
            scratch = self._local.scratch = hyperscan.Scratch(self._db)
        return scratch

    def found(self, text: str) -> list[int]:
        """Indexes of the literals present in ``text`` (in the order found)."""
        if self._db is None:
            low = text.lower()
            return [i for i, lit in enumerate(self.literals) if lit in low]
        found: list[int] = []
        self._db.scan(_encoded(text), match_event_handler=_collect, context=found, scratch=self._scratch())
        return found

    def any(self, text: str) -> bool:
        """Whether one of the literals is in ``text`` (the scan stops at the first found)."""
        db = self._db
        if db is None:
            low = text.lower()
            return any(lit in low for lit in self.literals)
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._scratch()
        try:
            data = text.encode()
        except UnicodeEncodeError:  # lone surrogates from a lenient decode
            data = text.encode("utf-8", "replace")
        try:
            db.scan(data, match_event_handler=_stop, scratch=scratch)
        except hyperscan.ScanTerminated:
            return True
        return False

    def gate(self) -> RouteGate:
        """``any`` as a record gate's test; one that carries its literals (``LiteralTest``) when Hyperscan
        scans them, so that a gate can scan once for the union of several detectors' literals and get the
        same answers (the ``in`` tests of a few literals fold case as Python does: never merged)."""
        if self._gate is None:
            self._gate = (LiteralTest(frozenset(self.literals), self.any, self._union) if self._db is not None
                          else self.any)
        return self._gate

    def _union(self, literals: frozenset[str]) -> Any:
        """A Hyperscan test for ``literals`` (this scan's and others'); None when Hyperscan would not scan them.
        Kept per process (a fleet's hosts each have their own gate, but not their own literals)."""
        cache = self._cache if self._cache is not None else default_cache()
        key = (literals, str(cache.directory) if cache is not None else None)
        known = _unions.get(key)
        if known is None:
            if len(_unions) >= MAX_UNIONS:
                _unions.clear()
            union = LiteralScan(sorted(literals), cache=cache)
            known = _unions[key] = (union.any if union._db is not None else None,)
        return known[0]

    def __getstate__(self) -> dict[str, Any]:  # Hyperscan databases do not pickle: rebuilt by the receiver
        state = dict(self.__dict__)
        state["_db"] = state["_local"] = state["_gate"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._local = threading.local()
        self._build()


def _encoded(text: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError:  # lone surrogates from a lenient decode
        return text.encode("utf-8", "replace")
