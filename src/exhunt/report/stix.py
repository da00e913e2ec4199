"""STIX 2.1: a bundle per run — one report per host, indicators, ATT&CK attack patterns, CVE vulnerabilities.

Identifiers are derived from the content (UUIDv5), and timestamps from the evidence, so the same input gives
the same bundle byte for byte.
"""

from __future__ import annotations

import uuid
from typing import Any, TextIO

import orjson

from exhunt.model.result import HostResult
from exhunt.report.base import Reporter
from exhunt.report.indicators import SharedIndicator, indicators_of

NAMESPACE = uuid.UUID("6f1d6c1e-9a57-4f0e-9d0c-3c7b7e2f4a11")
EPOCH = "1970-01-01T00:00:00.000Z"
PATTERNS = {
    "ipv4": "[ipv4-addr:value = '{v}']",
    "ipv6": "[ipv6-addr:value = '{v}']",
    "sha256": "[file:hashes.'SHA-256' = '{v}']",
    "file-name": "[file:name = '{v}']",
    "file-path": "[file:name = '{v}']",
    "user-agent": "[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' = '{v}']",
}


def sid(kind: str, *key: str) -> str:
    return f"{kind}--{uuid.uuid5(NAMESPACE, '|'.join((kind, *key)))}"


def stamp(value: str | None) -> str:
    if not value:
        return EPOCH
    text = value.replace(" ", "T")
    if text.endswith("Z"):
        text = text[:-1]
    if "." not in text:
        text += ".000"
    return text[:23] + "Z"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def build_bundle(results: list[HostResult]) -> dict[str, Any]:
    objects: dict[str, dict[str, Any]] = {}
    identity = sid("identity", "exhunt")
    objects[identity] = {"type": "identity", "spec_version": "2.1", "id": identity, "created": EPOCH,
                         "modified": EPOCH, "name": "exhunt", "identity_class": "system"}

    def put(obj: dict[str, Any]) -> str:
        objects.setdefault(obj["id"], obj)
        return str(obj["id"])

    for result in results:
        refs: list[str] = []
        times = [f.first_seen for f in result.findings if f.first_seen]
        report_time = stamp(min(times) if times else None)
        for finding in result.findings:
            technique_refs = []
            for technique in finding.attack:
                technique_refs.append(put({
                    "type": "attack-pattern", "spec_version": "2.1", "id": sid("attack-pattern", technique),
                    "created": EPOCH, "modified": EPOCH, "name": technique, "created_by_ref": identity,
                    "external_references": [{"source_name": "mitre-attack", "external_id": technique}]}))
            for cve in finding.cves:
                refs.append(put({
                    "type": "vulnerability", "spec_version": "2.1", "id": sid("vulnerability", cve),
                    "created": EPOCH, "modified": EPOCH, "name": cve, "created_by_ref": identity,
                    "external_references": [{"source_name": "cve", "external_id": cve}]}))
            refs.extend(technique_refs)
            for indicator in indicators_of(finding):
                refs.extend(_indicator(put, indicator, finding.title, technique_refs, identity))
        report_id = sid("report", result.host, result.evidence)
        put({"type": "report", "spec_version": "2.1", "id": report_id, "created": report_time,
             "modified": report_time, "published": report_time, "created_by_ref": identity,
             "name": f"exhunt: {result.host}: {result.verdict.value}",
             "description": " ".join(result.verdict_reasons + result.coverage.notes),
             "report_types": ["attack-pattern", "indicator", "vulnerability"] if refs else ["threat-report"],
             "object_refs": sorted(set(refs)) or [identity]})
    bundle_id = sid("bundle", *sorted(objects))
    return {"type": "bundle", "id": bundle_id, "objects": [objects[k] for k in sorted(objects)]}


def _indicator(put: Any, indicator: SharedIndicator, title: str, techniques: list[str], identity: str) -> list[str]:
    pattern = PATTERNS[indicator.kind].format(v=_escape(indicator.value))
    when = stamp(indicator.first_seen)
    ind_id = put({"type": "indicator", "spec_version": "2.1", "id": sid("indicator", pattern),
                  "created": when, "modified": when, "valid_from": when, "created_by_ref": identity,
                  "name": f"{indicator.kind} {indicator.value}", "pattern": pattern, "pattern_type": "stix",
                  "indicator_types": ["malicious-activity"],
                  "description": f"Seen by exhunt rule {indicator.rule_id}: {title}"})
    refs = [ind_id]
    for technique in techniques:
        refs.append(put({"type": "relationship", "spec_version": "2.1", "created": when, "modified": when,
                         "id": sid("relationship", ind_id, "indicates", technique),
                         "relationship_type": "indicates", "source_ref": ind_id, "target_ref": technique,
                         "created_by_ref": identity}))
    return refs


class StixReporter(Reporter):
    name = "stix"
    description = "STIX 2.1 bundle: a report per host, indicators, attack patterns, vulnerabilities"

    def write(self, results: list[HostResult], out: TextIO) -> None:
        out.write(orjson.dumps(build_bundle(results), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode())
        out.write("\n")
