"""STIX 2.1: a bundle per run — one report per host, indicators, ATT&CK attack patterns, CVE vulnerabilities.

- Identifiers are UUIDv5 derived from the content, so the same input gives the same bundle byte for byte and a
  partner who receives two runs sees the same indicator under the same id. STIX 2.1 says SDO ids *should* be
  UUIDv4: ``stix2-validator`` passes the bundle by default and with ``--interop``, and warns ({103}) on every
  id, which its ``--strict`` mode turns into a failure. exhunt keeps determinism (docs/sharing.md).
- Times come from the evidence, never from nowhere: an indicator's from the finding that saw it, a host
  report's from its findings (else its logs' coverage window), the shared objects' (identity, attack patterns,
  vulnerabilities) from the run's evidence time range; each report's description says which basis was used.
  Only when the evidence gives no time at all is the scan's time used, and said.
- Every object carries ``created_by_ref`` (the exhunt identity, which references itself) and the TLP marking
  chosen with ``--tlp``: one of the TLP marking definitions STIX 2.1 predefines, referenced by its fixed id and
  not repeated in the bundle (consumers know them; ``--interop`` would ask a copy for a ``modified`` and a
  ``created_by_ref`` that the predefined objects do not have).
- Attack patterns carry the technique's name, its ATT&CK id and URL, and its tactics as kill-chain phases, from
  exhunt's ATT&CK table; ids the table does not hold are not published as attack patterns (the report's
  description lists them).
"""

from __future__ import annotations

import uuid
from typing import Any, TextIO

import orjson

from exhunt.model.result import HostResult
from exhunt.report.attack import ATTACK_VERSION, KILL_CHAIN, split_known
from exhunt.report.base import Reporter
from exhunt.report.indicators import SharedIndicator, indicators_of
from exhunt.report.settings import ReportSettings
from exhunt.report.times import TimeRange, host_range, run_range

NAMESPACE = uuid.UUID("6f1d6c1e-9a57-4f0e-9d0c-3c7b7e2f4a11")
# STIX 2.1's own TLP marking definitions (section 7.2.1.4): fixed ids and content.
TLP_MARKINGS = {
    "clear": ("613f2e26-407d-48c7-9eca-b8e91df99dc9", "white"),
    "green": ("34098fce-860f-48ae-8e50-ebd3cc5e41da", "green"),
    "amber": ("f88d31f6-486f-44da-b317-01333bde0b82", "amber"),
    "red": ("5e57c739-391a-4eb3-b6be-7d15ca92d5ed", "red"),
}
TLP_CREATED = "2017-01-20T00:00:00.000Z"
NAME_PATTERNS = {
    "ipv4": "[ipv4-addr:value = '{v}']",
    "ipv6": "[ipv6-addr:value = '{v}']",
    "sha256": "[file:hashes.'SHA-256' = '{v}']",
    "user-agent": "[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' = '{v}']",
}


def sid(kind: str, *key: str) -> str:
    return f"{kind}--{uuid.uuid5(NAMESPACE, '|'.join((kind, *key)))}"


def stamp(value: str) -> str:
    """A canonical exhunt time (``YYYY-MM-DDTHH:MM:SS.fffZ``) as STIX writes it (the same form)."""
    return value[:23] + "Z"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def tlp_marking(level: str) -> dict[str, Any]:
    uid, name = TLP_MARKINGS[level]
    return {"type": "marking-definition", "spec_version": "2.1", "id": f"marking-definition--{uid}",
            "created": TLP_CREATED, "definition_type": "tlp", "name": f"TLP:{name.upper()}",
            "definition": {"tlp": name}}


def pattern_of(indicator: SharedIndicator) -> str:
    if indicator.kind == "file":
        pattern = f"file:name = '{_escape(indicator.value)}'"
        if indicator.directory:
            pattern += f" AND file:parent_directory_ref.path = '{_escape(indicator.directory)}'"
        return f"[{pattern}]"
    return NAME_PATTERNS[indicator.kind].format(v=_escape(indicator.value))


class _Bundle:
    def __init__(self, settings: ReportSettings, span: TimeRange) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.marking = tlp_marking(settings.tlp)
        self.identity = sid("identity", "exhunt")
        self.first = stamp(span.first) if span.first else None
        self.last = stamp(span.last) if span.last else None

    def put(self, obj: dict[str, Any]) -> str:
        obj = {"spec_version": "2.1", "created_by_ref": self.identity,
               "object_marking_refs": [self.marking["id"]], **obj}
        self.objects.setdefault(obj["id"], obj)
        return str(obj["id"])

    def shared(self, obj: dict[str, Any]) -> str:
        """An object of exhunt's knowledge (identity, technique, CVE): dated by the run's evidence range."""
        return self.put({"created": self.first, "modified": self.last, **obj})


