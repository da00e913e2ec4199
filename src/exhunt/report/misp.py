"""MISP event JSON: one event per host, importable into MISP and PyMISP as they are.

- One host: a single ``{"Event": {...}}`` (MISP: Events > Add > Import from MISP JSON; PyMISP
  ``MISPEvent.load_file``). Several hosts: ``{"response": [{"Event": ...}, ...]}``, the form MISP's own
  ``/events/restSearch`` returns and its JSON import and PyMISP accept (each element is one host's event).
- Addresses, user agents and CVEs are attributes; each file is a MISP ``file`` object holding its name
  (``filename``), the directory it was found in or written to (``path``) and, for a file on disk, its SHA-256.
- ATT&CK as MISP's galaxy tags ``misp-galaxy:mitre-attack-pattern="<name> - T…"`` (names from exhunt's ATT&CK
  table; ids it does not hold are listed in the event's comment, not tagged); the TLP chosen with ``--tlp``.
- ``to_ids`` depends on the kind of value only (see ``indicators.py``), the same in every event.
- The event's ``date`` is the host's first evidence time (its findings', else its logs'); with no time at all,
  the scan's day, said in the event's comment; never a made-up date.
"""

from __future__ import annotations

import uuid
from typing import Any, TextIO

import orjson

from exhunt.model.result import HostResult, Verdict
from exhunt.report.attack import ATTACK_VERSION, split_known
from exhunt.report.base import Reporter
from exhunt.report.indicators import SharedIndicator, indicators_of, split_path, subject_files, windows_directory
from exhunt.report.settings import ReportSettings
from exhunt.report.times import host_range

NAMESPACE = uuid.UUID("0b9f3f0e-43c4-4c55-a7f1-1b0f1c2a5d77")
ATTRIBUTE_TYPES = {  # exhunt indicator kind -> (MISP type, category)
    "ipv4": ("ip-src", "Network activity"),
    "ipv6": ("ip-src", "Network activity"),
    "user-agent": ("user-agent", "Network activity"),
}
FILE_OBJECT_TEMPLATE = ("688c46fb-5edb-40a3-8273-1af7923e2215", "25")  # MISP's "file" object template
# MISP threat levels: 1 high, 2 medium, 3 low, 4 undefined
THREAT_LEVEL = {Verdict.COMPROMISED: "1", Verdict.ATTEMPTED: "2", Verdict.SUSPICIOUS: "2"}


def _uuid(*key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "|".join(key)))


def _attribute(host: str, kind: str, category: str, value: str, to_ids: bool, comment: str,
               first_seen: str | None, relation: str | None = None) -> dict[str, Any]:
    attribute: dict[str, Any] = {"type": kind, "category": category, "value": value, "to_ids": to_ids,
                                 "comment": comment, "uuid": _uuid(host, relation or "", kind, value),
                                 "disable_correlation": False}
    if relation:
        attribute["object_relation"] = relation
    if first_seen:
        attribute["first_seen"] = first_seen
    return attribute


def _file_objects(host: str, files: dict[tuple[str, str], tuple[SharedIndicator, list[str], str]],
                  ) -> list[dict[str, Any]]:
    objects = []
    for key in sorted(files):
        indicator, hashes, comment = files[key]
        attrs = [_attribute(host, "filename", "Payload installation", indicator.value, indicator.to_ids, comment,
                            indicator.first_seen, "filename")]
        if indicator.directory:
            attrs.append(_attribute(host, "text", "Payload installation", indicator.directory, False, comment,
                                    indicator.first_seen, "path"))
        for sha in sorted(set(hashes)):
            attrs.append(_attribute(host, "sha256", "Payload installation", sha, True, comment,
                                    indicator.first_seen, "sha256"))
        objects.append({"name": "file", "meta-category": "file", "template_uuid": FILE_OBJECT_TEMPLATE[0],
                        "template_version": FILE_OBJECT_TEMPLATE[1], "description": "File object",
                        "uuid": _uuid(host, "file", *key), "comment": comment, "distribution": "5",
                        "Attribute": attrs})
    return objects


def build_event(result: HostResult, settings: ReportSettings | None = None) -> dict[str, Any]:
    settings = settings or ReportSettings()
    attributes: dict[tuple[str, str], dict[str, Any]] = {}
    files: dict[tuple[str, str], tuple[SharedIndicator, list[str], str]] = {}
    tags: set[str] = {f"tlp:{settings.tlp}", f'exhunt:verdict="{result.verdict.value}"'}
    dropped: set[str] = set()
    for finding in result.findings:
        techniques, unknown = split_known(finding.attack)
        dropped.update(unknown)
        for technique in techniques:
            tags.add(f'misp-galaxy:mitre-attack-pattern="{technique.full_name()} - {technique.id}"')
        for cve in finding.cves:
            attributes.setdefault(("vulnerability", cve), _attribute(
                result.host, "vulnerability", "External analysis", cve, False, finding.title, None))
        comment = f"{finding.rule_id}: {finding.title}"
        hashes = {(windows_directory(ref.path).casefold(), split_path(ref.path)[1].casefold()): ref.sha256.lower()
                  for ref in subject_files(finding) if ref.sha256}
        for indicator in indicators_of(finding):
            if indicator.kind == "file":
                key = (indicator.directory.casefold(), indicator.value.casefold())
                entry = files.setdefault(key, (indicator, [], comment))
                if key in hashes:
                    entry[1].append(hashes[key])
            elif indicator.kind != "sha256":  # a hash is carried by the file object of its file
                kind, category = ATTRIBUTE_TYPES[indicator.kind]
                attributes.setdefault((kind, indicator.value), _attribute(
                    result.host, kind, category, indicator.value, indicator.to_ids, comment,
                    indicator.first_seen))
    span = host_range(result, settings.scan_time)
    comment = f"Times: {span.describe()}."
    if dropped:
        comment += (f" ATT&CK ids not in exhunt's ATT&CK {ATTACK_VERSION} table, not tagged: "
                    f"{', '.join(sorted(dropped))}.")
    event: dict[str, Any] = {
        "uuid": _uuid(result.host, result.evidence),
        "info": f"exhunt: {result.host}: {result.verdict.value}",
        "threat_level_id": THREAT_LEVEL.get(result.verdict, "4"),
        "analysis": "2",
        "distribution": "0",
        "published": False,
        "Attribute": [attributes[k] for k in sorted(attributes)]
                     + [_attribute(result.host, "comment", "Other", comment, False, "exhunt", None)],
        "Object": _file_objects(result.host, files),
        "Tag": [{"name": t} for t in sorted(tags)],
    }
    if span.first:
        event["date"] = span.first[:10]
    return {"Event": event}


class MispReporter(Reporter):
    name = "misp"
    description = 'MISP event JSON: one event per host; several hosts as {"response": [events]}'

    def write(self, results: list[HostResult], out: TextIO) -> None:
        events = [build_event(r, self.settings) for r in results]
        payload: Any = events[0] if len(events) == 1 else {"response": events}
        out.write(orjson.dumps(payload, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n")
