"""Rules indexed by route (artifact kind, channel, event id) and by required literal.

For a record, the route selects a *bucket*: the rules whose logsource selects such records. A bucket
splits its rules into those with required literals, found by one multi-literal scan of the event's text
(``detectors/literalscan.py``), and the few that must always be evaluated. Buckets are built on first use
and shared by every record with the same route. The same scan answers the record gate: an EVTX record
whose route has no rule to evaluate always and none of whose literals it holds is never decoded.

A bucket also names what its rules can see of an event (``memo_key``: the fields they read, as written), under
which the detector keeps the bucket's answer for events that repeat.

(Checking each rule's full literal conjunctions, ``requirements.py``, was measured here too: on the
SigmaHQ set over EVTX it removed 0.3 % of decoded records and cost more than the rules it spared.)
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from exhunt.content.cache import BlobCache
from exhunt.detectors.literalscan import LiteralScan
from exhunt.detectors.sigma.compiled import CompiledRule
from exhunt.detectors.sigma.matchers import Program
from exhunt.detectors.sigma.pipeline import EventSelector, Pipelines, Route
from exhunt.detectors.sigma.view import Derived, EventView
from exhunt.model.event import Record
from exhunt.model.evidence import ArtifactKind
from exhunt.parsers.base import RouteGate
from exhunt.parsers.columns import ScopedRequirement, Term, anywhere, requirement_key
from exhunt.parsers.prefilter import safe_literal

MAX_ROUTES = 50_000
RARE_FIELD = 2  # a field read by so few rules of a bucket is left out of its memo key (their rules judged anew)
# ... in event records only (a logon id, a port, a process id); a log line's fields that few rules read (a web
# request's method, status, user) repeat as much as those many read, and the key holds the URL's query anyway
RARE_FIELD_KINDS = frozenset({ArtifactKind.EVTX, ArtifactKind.JSON_EVENTS})
MAX_NAMES = 4096  # field names remembered per bucket (odd data may bring endless ones)
MAX_LAYOUTS = 256  # field layouts (names in order) remembered per bucket, with the names of each its rules read
_serials = itertools.count(1)
RouteKey = tuple[str | None, int | None]


class _Guard:
    """A selector's field conditions (``where``), tested on the event's lowercase values."""

    __slots__ = ("conds", "names")

    def __init__(self, selector: EventSelector) -> None:
        self.conds = tuple((name.lower(), frozenset(v.lower() for v in values)) for name, values in selector.where)
        self.names = frozenset(name for name, _ in self.conds)

    def __call__(self, view: EventView) -> bool:
        for name, wanted in self.conds:  # noqa: SIM110 - hot path
            if view.low(name) not in wanted:
                return False
        return True


@dataclass(frozen=True, slots=True)
class Entry:
    rule: CompiledRule
    guard: _Guard | None = None


def _guard(selector: EventSelector) -> _Guard | None:
    return _Guard(selector) if selector.where else None


def program_reads(program: Program, into: set[str]) -> bool:
    """Add the lowercase field names a node program reads to ``into``; False when it reads every value
    (a keyword detection)."""
    kind = program[0]
    if kind in ("and", "or"):
        return all([program_reads(child, into) for child in program[1]])
    if kind == "not":
        return program_reads(program[1], into)
    if kind in ("field", "null", "exists"):
        into.update(program[1])
        if kind == "field" and program[2]:
            into.add(str(program[2]).lower())  # the rule's own spelling, looked up first
    elif kind == "fieldref":
        into.update(program[1])
        into.update(program[2])
    elif kind == "keyword":
        return False
    return True


Picker = Callable[[Mapping[str, Any]], tuple[Any, ...]]  # a layout's read values, in order
ReadLayout = tuple[tuple[str, ...], Picker]  # the names read of a layout, and their getter


def _picker(names: tuple[str, ...]) -> Picker:
    """A getter of the values of ``names`` (in order, as a tuple) from a record's fields."""
    if not names:
        return lambda fields: ()
    if len(names) == 1:
        name = names[0]
        return lambda fields: (fields[name],)
    getter: Picker = operator.itemgetter(*names)
    return getter


