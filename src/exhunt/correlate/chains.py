"""Join the findings of one host: tie files to the log lines that wrote or used them, order the chain."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field

from exhunt.model.finding import Confidence, Finding, Outcome, Severity

CHAIN_STEPS = ("reconnaissance", "initial-access", "vdir-tamper", "webshell-write", "webshell-use", "exec",
               "credential-access", "discovery", "lateral-movement", "persistence", "collection", "staging",
               "exfiltration")
_JOIN_KEYS = ("written_path", "url", "uri", "target", "target_path", "requested", "export_path")

_Key = tuple[str, str]  # (detector, rule_id): findings of the same rule never confirm each other


def _norm_path(text: str) -> str:
    return text.replace("\\", "/").lower().rstrip()


@dataclass(slots=True)
class _Mentions:
    """Where one file name occurs (after a '/') in one rule's findings."""

    in_attribute: bool = False  # in a join attribute: counts whatever the confirmed file's own path
    evidence_paths: set[str] = field(default_factory=set)  # in an excerpt of evidence from these paths

    def ties(self, own_paths: set[str]) -> bool:
        return self.in_attribute or any(p not in own_paths for p in self.evidence_paths)


@dataclass(slots=True)
class _TieIndex:
    """Every finding's join values indexed once, so each suspicious file is tied in time linear in the findings.

    A file finding F is tied to another finding O (not F, not F's own rule) when O wrote F's path (one of O's
    ``written_path`` values, drive stripped, ends F's path) or when one of O's join attributes, or an excerpt of
    O's evidence from a file other than F's, holds ``/<F's file name>``. The index keeps, per file name asked
    for, the rules that mention it after a '/', and per written path suffix the rules that wrote it.
    """

    names: set[str]
    # the names' first ``head`` characters -> the lengths of the names that start so: at each '/', one dict
    # look-up rules out almost every position instead of one slice per name length in use
    head: int = 0
    heads: dict[str, list[int]] = field(default_factory=dict)
    mentions: dict[str, dict[_Key, _Mentions]] = field(default_factory=dict)
    written: dict[str, set[_Key]] = field(default_factory=dict)
    written_lengths: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.head = min(4, *map(len, self.names)) if self.names else 0
        for name in sorted(self.names):
            found = self.heads.setdefault(name[:self.head], [])
            if len(name) not in found:
                found.append(len(name))
        for found in self.heads.values():
            found.sort()

    def add(self, other: Finding) -> None:
        key = (other.detector, other.rule_id)
        for k, v in other.attributes:
            if k in _JOIN_KEYS:
                self._scan(_norm_path(v), key, None)
            if k == "written_path":
                suffix = _norm_path(v).split(":", 1)[-1]
                if suffix:
                    tail = suffix.lstrip("/")
                    self.written.setdefault(tail, set()).add(key)
                    self.written_lengths.add(len(tail))
        for ref in other.evidence:
            self._scan(_norm_path(ref.excerpt), key, ref.path)

    def _scan(self, value: str, key: _Key, evidence_path: str | None) -> None:
        """Record every asked-for name that follows a '/' in ``value`` (``"/" + name in value``)."""
        slash = value.find("/")
        head, heads = self.head, self.heads
        while slash >= 0:
            start = slash + 1
            for length in heads.get(value[start:start + head], ()):
                name = value[start:start + length]
                if len(name) == length and name in self.names:
                    entry = self.mentions.setdefault(name, {}).setdefault(key, _Mentions())
                    if evidence_path is None:
                        entry.in_attribute = True
                    else:
                        entry.evidence_paths.add(evidence_path)
            slash = value.find("/", start)

    def reasons(self, finding: Finding, names: Iterable[str], paths: list[str]) -> list[str]:
        own = (finding.detector, finding.rule_id)
        own_paths = set(paths)
        tied: set[str] = set()
        for name in names:
            for key, entry in self.mentions.get(name, {}).items():
                if key != own and key[1] not in tied and entry.ties(own_paths):
                    tied.add(key[1])
        for path in paths:
            for length in self.written_lengths:
                if length > len(path):
                    continue
                for key in self.written.get(path[len(path) - length:], ()):
                    if key != own:
                        tied.add(key[1])
        return sorted(tied)


def _file_names(finding: Finding) -> list[str]:
    return [n.lower() for n in finding.attr_values("file_name") if n]


def confirm_files(findings: list[Finding]) -> list[Finding]:
    """A suspicious file named by another finding (requested, written there) becomes confirmed."""
    asked = [f for f in findings if f.outcome is Outcome.SUSPICIOUS and _file_names(f)]
    if not asked:
        return list(findings)
    names = {n for f in asked for n in _file_names(f)}
    index = _TieIndex(names=names)
    for other in findings:
        index.add(other)
    result: list[Finding] = []
    for finding in findings:
        names_here = _file_names(finding)
        if finding.outcome is not Outcome.SUSPICIOUS or not names_here:
            result.append(finding)
            continue
        reasons = index.reasons(finding, names_here, [_norm_path(p) for p in finding.attr_values("path") if p])
        if not reasons:
            result.append(finding)
            continue
        result.append(dataclasses.replace(
            finding,
            outcome=Outcome.CONFIRMED,
            confidence=Confidence.HIGH,
            severity=max(finding.severity, Severity.HIGH),
            description=(finding.description + " " if finding.description else "")
            + f"Confirmed: tied to {', '.join(reasons)}.",
            attributes=tuple(sorted({*finding.attributes, *(("tied_to", r) for r in reasons)})),
        ))
    return result


def step_of(finding: Finding) -> str:
    steps = finding.attr_values("step")
    return steps[0] if steps else ""


def timeline(findings: list[Finding]) -> list[dict[str, object]]:
    """The attack chain in time order: one entry per finding that is more than informational."""
    entries: list[dict[str, object]] = []
    for finding in findings:
        if finding.outcome is Outcome.INFORMATIONAL:
            continue
        first = finding.evidence[0] if finding.evidence else None
        entry: dict[str, object] = {
            "time": finding.first_seen,
            "last_time": finding.last_seen,
            "step": step_of(finding),
            "rule_id": finding.rule_id,
            "title": finding.title,
            "outcome": finding.outcome.value,
            "severity": finding.severity.label,
            "evidence": f"{first.path}:{first.line or first.record or ''}" if first else "",
        }
        # time truth: where a file's time comes from; a copy's time is never shown as an event time
        sources = finding.attr_values("time_source")
        if sources:
            entry["time_source"] = sorted(sources)[0]
        if not finding.first_seen:
            entry["time_note"] = "write time unknown"
        entries.append(entry)
    order = {s: i for i, s in enumerate(CHAIN_STEPS)}
    entries.sort(key=lambda e: (str(e["time"] or "9999"), order.get(str(e["step"]), 99), str(e["rule_id"])))
    return entries
