"""Findings: what a detector concluded, citing its evidence."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import IntEnum, StrEnum
from typing import Any

EXCERPT_LIMIT = 512  # characters of raw evidence kept per reference


class Severity(IntEnum):
    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        aliases = {"informational": "info", "information": "info"}
        key = aliases.get(text.strip().lower(), text.strip().lower())
        return cls[key.upper()]


class Confidence(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Outcome(StrEnum):
    """How far the activity went, as far as the evidence shows."""

    ATTEMPTED = "attempted"  # a request or action that failed or cannot be shown to have succeeded
    SUCCEEDED = "succeeded"  # the evidence shows the step worked (2xx from the back end, a file written...)
    SUSPICIOUS = "suspicious"  # an artifact that fits the pattern, not tied to other evidence
    CONFIRMED = "confirmed"  # an artifact tied to another finding (the file requested, the path written)
    INFORMATIONAL = "informational"  # context, not a sign of compromise on its own


def clip(text: str, limit: int = EXCERPT_LIMIT) -> str:
    """Bound an excerpt; the marker says how much was cut so nothing is dropped silently."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…[+{len(text) - limit} chars]"


@dataclass(frozen=True, slots=True)
class EvidenceRef:
    path: str  # relative to the host's evidence root, '/' separated
    excerpt: str = ""
    line: int | None = None
    record: int | None = None
    offset: int | None = None
    sha256: str | None = None
    timestamp: str | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        # every field is a str, an int or None: read directly (``asdict`` deep-copies, ~10x slower)
        return {name: value for name in _REF_FIELDS if (value := getattr(self, name)) is not None and value != ""}


_REF_FIELDS = tuple(f.name for f in fields(EvidenceRef))


@dataclass(frozen=True, slots=True)
class Finding:
    host: str
    rule_id: str
    title: str
    severity: Severity
    confidence: Confidence
    outcome: Outcome
    detector: str
    cves: tuple[str, ...] = ()
    attack: tuple[str, ...] = ()  # ATT&CK technique ids, e.g. T1190, T1505.003
    first_seen: str | None = None
    last_seen: str | None = None
    description: str = ""
    evidence: tuple[EvidenceRef, ...] = ()
    evidence_total: int = 0  # how many pieces of evidence matched; ``evidence`` may hold fewer
    # every file that gave evidence, with how many pieces (sorted by path), also those beyond ``evidence``;
    # empty when the detector does not count per file
    evidence_files: tuple[tuple[str, int], ...] = ()
    attributes: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # e.g. client_ip, written_path
    # how the verdict weighs it (exhunt.correlate.weigh, docs/verdicts.md): compromise, attempt, weak,
    # known-benign, context; empty until the correlation has weighed it
    evidence_class: str = ""
    status: str = ""  # "" or "suppressed: known benign" (kept in every output, does not move the verdict)

    def attr_values(self, name: str) -> list[str]:
        return [v for k, v in self.attributes if k == name]

    def sort_key(self) -> tuple[str, str, str, str]:
        return (self.first_seen or "", self.rule_id, self.evidence[0].path if self.evidence else "", self.title)

    def to_dict(self) -> dict[str, Any]:
        attrs: dict[str, list[str]] = {}
        for key, value in self.attributes:
            attrs.setdefault(key, []).append(value)
        return {
            "host": self.host,
            "rule_id": self.rule_id,
            "title": self.title,
            "severity": self.severity.label,
            "confidence": self.confidence.value,
            "outcome": self.outcome.value,
            "detector": self.detector,
            "cves": list(self.cves),
            "attack": list(self.attack),
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "description": self.description,
            "evidence_total": max(self.evidence_total, len(self.evidence)),
            "evidence": [e.to_dict() for e in self.evidence],
            "attributes": attrs,
            "evidence_class": self.evidence_class,
            "status": self.status,
        } | ({"evidence_files": [{"path": p, "count": n} for p, n in self.evidence_files]}
             if self.evidence_files else {})