class Bucket:
    """The rules of one route: those always evaluated, and those found by their required literals."""

    def __init__(self, entries: Sequence[Entry], derived: dict[str, Derived] | None,
                 cache: BlobCache | None = None, rare: int = RARE_FIELD) -> None:
        self.derived = derived
        self.entries = tuple(entries)
        self._always_at = tuple(i for i, e in enumerate(entries) if e.rule.literals is None)
        self.always = tuple(self.entries[i] for i in self._always_at)
        by_literal: dict[str, list[int]] = {}  # literal -> positions in ``entries``
        for position, entry in enumerate(entries):
            for lit in sorted(entry.rule.literals or ()):
                by_literal.setdefault(lit, []).append(position)
        self.literals = sorted(by_literal)
        self._owners = [tuple(by_literal[lit]) for lit in self.literals]
        self.scan = LiteralScan(self.literals, cache=cache) if self.literals else None
        self.reads, self.open = self._reads(entries, derived, rare)  # open: rules judged anew on every event
        self._cache = cache
        self._open_part: Bucket | None = None  # the open rules alone (built on first use)
        self.serial = next(_serials)  # names the bucket in memos (an id() may be reused once it is dropped)
        self._read_names: dict[str, bool] = {}  # field name as written -> whether a rule reads it
        # field names in order -> those read, and a getter of their values
        self._layouts: dict[tuple[str, ...], ReadLayout] = {}

    def memo_key(self, fields: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """What the bucket's rules (but the ``open`` ones) can see of an event: the bucket, the names of the
        fields they read (in order, one object per layout) and those fields' values as written (an event
        with the same key matches the same rules); None when every rule of the bucket reads every value.

        Which of a record's fields are read is kept per layout (its field names in order: a log's records
        share their header's) with a getter of their values, so a 70-column HttpProxy record costs a lookup
        and one call, not 70."""
        if self.reads is None:
            return None
        names = tuple(fields)
        layout = self._layouts.get(names)
        if layout is None:
            layout = self._read_of(names)
        read, pick = layout
        values = pick(fields)
        for value in values:
            if type(value) is not str:
                return self._typed_key(read, values)
        return (self.serial, read, *values)

    def _typed_key(self, read: tuple[str, ...], values: tuple[Any, ...]) -> tuple[Any, ...] | None:
        kept: list[Any] = [self.serial, read]
        for value in values:
            kind = type(value)
            if kind is str:
                kept.append(value)
            elif kind is int or kind is bool or kind is float or value is None:
                kept.append((kind, value))  # 1, 1.0 and True are equal keys, not equal to a rule
            else:
                return None  # containers: judged, not kept
        return tuple(kept)

    def _read_of(self, names: tuple[str, ...]) -> ReadLayout:
        """The names of a layout that a kept rule reads, in order, and a getter of their values (remembered
        for the next record)."""
        assert self.reads is not None
        known = self._read_names
        read: list[str] = []
        for name in names:
            reads = known.get(name)
            if reads is None:
                low = name.lower()
                reads = known[name] = low in self.reads or low.replace(" ", "") in self.reads
                if len(known) > MAX_NAMES:
                    known.clear()
            if reads:
                read.append(name)
        if len(self._layouts) >= MAX_LAYOUTS:
            self._layouts.clear()
        found = self._layouts[names] = (tuple(read), _picker(tuple(read)))
        return found

    @staticmethod
    def _reads(entries: Sequence[Entry], derived: dict[str, Derived] | None,
               rare: int = RARE_FIELD) -> tuple[frozenset[str] | None, frozenset[int]]:
        """(lowercase names of the fields the bucket's kept rules and their selectors' guards read, derived
        fields' parts included, None when no rule is kept; the ``open`` rules, judged anew on every event).

        Open: the rules that read every value (keyword detections), and those reading a field no more than
        ``rare`` rules of the bucket read (a logon id, a port: values that rarely repeat would make
        nearly every event's key new, for the sake of a rule or two)."""
        reads: dict[int, set[str] | None] = {}
        for entry in entries:
            found: set[str] = set()
            if not program_reads(entry.rule.program, found):
                reads[entry.rule.index] = None
                continue
            if entry.guard is not None:
                found.update(entry.guard.names)
            for name in list(found):
                if derived and name in derived:
                    found.update(derived[name].parts)
            known = reads.get(entry.rule.index, set())
            reads[entry.rule.index] = None if known is None else known | found
        readers: dict[str, int] = {}
        for read in reads.values():
            for name in read or ():
                readers[name] = readers.get(name, 0) + 1
        names: set[str] = set()
        opened: set[int] = set()
        for index, read in reads.items():
            if read is None or any(readers[name] <= rare for name in read):
                opened.add(index)
            else:
                names |= read
        if len(opened) == len(reads):
            return None, frozenset(opened)
        return frozenset(names), frozenset(opened)

    def candidates(self, view: EventView, raw: str = "") -> Sequence[Entry]:
        """Entries worth evaluating for this event, in rule order.

        The scan reads the record's raw text when there is one (the line, the record's JSON): literals are
        cut at every character a raw form may write differently (see ``literals``), so a literal present
        in a parsed value is present in the raw text too. Without raw text, the values are scanned.
        """
        return self.candidates_in(raw or view.haystack())

    def open_candidates(self, view: EventView, raw: str) -> Sequence[Entry]:
        """The candidates (as ``candidates``) among the ``open`` rules, found by their own scan."""
        if not self.open:
            return ()
        if self._open_part is None:
            self._open_part = Bucket([e for e in self.entries if e.rule.index in self.open], self.derived,
                                     self._cache)
        return self._open_part.candidates(view, raw)

    def candidates_in(self, text: str) -> Sequence[Entry]:
        """Entries worth evaluating for an event whose raw text (or values) is ``text``, in rule order."""
        if self.scan is None:
            return self.always
        hits = self.scan.found(text)
        if not hits:
            return self.always
        chosen = set(self._always_at)
        for i in hits:
            chosen.update(self._owners[i])
        return [self.entries[i] for i in sorted(chosen)]


class RuleIndex:
    def __init__(self, rules: Sequence[CompiledRule], pipelines: Pipelines, cache: BlobCache | None = None) -> None:
        self.rules = list(rules)
        self.cache = cache  # where the buckets' Hyperscan databases are kept between runs
        self.routes: dict[ArtifactKind, Route] = dict(pipelines.routes)
        self.derived = pipelines.derived
        self.table: dict[ArtifactKind, dict[RouteKey, list[Entry]]] = {}
        self.by_kind: dict[ArtifactKind, list[CompiledRule]] = {}
        for rule in self.rules:
            for kind in rule.logsource.kinds:
                self.by_kind.setdefault(kind, []).append(rule)
                table = self.table.setdefault(kind, {})
                selectors = rule.logsource.events or (EventSelector(),)
                for sel in selectors:
                    guard = _guard(sel)
                    for eid in _route_ids(sel, rule):
                        table.setdefault((sel.channel, eid), []).append(Entry(rule, guard))
        self._buckets: dict[tuple[ArtifactKind, RouteKey], Bucket | None] = {}
        # buckets of the same entries shared across routes and kinds, when the kinds derive the same fields
        self._shared: dict[tuple[int, int, tuple[tuple[int, int], ...]], Bucket] = {}
        self._kind_literals: dict[ArtifactKind, tuple[bool, frozenset[str] | None]] = {}

    def __getstate__(self) -> dict[str, Any]:  # buckets hold Hyperscan databases: rebuild per process
        state = dict(self.__dict__)
        state["_buckets"], state["_shared"] = {}, {}
        return state

    def route_key(self, record: Record) -> RouteKey:
        route = self.routes.get(record.kind)
        if route is None:
            return (None, None)
        fields, channel, event_id = record.fields, None, None
        for name in route.channel:
            value = record.attrs.get(name[5:]) if name.startswith("attr:") else fields.get(name)
            if value:
                channel = value.lower() if type(value) is str else str(value).lower()
                break
        for name in route.event_id:
            value = fields.get(name)
            if value is not None:
                if type(value) is int:
                    event_id = value
                    break
                try:
                    event_id = int(value)
                except (TypeError, ValueError):
                    continue
                break
        return (channel, event_id)

    def bucket(self, record: Record) -> Bucket | None:
        return self.bucket_for(record.kind, self.route_key(record))

    def bucket_for(self, kind: ArtifactKind, route: RouteKey) -> Bucket | None:
        """The rules a record of ``kind`` routed to ``route`` (lowercase channel, event id) may match."""
        key = (kind, route)
        try:
            return self._buckets[key]
        except KeyError:
            pass
        if len(self._buckets) >= MAX_ROUTES:  # odd data with endless channel/id pairs: stay bounded
            self._buckets.clear()
        table = self.table.get(kind)
        bucket: Bucket | None = None
        if table:
            channel, eid = key[1]
            seen: dict[tuple[int, int], Entry] = {}
            for probe in {(channel, eid), (channel, None), (None, eid), (None, None)}:
                for entry in table.get(probe, ()):
                    seen[(entry.rule.index, id(entry.guard))] = entry
            entries = [seen[k] for k in sorted(seen)]
            if entries:
                derived = self.derived.get(kind)
                rare = RARE_FIELD if kind in RARE_FIELD_KINDS else 0
                ident = (id(derived), rare, tuple(sorted(seen)))  # a bucket reads its kind's derived fields
                bucket = self._shared.get(ident)
                if bucket is None:
                    bucket = Bucket(entries, derived, self.cache, rare)
                    self._shared[ident] = bucket
        self._buckets[key] = bucket
        return bucket

    def record_gate(self, kind: ArtifactKind, channel: str | None, event_id: int | None) -> RouteGate:
        """Which records of this route can match a rule, judged from their raw text before decoding."""
        bucket = self.bucket_for(kind, (channel, event_id))
        if bucket is None:
            return False
        if bucket.always:
            return True
        return bucket.scan.gate() if bucket.scan is not None else False

    def kind_requirements(self, kind: ArtifactKind) -> tuple[tuple[frozenset[str], ...], ...] | None:
        """Every rule's literal conjunctions for ``kind`` (a rule without any: its literal set as one group)."""
        found: set[tuple[frozenset[str], ...]] = set()
        for rule in self.by_kind.get(kind, []):
            if rule.literals is None:
                return None
            found.update(rule.requirements or ((frozenset(rule.literals),),))
        return tuple(sorted(found, key=lambda c: [sorted(g) for g in c]))

    def kind_scoped(self, kind: ArtifactKind) -> tuple[ScopedRequirement, ...] | None:
        """Every rule's scoped requirements for ``kind`` (``kind_requirements`` with each group's fields): a
        derived field's terms are scoped to the fields it joins as well; a rule without scoped requirements
        gives its literal ones, anywhere."""
        derived = self.derived.get(kind) or {}
        found: set[ScopedRequirement] = set()
        for rule in self.by_kind.get(kind, []):
            if rule.literals is None:
                return None
            if rule.scoped is None:
                found.update(anywhere(rule.requirements or ((frozenset(rule.literals),),)))
                continue
            for requirement in rule.scoped:
                found.add(tuple(_with_parts(term, derived) for term in requirement))
        return tuple(sorted(found, key=requirement_key))

    def kind_literals(self, kind: ArtifactKind) -> tuple[bool, frozenset[str] | None]:
        """(any rule reads the kind, the union of literals or None when a rule needs every record)."""
        if kind in self._kind_literals:
            return self._kind_literals[kind]
        rules = self.by_kind.get(kind, [])
        answer: tuple[bool, frozenset[str] | None] = (bool(rules), None)
        if rules and all(rule.literals is not None for rule in rules):
            answer = (True, frozenset().union(*(rule.literals or () for rule in rules)))
        self._kind_literals[kind] = answer
        return answer


def _with_parts(term: Term, derived: Mapping[str, Derived]) -> Term:
    """A positive term on a derived field may be in any field it joins (a column of the derived field's own
    name is read first, so it stays), when the literal the gate scans for cannot span the separator (each of
    its characters is one ``safe_literal`` cuts at, like IIS's ``?``); else anywhere. An exclusion stays as
    it is (a joined value is no column's)."""
    if term.exclude or term.fields is None or not any(name in derived for name in term.fields):
        return term
    joined = [derived[name] for name in term.fields if name in derived]
    if any(not spec.sep or safe_literal(spec.sep) for spec in joined):
        return Term(None, term.literals)
    return Term(term.fields | {part for spec in joined for part in spec.parts}, term.literals)


def _route_ids(selector: EventSelector, rule: CompiledRule) -> Sequence[int | None]:
    """Event ids to file a rule under: the selector's, narrowed by the ids the rule itself requires."""
    if rule.event_ids is None:
        return list(selector.event_ids) or [None]
    if not selector.event_ids:
        return sorted(rule.event_ids)
    return sorted(set(selector.event_ids) & rule.event_ids)  # empty: the rule cannot match these records
