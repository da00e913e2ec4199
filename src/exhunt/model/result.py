"""The result of assessing one host: plain data that crosses process and cluster boundaries."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from exhunt.model.coverage import HostCoverage
from exhunt.model.finding import Finding


class Verdict(StrEnum):
    COMPROMISED = "compromised"
    ATTEMPTED = "exploitation attempted"
    SUSPICIOUS = "suspicious activity"  # post-exploitation behaviour or suspicious artifacts, no exploit seen
    NO_SIGN = "no sign found"
    COULD_NOT_ASSESS = "could not assess"


@dataclass(slots=True)
class HostResult:
    host: str
    evidence: str  # what the user handed over for this host (path as given)
    verdict: Verdict
    verdict_reasons: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    coverage: HostCoverage = field(default_factory=HostCoverage)
    exposure: dict[str, Any] = field(default_factory=dict)  # build, open CVEs, windows (exposure issue)
    timeline: list[dict[str, Any]] = field(default_factory=list)  # the attack chain, in time order

    def to_dict(self) -> dict[str, Any]:
        return self.summary_dict() | {"findings": [f.to_dict() for f in self.findings]}

    def summary_dict(self) -> dict[str, Any]:
        """Everything but the findings (a report that writes findings on their own lines needs only this)."""
        return {
            "host": self.host,
            "evidence": self.evidence,
            "verdict": self.verdict.value,
            "verdict_reasons": list(self.verdict_reasons),
            "coverage": self.coverage.to_dict(),
            "exposure": self.exposure,
            "timeline": list(self.timeline),
        }
