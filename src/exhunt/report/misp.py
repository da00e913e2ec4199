"""MISP event JSON: one event per host, importable into MISP (Events > Add > Import from MISP JSON)."""

from __future__ import annotations

import uuid
from typing import Any, TextIO

import orjson

from exhunt.model.finding import Severity
from exhunt.model.result import HostResult, Verdict
from exhunt.report.base import Reporter
from exhunt.report.indicators import indicators_of

NAMESPACE = uuid.UUID("0b9f3f0e-43c4-4c55-a7f1-1b0f1c2a5d77")
ATTRIBUTE_TYPES = {  # exhunt indicator kind -> (MISP type, category)
    "ipv4": ("ip-src", "Network activity"),
    "ipv6": ("ip-src", "Network activity"),
    "sha256": ("sha256", "Payload installation"),
    "file-name": ("filename", "Payload installation"),
    "file-path": ("filename", "Artifacts dropped"),
    "user-agent": ("user-agent", "Network activity"),
}
THREAT_LEVEL = {Verdict.COMPROMISED: "1", Verdict.ATTEMPTED: "2"}  # 1 high, 2 medium, 3 low, 4 undefined


def _uuid(*key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "|".join(key)))


def build_event(result: HostResult) -> dict[str, Any]:
    attributes: dict[tuple[str, str], dict[str, Any]] = {}
    tags: set[str] = {"tlp:amber", f'exhunt:verdict="{result.verdict.value}"'}
    times = sorted(f.first_seen for f in result.findings if f.first_seen)
    for finding in result.findings:
        for technique in finding.attack:
            tags.add(f'mitre-attack:attack-pattern="{technique}"')
        for cve in finding.cves:
            attributes.setdefault(("vulnerability", cve), {
                "type": "vulnerability", "category": "External analysis", "value": cve, "to_ids": False,
                "comment": finding.title, "uuid": _uuid(result.host, "vulnerability", cve)})
        for indicator in indicators_of(finding):
            kind, category = ATTRIBUTE_TYPES[indicator.kind]
            attributes.setdefault((kind, indicator.value), {
                "type": kind, "category": category, "value": indicator.value,
                "to_ids": finding.severity >= Severity.MEDIUM and indicator.kind != "file-path",
                "comment": f"{finding.rule_id}: {finding.title}",
                "first_seen": finding.first_seen, "uuid": _uuid(result.host, kind, indicator.value)})
    return {"Event": {
        "uuid": _uuid(result.host, result.evidence),
        "info": f"exhunt: {result.host}: {result.verdict.value}",
        "date": (times[0][:10] if times else "1970-01-01"),
        "threat_level_id": THREAT_LEVEL.get(result.verdict, "4"),
        "analysis": "2",
        "distribution": "0",
        "Attribute": [attributes[k] for k in sorted(attributes)],
        "Tag": [{"name": t} for t in sorted(tags)],
    }}


class MispReporter(Reporter):
    name = "misp"
    description = "MISP event JSON (one event per host; a JSON list when there are several hosts)"

    def write(self, results: list[HostResult], out: TextIO) -> None:
        events = [build_event(r) for r in results]
        payload: Any = events[0] if len(events) == 1 else events
        out.write(orjson.dumps(payload, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n")