def build_bundle(results: list[HostResult], settings: ReportSettings | None = None) -> dict[str, Any]:
    settings = settings or ReportSettings()
    span = run_range(results, settings.scan_time)
    bundle = _Bundle(settings, span)
    if bundle.first is None:  # nothing to date anything by: only the (predefined, truly dated) TLP marking
        return {"type": "bundle", "id": sid("bundle", bundle.marking["id"]), "objects": [bundle.marking]}
    bundle.shared({"type": "identity", "id": bundle.identity, "name": "exhunt", "identity_class": "system",
                   "description": "exhunt, offline Exchange compromise assessment. The times of the objects "
                                  f"it shares come from {span.describe()}."})
    for result in results:
        _host(bundle, result, settings)
    bundle_id = sid("bundle", *sorted(bundle.objects))
    return {"type": "bundle", "id": bundle_id, "objects": [bundle.objects[k] for k in sorted(bundle.objects)]}


def _host(bundle: _Bundle, result: HostResult, settings: ReportSettings) -> None:
    refs: list[str] = []
    dropped: set[str] = set()
    span = host_range(result, settings.scan_time)
    for finding in result.findings:
        techniques, unknown = split_known(finding.attack)
        dropped.update(unknown)
        technique_refs = [bundle.shared({
            "type": "attack-pattern", "id": sid("attack-pattern", t.id), "name": t.full_name(),
            "kill_chain_phases": [{"kill_chain_name": KILL_CHAIN, "phase_name": p} for p in t.tactics],
            "external_references": [{"source_name": "mitre-attack", "external_id": t.id}],
        }) for t in techniques]
        for cve in finding.cves:
            refs.append(bundle.shared({
                "type": "vulnerability", "id": sid("vulnerability", cve), "name": cve,
                "external_references": [{"source_name": "cve", "external_id": cve}]}))
        refs.extend(technique_refs)
        for indicator in indicators_of(finding):
            refs.extend(_indicator(bundle, indicator, finding.title, technique_refs))
    if span.first is None or span.last is None:
        return  # no time at all for this host: a report dated by nothing would be a false date
    description = " ".join(result.verdict_reasons + result.coverage.notes)
    description += f" Times: {span.describe()}."
    if dropped:
        description += (f" ATT&CK ids not in exhunt's ATT&CK {ATTACK_VERSION} table, not shared as attack "
                        f"patterns: {', '.join(sorted(dropped))}.")
    bundle.put({"type": "report", "id": sid("report", result.host, result.evidence),
                "created": stamp(span.first), "modified": stamp(span.last), "published": stamp(span.last),
                "name": f"exhunt: {result.host}: {result.verdict.value}", "description": description.strip(),
                "report_types": ["attack-pattern", "indicator", "vulnerability"] if refs else ["threat-report"],
                "object_refs": sorted(set(refs)) or [bundle.identity]})


def _indicator(bundle: _Bundle, indicator: SharedIndicator, title: str, techniques: list[str]) -> list[str]:
    pattern = pattern_of(indicator)
    when = stamp(indicator.first_seen) if indicator.first_seen else bundle.first
    assert when is not None
    name = indicator.full_path if indicator.kind == "file" else indicator.value
    ind_id = bundle.put({"type": "indicator", "id": sid("indicator", pattern), "created": when, "modified": when,
                         "valid_from": when, "name": f"{indicator.kind} {name}", "pattern": pattern,
                         "pattern_type": "stix", "indicator_types": ["malicious-activity"],
                         "description": f"Seen by exhunt rule {indicator.rule_id}: {title}"})
    refs = [ind_id]
    for technique in techniques:
        refs.append(bundle.put({"type": "relationship", "created": when, "modified": when,
                                "id": sid("relationship", ind_id, "indicates", technique),
                                "relationship_type": "indicates", "source_ref": ind_id, "target_ref": technique}))
    return refs


class StixReporter(Reporter):
    name = "stix"
    description = "STIX 2.1 bundle: a report per host, indicators, attack patterns, vulnerabilities, TLP marking"

    def write(self, results: list[HostResult], out: TextIO) -> None:
        bundle = build_bundle(results, self.settings)
        out.write(orjson.dumps(bundle, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode())
        out.write("\n")
