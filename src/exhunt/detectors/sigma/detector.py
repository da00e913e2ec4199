"""The per-host Sigma detector: evaluates candidate rules on each record, groups hits into findings.

One finding per (rule, outcome) per host; every hit is counted, at most ``MAX_EVIDENCE`` references
are kept (the earliest by time, path, line) and every file that gave hits is listed with its count, so the
cap never hides which files matched; captured values are de-duplicated, sorted and bounded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from exhunt.content.cache import take_problems
from exhunt.detectors.base import Detector, HostContext, Interest
from exhunt.detectors.sigma.compiled import CompiledRule
from exhunt.detectors.sigma.view import EventView
from exhunt.model.coverage import InputWarning
from exhunt.model.event import Record
from exhunt.model.evidence import ArtifactKind
from exhunt.model.finding import EvidenceRef, Finding, Outcome, Severity, clip

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from exhunt.detectors.sigma.family import SigmaContent
    from exhunt.detectors.sigma.index import Bucket, Entry

MAX_EVIDENCE = 50
# about how many bytes the kept answers may hold alive (their keys' tuples, strings, the dict's slots); past it
# they are forgotten and kept anew
MEMO_BUDGET = 24 << 20
MEMO_ENTRY = 240  # bytes per kept answer besides its key's parts (the dict's slot, the key tuple, the answer)
MEMO_PART = 64  # bytes per part of a key besides its characters (a str object's header, the tuple's pointer)
MAX_CAPTURE_VALUES = 50  # per attribute name, listed; more are counted
MAX_CAPTURE_TRACKED = 1000  # distinct values remembered per attribute name
DEFAULT_OUTCOME = Outcome.SUSPICIOUS  # rules without an exhunt outcome; informational-level ones: INFORMATIONAL

HitKey = tuple[str, str, int, int]
# Kinds whose raw text may spell values differently than any literal cut foresees: JSON exports come from
# many writers, some escape '/' as '\/' or any character as \uXXXX. Their parsed values are scanned instead.
VALUES_SCANNED = frozenset({ArtifactKind.JSON_EVENTS})


@dataclass(slots=True)
class _Hit:
    key: HitKey
    path: str
    line: int | None
    record: int | None
    offset: int | None
    excerpt: str
    timestamp: str | None


@dataclass
class _Group:
    rule: CompiledRule
    outcome: Outcome
    count: int = 0
    first: str | None = None
    last: str | None = None
    hits: list[_Hit] = field(default_factory=list)
    per_file: dict[str, int] = field(default_factory=dict)  # every file that gave a hit: how many
    captures: dict[str, set[str]] = field(default_factory=dict)
    captures_more: dict[str, int] = field(default_factory=dict)

    def add(self, hit: _Hit) -> None:
        self.count += 1
        self.per_file[hit.path] = self.per_file.get(hit.path, 0) + 1
        stamp = hit.timestamp
        if stamp:
            if self.first is None or stamp < self.first:
                self.first = stamp
            if self.last is None or stamp > self.last:
                self.last = stamp
        self.hits.append(hit)
        if len(self.hits) >= 2 * MAX_EVIDENCE:
            self.hits.sort(key=lambda h: h.key)
            del self.hits[MAX_EVIDENCE:]

    def capture(self, name: str, value: str) -> None:
        values = self.captures.setdefault(name, set())
        if value in values:
            return
        if len(values) >= MAX_CAPTURE_TRACKED:
            self.captures_more[name] = self.captures_more.get(name, 0) + 1
            return
        values.add(value)


def hit_of(record: Record) -> _Hit:
    position = record.line if record.line is not None else (record.record or 0)
    return _Hit((record.timestamp or "", record.path, position, record.offset or 0), record.path,
                record.line, record.record, record.offset, clip(record.raw), record.timestamp)


RECORD_GATED = frozenset({ArtifactKind.EVTX})  # kinds whose raw text is the record's JSON as the parser reads it


class SigmaDetector(Detector):
    name = "sigma"

    def __init__(self, content: SigmaContent, options: dict[str, Any] | None = None) -> None:
        self.content = content
        self.index = content.index
        self.options = dict(options or {})
        self.groups: dict[tuple[int, Outcome], _Group] = {}
        self.correlator = content.new_correlator()
        self.failed: set[int] = set()  # rules that raised on a record (reported once)
        self._by_index: dict[int, CompiledRule] | None = None
        # answers of the buckets' rules by what they read (``_judge``); bounded by the size of their keys
        self._memo: dict[tuple[Any, ...], tuple[tuple[CompiledRule, Exception | None], ...]] = {}
        self._memo_size = 0

    def interest(self, kind: ArtifactKind) -> Interest | None:
        reads, literals = self.index.kind_literals(kind)
        if not reads:
            return None
        if kind in RECORD_GATED:
            return Interest(literals, record_gate=partial(self.index.record_gate, kind), record_filter=self.may_use)
        if literals is None:
            return Interest(None, record_filter=self.may_use)
        return Interest(literals, self.index.kind_requirements(kind), record_filter=self.may_use,
                        scoped=self.index.kind_scoped(kind))

    def on_record(self, record: Record, ctx: HostContext) -> None:
        judged = record.matched.get(self.name) if record.matched else None
        if judged is not None:  # matched in a parse worker (``may_use``): the hits only, no bucket needed
            if self._by_index is None:
                self._by_index = {rule.index: rule for rule in self.index.rules}
            view = EventView(record.fields, self.index.derived.get(record.kind))
            for number in judged:
                rule = self._by_index[number]
                try:
                    self.hit(rule, view, record)
                except Exception as exc:  # as below
                    self._rule_failed(rule, record, exc, ctx)
            return
        found = self._judge(record)
        if found is None:
            return
        view, outcomes = found
        for rule, failure in outcomes:
            try:
                if failure is None:
                    self.hit(rule, view, record)
                    continue
            except Exception as exc:
                failure = exc
            self._rule_failed(rule, record, failure, ctx)  # a rule never stops the run: said once per rule

    def _judge(self, record: Record) -> tuple[EventView, Sequence[tuple[CompiledRule, Exception | None]]] | None:
        """The record's view and the rules that match it (with the exception of each that failed), in rule
        order; None when none does.

        Events repeat (a service started every hour, the same logon every day): what a bucket's rules
        decide depends only on the fields they read, so the answer is kept per bucket and such fields
        (``Bucket.memo_key``) and a repeated event is not judged again. Answers with a failure are not kept.
        """
        bucket = self.index.bucket(record)
        if bucket is None:
            return None
        key = bucket.memo_key(record.fields)
        if key is not None:
            try:
                known = self._memo.get(key)
            except TypeError:  # a value that cannot be hashed: judged, not kept
                key, known = None, None
            if known is not None:
                view = EventView(record.fields, bucket.derived)
                raw = record.raw if record.kind not in VALUES_SCANNED else ""
                opened = list(_matching(view, bucket.open_candidates(view, raw))) if bucket.open else []
                if opened:
                    known = tuple(sorted((*known, *opened), key=lambda outcome: outcome[0].index))
                return (view, known) if known else None
        found = self._candidates(bucket, record)
        outcomes: list[tuple[CompiledRule, Exception | None]] = []
        if found is not None:
            view, entries = found
            outcomes = list(_matching(view, entries))
        if key is not None:
            kept = tuple(o for o in outcomes if o[0].index not in bucket.open)
            if all(failure is None for _, failure in kept):
                size = MEMO_ENTRY + MEMO_PART * len(key) + sum(len(part) for part in key if type(part) is str)
                self._memo_size += size
                if self._memo_size > MEMO_BUDGET:
                    self._memo.clear()
                    self._memo_size = size
                self._memo[key] = kept
        if not outcomes:
            return None
        return (found[0] if found is not None else EventView(record.fields, bucket.derived)), outcomes

    def _candidates(self, bucket: Bucket, record: Record) -> tuple[EventView, Sequence[Entry]] | None:
        """The record's view and the rule entries worth evaluating on it; None when no rule can match."""
        raw = record.raw if record.kind not in VALUES_SCANNED else ""
        if raw:  # most records select no rule: scan first, build the view only when needed
            entries = bucket.candidates_in(raw)
            if not entries:
                return None
            return EventView(record.fields, bucket.derived), entries
        view = EventView(record.fields, bucket.derived)
        return view, bucket.candidates(view)

    def may_use(self, record: Record) -> bool:
        """Whether ``on_record`` would do anything with this record, without changing any state: a parse
        worker asks it to keep back the records no rule matches. The rules that match are noted in the record
        (``Record.matched``) so that ``on_record`` does not evaluate them again; when a rule fails on the
        record, nothing is noted (``on_record`` evaluates it again and reports the failure)."""
        found = self._judge(record)
        if found is None:
            return False
        matched: list[int] = []
        for rule, failure in found[1]:
            if failure is not None:  # the caller evaluates the record again and reports the failure
                return True
            matched.append(rule.index)
        if matched:
            record.matched = {**(record.matched or {}), self.name: tuple(matched)}
        return bool(matched)

    def _rule_failed(self, rule: CompiledRule, record: Record, exc: Exception, ctx: HostContext) -> None:
        if rule.index in self.failed:
            return
        self.failed.add(rule.index)
        ctx.coverage.warn(InputWarning(
            path=record.path, line=record.line, offset=record.offset, code="rule-error",
            message=f"Sigma rule {rule.rule_id} ({rule.file}) failed on this record, which it could not judge "
                    f"(reported for its first failure only): {type(exc).__name__}: {exc}"))

    def hit(self, rule: CompiledRule, view: EventView, record: Record) -> None:
        if self.correlator is not None:
            self.correlator.observe(rule, view, record)
        if not rule.emit:
            return
        outcome = rule.ext.outcome(view, Outcome.INFORMATIONAL if rule.level is Severity.INFO else DEFAULT_OUTCOME)
        key = (rule.index, outcome)
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = _Group(rule, outcome)
        group.add(hit_of(record))
        for cap in rule.ext.captures:
            value = cap.value(view)
            if value:
                group.capture(cap.name, value)

    def finish(self, ctx: HostContext) -> list[Finding]:
        for path, message in take_problems():  # noted by the buckets' literal scans, here or in parse workers
            ctx.coverage.warn(InputWarning(path=path, code="cache-rebuilt", message=message))
        findings = [finding_of(g, ctx) for g in self.groups.values()]
        if self.correlator is not None:
            findings.extend(self.correlator.finish(ctx))
        return sorted(findings, key=lambda f: (f.sort_key(), f.outcome.value))


