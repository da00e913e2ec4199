"""What every parser implements, and the report it fills while it reads."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from exhunt.model.coverage import InputWarning
from exhunt.model.event import Record
from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.sources.base import HostTree

if TYPE_CHECKING:
    from exhunt.parsers.columns import ColumnGate

MAX_WARNINGS_PER_FILE = 50  # further warnings of one file are counted, not listed
IMPOSSIBLE_BEFORE, IMPOSSIBLE_FROM = "1990-01-01", "2100-01-01"  # event times outside are treated as unknown


@dataclass(slots=True)
class ParseReport:
    """Filled by a parser for one artifact: what it read and what went wrong, with locations."""

    path: str
    records: int = 0  # data lines / records seen (parsed or skipped by the prefilter)
    bytes_read: int = 0
    first_time: str | None = None
    last_time: str | None = None
    not_understood: bool = False  # the file is not what its name says (wrong format, binary, empty)
    failed: bool = False  # the file could not be read at all
    partial: bool = False  # the file was read, but part of it is known to be lost (cut short, damaged)
    warnings: list[InputWarning] = field(default_factory=list)
    warnings_dropped: int = 0
    # header directives met in the file, as (line, name, value): '#Version', '#Software', '#Log-type'...
    # (the Exchange '#Version:' header gives the server's build at the time each file was written)
    directives: list[tuple[int, str, str]] = field(default_factory=list)
    sha256: str | None = None  # the file's SHA-256 when the reader computed it (parse workers do)
    impossible_times: int = 0  # timestamps before 1990 or from 2100 on (1601-01-01 zero time...): unknown

    def unreadable(self, exc: OSError) -> None:
        """The file could not be read at all: say why."""
        self.failed = True
        self.warn(f"cannot read: {exc}", code="unreadable")

    def warn(self, message: str, code: str = "warning", line: int | None = None,
             offset: int | None = None) -> None:
        if len(self.warnings) >= MAX_WARNINGS_PER_FILE:
            self.warnings_dropped += 1
            return
        self.warnings.append(InputWarning(path=self.path, message=message, code=code, line=line, offset=offset))

    def see_time(self, stamp: str | None, line: int | None = None, offset: int | None = None) -> None:
        """Widen the time window by ``stamp``; an impossible one is warned about at ``line``/``offset``."""
        if not stamp:
            return
        if not IMPOSSIBLE_BEFORE <= stamp[:10] < IMPOSSIBLE_FROM:
            # Windows' zero time (1601-01-01), the Unix epoch, a garbled field: not when anything happened,
            # so not part of the coverage window; said once per file
            self.impossible_times += 1
            if self.impossible_times == 1:
                self.warn(f"impossible timestamp {stamp[:40]!r} treated as unknown (not part of the time window); "
                          "further ones in this file are counted in the coverage only", code="impossible-time",
                          line=line, offset=offset)
            return
        if self.first_time is None or stamp < self.first_time:
            self.first_time = stamp
        if self.last_time is None or stamp > self.last_time:
            self.last_time = stamp


class Prefilter(ABC):
    """Finds candidate positions of any of a set of literals in a block of bytes (case-insensitive)."""

    # ``#Fields`` logs: judges a candidate line on its columns before a record is made (``parsers/columns.py``)
    columns: ColumnGate | None = None

    @abstractmethod
    def scan(self, block: bytes | memoryview) -> list[int]:
        """Sorted start offsets of literal matches in ``block`` (at least one per matching line)."""


class Parser(ABC):
    name: str = ""
    kinds: frozenset[ArtifactKind] = frozenset()
    parallel: bool = False  # whole files may be parsed in worker processes (text logs with a prefilter)
    columns: bool = False  # a record's fields are its line's named columns: a column gate may judge candidates
    # per kind, the heads of the layouts most such logs have (IIS: its default fields), whose scans a process
    # that starts workers may build once and hand over (``engine.usual_scans``)
    usual_heads: Mapping[ArtifactKind, tuple[bytes, ...]] = {}

    def scan_for(self, prefilter: Prefilter, head: bytes) -> Prefilter:
        """The scan for a file whose head is ``head`` (a parser may fit ``prefilter`` to the file's layout)."""
        return prefilter

    @abstractmethod
    def parse(self, tree: HostTree, artifact: Artifact, report: ParseReport,
              prefilter: Prefilter | None = None) -> Iterator[Record]:
        """Yield the records of ``artifact``.

        With a ``prefilter``, a text-log parser may yield only records whose raw line holds a literal match
        (plus whatever it needs for coverage: the count of lines and the first/last timestamps).
        """


class MatchNothing(Prefilter):
    """For logs no detector needs: the parser only counts lines and takes the first/last timestamps."""

    def scan(self, block: bytes | memoryview) -> list[int]:
        return []


# What a detector says about the records of one route (lowercase channel, event id): False, it uses none;
# True, it may use every one; or a test of a record's raw JSON (e.g. "holds one of these literals").
RouteGate = bool | Callable[[str], bool]
RecordGateFn = Callable[[str | None, int | None], RouteGate]
MAX_GATE_ROUTES = 4096  # routes whose answer a gate keeps (odd data with endless channel/id pairs: bounded)


class LiteralTest:
    """A route's test that is "the raw text holds one of ``literals``" (lowercase; ASCII case folded, as
    Hyperscan does), carrying its literals as data: a gate asking several detectors can then scan once for
    the union of their literals, which gives exactly the answer of their tests ORed. ``union`` makes such a
    test for a set of literals (None when it cannot give that same answer: the tests are then ORed)."""

    __slots__ = ("literals", "test", "union")

    def __init__(self, literals: frozenset[str], test: Callable[[str], bool],
                 union: Callable[[frozenset[str]], Callable[[str], bool] | None]) -> None:
        self.literals = literals
        self.test = test
        self.union = union

    def __call__(self, raw: str) -> bool:
        return self.test(raw)


class RecordGate(Prefilter):
    """For event records (EVTX): a record is decoded only when one of the gates may use it.

    Each gate is asked once per route (the record's lowercase channel and event id); the answer, kept here
    and by the parser, is applied to each record's raw JSON before any decoding. Where every detector's
    answer is a ``LiteralTest``, the route gets one test for the union of their literals: one scan per
    record, not one per detector.
    """

    def __init__(self, gates: list[RecordGateFn], keep: Callable[[Record], bool] | None = None) -> None:
        self.gates = gates
        self.keep = keep  # parse workers: whether a decoded record may be of use (None: every one)
        self._routes: dict[tuple[str | None, int | None], RouteGate] = {}

    def scan(self, block: bytes | memoryview) -> list[int]:
        return []

    def for_route(self, channel: str | None, event_id: int | None) -> RouteGate:
        key = (channel, event_id)
        answer = self._routes.get(key)
        if answer is None:
            if len(self._routes) >= MAX_GATE_ROUTES:
                self._routes.clear()
            answer = self._routes[key] = self._answer(channel, event_id)
        return answer

    def _answer(self, channel: str | None, event_id: int | None) -> RouteGate:
        answers = [gate(channel, event_id) for gate in self.gates]
        if any(answer is True for answer in answers):
            return True
        tests = [answer for answer in answers if answer is not False and callable(answer)]
        if not tests:
            return False
        if len(tests) == 1:  # the bare test: one call less per record than through ``LiteralTest``
            return tests[0].test if isinstance(tests[0], LiteralTest) else tests[0]
        merged = self._merged(tests)
        if merged is not None:
            return merged
        return lambda raw: any(test(raw) for test in tests)

    def _merged(self, tests: list[Callable[[str], bool]]) -> Callable[[str], bool] | None:
        """One test for the union of the tests' literals, when every test carries its literals."""
        literal_tests = [test for test in tests if isinstance(test, LiteralTest)]
        if len(literal_tests) != len(tests):
            return None
        literals = frozenset().union(*(test.literals for test in literal_tests))
        return literal_tests[0].union(literals)  # kept by whoever makes it (once per process), asked once per route
