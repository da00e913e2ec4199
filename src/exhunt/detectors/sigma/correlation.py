"""Sigma correlation rules over the events of one host: event_count, value_count, temporal(_ordered).

Base-rule hits referenced by a correlation are kept per (correlation, group-by values), as time-sorted
entries, and judged in ``finish()``: every window of ``timespan`` starting at an event is checked, so
records may arrive in any order (one file after another). Memory is bounded: at most ``MAX_GROUPS``
groups per correlation, ``MAX_GROUP_EVENTS`` entries per group (the newest are kept) and ``MAX_ENTRIES``
in all; what is dropped is counted and shown on the finding. Other correlation types, chained correlations and extended
conditions are reported unsupported with the reason.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sigma.correlations import (
    SigmaCorrelationCondition,
    SigmaCorrelationConditionOperator,
    SigmaCorrelationRule,
    SigmaCorrelationType,
)

from exhunt.detectors.base import HostContext
from exhunt.detectors.sigma.compiled import CompiledRule, LoadResult, RuleProblem
from exhunt.detectors.sigma.loader import tag_ids
from exhunt.detectors.sigma.pipeline import Pipelines
from exhunt.detectors.sigma.view import EventView, first_present
from exhunt.model.event import Record
from exhunt.model.finding import Confidence, EvidenceRef, Finding, Outcome, Severity, clip

MAX_GROUPS = 5000
MAX_GROUP_EVENTS = 1000
MAX_ENTRIES = 50_000  # per correlation rule and host, all groups together
MAX_EVIDENCE = 50
SUPPORTED = {SigmaCorrelationType.EVENT_COUNT, SigmaCorrelationType.VALUE_COUNT,
             SigmaCorrelationType.TEMPORAL, SigmaCorrelationType.TEMPORAL_ORDERED}
_OPS: dict[SigmaCorrelationConditionOperator, Callable[[float, float], bool]] = {
    SigmaCorrelationConditionOperator.LT: lambda a, b: a < b,
    SigmaCorrelationConditionOperator.LTE: lambda a, b: a <= b,
    SigmaCorrelationConditionOperator.GT: lambda a, b: a > b,
    SigmaCorrelationConditionOperator.GTE: lambda a, b: a >= b,
    SigmaCorrelationConditionOperator.EQ: lambda a, b: a == b,
    SigmaCorrelationConditionOperator.NEQ: lambda a, b: a != b,
}
_LEVELS = {"informational": Severity.INFO, "low": Severity.LOW, "medium": Severity.MEDIUM,
           "high": Severity.HIGH, "critical": Severity.CRITICAL}


@dataclass(frozen=True)
class CompiledCorrelation:
    index: int
    rule_id: str
    title: str
    description: str
    file: str
    kind: SigmaCorrelationType
    timespan: float  # seconds
    refs: tuple[int, ...]  # base rule indexes, in the rule's order (temporal_ordered)
    group_by: tuple[tuple[str, dict[int, tuple[str, ...]]], ...]  # (name, base rule -> event field names)
    value_field: dict[int, tuple[str, ...]]  # value_count: base rule -> event field names
    test: Callable[[float, float], bool]
    count: float
    level: Severity
    cves: tuple[str, ...]
    attack: tuple[str, ...]


@dataclass(slots=True)
class _Entry:
    epoch: float
    ref: int
    value: str
    stamp: str
    path: str
    line: int | None
    record: int | None
    offset: int | None
    excerpt: str


@dataclass
class _Groups:
    groups: dict[tuple[str, ...], list[_Entry]] = field(default_factory=dict)
    entries: int = 0
    dropped: int = 0
    untimed: int = 0


def _epoch(stamp: str | None) -> float | None:
    if not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class Correlator:
    """Per-host state of every correlation rule."""

    def __init__(self, correlations: list[CompiledCorrelation]) -> None:
        self.correlations = correlations
        self.by_rule: dict[int, list[CompiledCorrelation]] = {}
        for corr in correlations:
            for ref in set(corr.refs):
                self.by_rule.setdefault(ref, []).append(corr)
        self.state: dict[int, _Groups] = {c.index: _Groups() for c in correlations}

    def observe(self, rule: CompiledRule, view: EventView, record: Record) -> None:
        for corr in self.by_rule.get(rule.index, ()):
            state = self.state[corr.index]
            epoch = _epoch(record.timestamp)
            if epoch is None:
                state.untimed += 1
                continue
            key = tuple(_value(view, fields.get(rule.index, ())).lower() for _, fields in corr.group_by)
            value = _value(view, corr.value_field.get(rule.index, ())) if corr.value_field else ""
            entries = state.groups.get(key)
            if entries is None:
                if len(state.groups) >= MAX_GROUPS:
                    state.dropped += 1
                    continue
                entries = state.groups[key] = []
            if state.entries >= MAX_ENTRIES and len(entries) < MAX_GROUP_EVENTS:
                state.dropped += 1
                continue
            bisect.insort(entries, _Entry(epoch, rule.index, value, record.timestamp or "", record.path,
                                          record.line, record.record, record.offset, clip(record.raw)),
                          key=_order)
            if len(entries) > MAX_GROUP_EVENTS:
                del entries[0]
                state.dropped += 1
            else:
                state.entries += 1

    def finish(self, ctx: HostContext) -> list[Finding]:
        findings: list[Finding] = []
        for corr in self.correlations:
            state = self.state[corr.index]
            fired: list[tuple[tuple[str, ...], list[_Entry]]] = []
            for key in sorted(state.groups):
                hit = _satisfied(corr, state.groups[key])
                if hit:
                    fired.append((key, hit))
            if fired:
                findings.append(_finding(corr, fired, state, ctx))
        return findings


def _order(entry: _Entry) -> tuple[float, str, int]:
    return (entry.epoch, entry.path, entry.line or entry.record or 0)


def _value(view: EventView, names: tuple[str, ...]) -> str:
    name = first_present(view, names)
    return (view.text(name) or "") if name else ""


def _window_ok(corr: CompiledCorrelation, window: list[_Entry]) -> bool:
    if corr.kind is SigmaCorrelationType.EVENT_COUNT:
        return corr.test(len(window), corr.count)
    if corr.kind is SigmaCorrelationType.VALUE_COUNT:
        return corr.test(len({e.value.lower() for e in window if e.value}), corr.count)
    if corr.kind is SigmaCorrelationType.TEMPORAL:
        return set(corr.refs) <= {e.ref for e in window}
    wanted = 0  # temporal_ordered: the referenced rules fire in their listed order
    for entry in window:
        if entry.ref == corr.refs[wanted]:
            wanted += 1
            if wanted == len(corr.refs):
                return True
    return False


def _satisfied(corr: CompiledCorrelation, entries: list[_Entry]) -> list[_Entry]:
    """The entries of every satisfied window (windows start at each entry), in time order."""
    chosen: dict[int, _Entry] = {}
    end = 0
    for start, first in enumerate(entries):
        end = max(end, start)
        while end < len(entries) and entries[end].epoch - first.epoch <= corr.timespan:
            end += 1
        window = entries[start:end]
        if _window_ok(corr, window):
            chosen.update((id(e), e) for e in window)
    return sorted(chosen.values(), key=_order)


def _finding(corr: CompiledCorrelation, fired: list[tuple[tuple[str, ...], list[_Entry]]], state: _Groups,
             ctx: HostContext) -> Finding:
    entries = sorted((e for _, es in fired for e in es), key=_order)
    evidence = tuple(EvidenceRef(path=e.path, excerpt=e.excerpt, line=e.line, record=e.record, offset=e.offset,
                                 sha256=ctx.sha256(e.path), timestamp=e.stamp or None)
                     for e in entries[:MAX_EVIDENCE])
    attrs: list[tuple[str, str]] = [("correlation", corr.kind.name.lower()), ("rule_file", corr.file)]
    for key, _ in fired[:MAX_EVIDENCE]:
        attrs.append(("group", ", ".join(f"{name}={value}" for (name, _), value in zip(corr.group_by, key,
                                                                                      strict=True)) or "all"))
    if state.dropped:
        attrs.append(("events_dropped", str(state.dropped)))
    if state.untimed:
        attrs.append(("events_without_time", str(state.untimed)))
    return Finding(host=ctx.host, rule_id=corr.rule_id, title=corr.title, severity=corr.level,
                   confidence=Confidence.MEDIUM, outcome=Outcome.SUSPICIOUS, detector="sigma",
                   cves=corr.cves, attack=corr.attack, first_seen=entries[0].stamp or None,
                   last_seen=entries[-1].stamp or None, description=corr.description, evidence=evidence,
                   evidence_total=len(entries), evidence_files=_per_file(entries), attributes=tuple(attrs))


def _per_file(entries: list[_Entry]) -> tuple[tuple[str, int], ...]:
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry.path] = counts.get(entry.path, 0) + 1
    return tuple(sorted(counts.items()))


@dataclass
class Correlations:
    rules: list[CompiledCorrelation] = field(default_factory=list)

    def correlator(self) -> Correlator:
        return Correlator(self.rules)


def _unsupported(result: LoadResult, file: str, rule: SigmaCorrelationRule, code: str, message: str) -> None:
    label = str(rule.id) if rule.id else rule.title
    result.unsupported.append(RuleProblem(file, label, code, message))


def compile_correlations(result: LoadResult, pipelines: Pipelines) -> Correlations:
    """Resolve references (by rule name or id) and compile; mark base rules that only feed correlations."""
    by_ref: dict[str, CompiledRule] = {}
    for rule in result.rules:
        if rule.sigma_id:
            by_ref[rule.sigma_id] = rule
        if rule.name:
            by_ref[rule.name] = rule
    out = Correlations()
    generate: dict[int, bool] = {}
    for file, corr in result.correlations:
        if corr.type not in SUPPORTED:
            _unsupported(result, file, corr, "correlation", f"correlation type {corr.type.name.lower()} not supported")
            continue
        if not isinstance(corr.condition, SigmaCorrelationCondition) or not corr.rules:
            _unsupported(result, file, corr, "correlation", "extended correlation conditions are not supported")
            continue
        refs = [by_ref.get(r.reference) for r in corr.rules]
        missing = [r.reference for r, c in zip(corr.rules, refs, strict=True) if c is None]
        if missing:
            _unsupported(result, file, corr, "correlation",
                         f"referenced rule not loaded or not evaluable (or a correlation): {', '.join(missing)}")
            continue
        bases = [c for c in refs if c is not None]
        aliases = {a.alias: {ref.reference: fname for ref, fname in a.mapping.items()} for a in corr.aliases}
        group_by = []
        for name in corr.group_by or []:
            per_rule = {}
            for ref, base in zip(corr.rules, bases, strict=True):
                fname = aliases.get(name, {}).get(ref.reference, name)
                per_rule[base.index] = _names(base, fname)
            group_by.append((name, per_rule))
        value_field: dict[int, tuple[str, ...]] = {}
        fieldref = corr.condition.fieldref
        if corr.type is SigmaCorrelationType.VALUE_COUNT and isinstance(fieldref, str):
            value_field = {b.index: _names(b, aliases.get(fieldref, {}).get(r.reference, fieldref))
                           for r, b in zip(corr.rules, bases, strict=True)}
        cves, attack = tag_ids(corr.tags)
        out.rules.append(CompiledCorrelation(
            index=len(out.rules), rule_id=str(corr.id) if corr.id else corr.title, title=corr.title,
            description=corr.description or "", file=file, kind=corr.type, timespan=float(corr.timespan.seconds),
            refs=tuple(b.index for b in bases), group_by=tuple(group_by), value_field=value_field,
            test=_OPS[corr.condition.op], count=corr.condition.count,
            level=_LEVELS.get(str(corr.level.name).lower(), Severity.MEDIUM) if corr.level else Severity.MEDIUM,
            cves=cves, attack=attack))
        for base in bases:
            generate[base.index] = generate.get(base.index, False) or corr.generate
    for rule in result.rules:
        if rule.index in generate:
            rule.emit = generate[rule.index]
    return out


def _names(rule: CompiledRule, name: str) -> tuple[str, ...]:
    return rule.logsource.fields.get(name.lower(), (name.lower(),))