def evidence_refs(hits: list[_Hit], ctx: HostContext) -> tuple[EvidenceRef, ...]:
    kept = sorted(hits, key=lambda h: h.key)[:MAX_EVIDENCE]
    return tuple(EvidenceRef(path=h.path, excerpt=h.excerpt, line=h.line, record=h.record, offset=h.offset,
                             sha256=ctx.sha256(h.path), timestamp=h.timestamp) for h in kept)


def rule_attributes(rule: CompiledRule) -> list[tuple[str, str]]:
    attrs = [("sigma_id", rule.sigma_id), ("rule_file", rule.file), ("family", rule.ext.family),
             ("step", rule.ext.step)]
    return [(k, v) for k, v in attrs if v]


def finding_of(group: _Group, ctx: HostContext) -> Finding:
    rule = group.rule
    attrs = rule_attributes(rule)
    for name in sorted(group.captures):
        values = sorted(group.captures[name])
        attrs.extend((name, v) for v in values[:MAX_CAPTURE_VALUES])
        more = len(values) - MAX_CAPTURE_VALUES + group.captures_more.get(name, 0)
        if more > 0:
            attrs.append((f"{name}_more", str(more)))
    return Finding(
        host=ctx.host, rule_id=rule.rule_id, title=rule.title,
        severity=rule.ext.severity.get(group.outcome, rule.level), confidence=rule.confidence,
        outcome=group.outcome, detector="sigma", cves=rule.cves, attack=rule.attack,
        first_seen=group.first, last_seen=group.last, description=rule.description,
        evidence=evidence_refs(group.hits, ctx), evidence_total=group.count,
        evidence_files=tuple(sorted(group.per_file.items())), attributes=tuple(attrs))


def _matching(view: EventView, entries: Sequence[Entry]) -> Iterator[tuple[CompiledRule, Exception | None]]:
    """The rules among ``entries`` that match ``view``, in rule order, each once (a rule filed under two
    selectors of one route counts once per record); a rule that fails comes with its exception."""
    last = -1
    for entry in entries:
        rule = entry.rule
        try:
            if rule.index == last or (entry.guard is not None and not entry.guard(view)):
                continue
            if not rule.matcher(view):
                continue
        except Exception as exc:
            yield rule, exc
            continue
        last = rule.index
        yield rule, None
