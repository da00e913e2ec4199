"""The known-benign catalogue (``rules/verdict/known_benign.yaml``): findings that match an entry stay in
every output, marked "suppressed: known benign" with the entry's reason and reference, and never move the
verdict. Nothing disappears: the evidence, the counts and the rule stay as the detector made them."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from exhunt.content.bundle import RULES_DIR
from exhunt.content.yamlio import load_yaml
from exhunt.model.finding import Finding, Outcome

CATALOGUE = RULES_DIR / "verdict" / "known_benign.yaml"
SUPPRESSED = "suppressed: known benign"
KNOWN_BENIGN = "known-benign"


@dataclass(frozen=True, slots=True)
class BenignEntry:
    id: str
    title: str
    rules: frozenset[str]
    outcome: Outcome | None
    attribute: str
    values: re.Pattern[str]
    reason: str
    reference: str
    positive: tuple[str, ...] = ()
    negative: tuple[str, ...] = ()

    def value_matches(self, value: str) -> bool:
        return self.values.search(value) is not None

    def matches(self, finding: Finding) -> bool:
        if finding.rule_id not in self.rules or (self.outcome is not None and finding.outcome is not self.outcome):
            return False
        values = finding.attr_values(self.attribute)
        # a finding listing fewer values than it saw ("<name>_more") may hide another one: never suppressed
        if not values or finding.attr_values(f"{self.attribute}_more"):
            return False
        return all(self.value_matches(v) for v in values)


def _entry(raw: dict[str, object], where: str) -> BenignEntry:
    try:
        samples = raw.get("samples") or {}
        assert isinstance(samples, dict)
        outcome = raw.get("outcome")
        return BenignEntry(
            id=str(raw["id"]), title=str(raw["title"]), rules=frozenset(str(r) for r in raw["rules"]),  # type: ignore[attr-defined]
            outcome=Outcome(str(outcome)) if outcome else None, attribute=str(raw["attribute"]),
            values=re.compile(str(raw["values"])), reason=" ".join(str(raw["reason"]).split()),
            reference=str(raw["reference"]), positive=tuple(samples.get("positive", ())),
            negative=tuple(samples.get("negative", ())))
    except (KeyError, TypeError, ValueError, AssertionError, re.error) as exc:
        raise ValueError(f"{where}: bad known-benign entry {raw.get('id', '?')}: {exc}") from exc


def load_catalogue(path: Path = CATALOGUE) -> tuple[BenignEntry, ...]:
    data = load_yaml(path.read_text(encoding="utf-8")) or {}
    return tuple(_entry(raw, str(path)) for raw in data.get("entries", []))


@cache
def catalogue() -> tuple[BenignEntry, ...]:
    return load_catalogue()


def mark_known_benign(findings: list[Finding], entries: tuple[BenignEntry, ...] | None = None) -> list[Finding]:
    """Findings matching a catalogue entry get the status "suppressed: known benign", the class
    known-benign, and the entry's id, reason and reference as attributes."""
    entries = catalogue() if entries is None else entries
    marked: list[Finding] = []
    for finding in findings:
        entry = next((e for e in entries if e.matches(finding)), None)
        if entry is None:
            marked.append(finding)
            continue
        marked.append(dataclasses.replace(
            finding, status=SUPPRESSED, evidence_class=KNOWN_BENIGN,
            description=(finding.description + " " if finding.description else "")
            + f"Suppressed: known benign ({entry.id}): {entry.reason} Reference: {entry.reference}",
            attributes=tuple(sorted({*finding.attributes, ("known_benign", entry.id),
                                     ("known_benign_reason", entry.reason),
                                     ("known_benign_reference", entry.reference)}))))
    return marked
