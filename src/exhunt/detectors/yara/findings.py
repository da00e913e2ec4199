"""Turn one YARA hit on one file into a finding that cites the file, its hashes and the matching bytes.

Rule metadata read (exhunt's own rules set all of them; a user's rules may set some):
``id``, ``title``, ``description``, ``attack`` (comma-separated ATT&CK ids), ``cve``, ``family``, ``step``,
``severity``, ``confidence``; signature-base style ``score`` (0-100) gives the severity when
``severity`` is absent, and tags such as ``T1505_003`` give ATT&CK ids.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from exhunt.detectors.yara.scanner import Hit
from exhunt.detectors.yara.sweep import FileHashes
from exhunt.model.event import Record
from exhunt.model.evidence import Artifact
from exhunt.model.finding import Confidence, EvidenceRef, Finding, Outcome, Severity, clip

_ATTACK_TAG = re.compile(r"^T(\d{4})(?:[._](\d{3}))?$", re.IGNORECASE)
_CVE_TAG = re.compile(r"^CVE[-_](\d{4})[-_](\d{4,7})$", re.IGNORECASE)
IP_FIELDS = ("c-ip", "ClientIpAddress")
UA_FIELDS = ("cs(User-Agent)", "UserAgent")
STATUS_FIELDS = ("sc-status", "HttpStatus")
METHOD_FIELDS = ("cs-method", "Method")


def _first(record: Record, names: tuple[str, ...]) -> str:
    for name in names:
        value = record.get(name)
        if value not in (None, ""):
            return str(value)
    return ""


@dataclass(frozen=True, slots=True)
class RequestSeen:
    """A web request for a file that matched: the join that makes a finding CONFIRMED."""

    path: str
    line: int | None
    offset: int | None
    timestamp: str | None
    stem: str
    client_ip: str
    user_agent: str
    status: str
    method: str
    excerpt: str

    @classmethod
    def from_record(cls, record: Record, stem: str, excerpt: str) -> RequestSeen:
        return cls(record.path, record.line, record.offset, record.timestamp, stem,
                   _first(record, IP_FIELDS), _first(record, UA_FIELDS), _first(record, STATUS_FIELDS),
                   _first(record, METHOD_FIELDS), excerpt)


def _split(value: str) -> tuple[str, ...]:
    return tuple(sorted({v.strip() for v in value.split(",") if v.strip()}))


def _severity(hit: Hit) -> Severity:
    text = hit.meta_value("severity")
    if text:
        try:
            return Severity.parse(text)
        except KeyError:
            pass
    score = hit.meta_value("score")
    if score.isdigit():
        value = int(score)
        return (Severity.CRITICAL if value >= 90 else Severity.HIGH if value >= 75
                else Severity.MEDIUM if value >= 50 else Severity.LOW)
    return Severity.MEDIUM


def _confidence(hit: Hit) -> Confidence:
    try:
        return Confidence(hit.meta_value("confidence", "medium").strip().lower())
    except ValueError:
        return Confidence.MEDIUM


def _attack(hit: Hit) -> tuple[str, ...]:
    found = set(_split(hit.meta_value("attack")))
    for tag in hit.tags:
        match = _ATTACK_TAG.match(tag)
        if match:
            found.add(f"T{match.group(1)}" + (f".{match.group(2)}" if match.group(2) else ""))
    return tuple(sorted(found))


def _cves(hit: Hit) -> tuple[str, ...]:
    found = set(_split(hit.meta_value("cve")))
    for tag in hit.tags:
        match = _CVE_TAG.match(tag)
        if match:
            found.add(f"CVE-{match.group(1)}-{match.group(2)}")
    return tuple(sorted(found))


def build_finding(host: str, artifact: Artifact, location: str, hashes: FileHashes | None, hit: Hit,
                  shipped: bool, requests: list[RequestSeen], request_total: int,
                  page: str | None = None) -> Finding:
    rule_id = hit.meta_value("id") if shipped and hit.meta_value("id") else f"YARA-{hit.namespace}:{hit.rule}"
    title = hit.meta_value("title") or hit.meta_value("description") or hit.rule
    name = artifact.path.rsplit("/", 1)[-1]
    sha256 = hashes.sha256 if hashes else None
    note = f"YARA rule {hit.namespace}:{hit.rule}" + (f" pattern {hit.pattern}" if hit.pattern else "")
    note += f"; size {artifact.size} bytes"
    if hashes:
        note += f"; MD5 {hashes.md5}; SHA-1 {hashes.sha1}"
    evidence = [EvidenceRef(path=artifact.path, excerpt=clip(hit.excerpt), offset=hit.offset, sha256=sha256,
                            timestamp=artifact.mtime, note=note)]
    for seen in requests:
        evidence.append(EvidenceRef(path=seen.path, excerpt=seen.excerpt, line=seen.line, offset=seen.offset,
                                    timestamp=seen.timestamp, note=f"request for {seen.stem}"))
    step = hit.meta_value("step") or ("webshell-write" if location == "web-root" else "")
    attributes = [("path", artifact.path), ("file_name", name.lower()), ("size", str(artifact.size)),
                  ("yara_rule", f"{hit.namespace}:{hit.rule}"), ("family", hit.meta_value("family", "yara"))]
    if step:
        attributes.append(("step", step))
    if page:  # compiled by ASP.NET from this page: join on the page's name as well
        attributes += [("source_page", page), ("file_name", page.rstrip("/").rsplit("/", 1)[-1].lower())]
    if location:
        attributes.append(("location", location))
    if artifact.mtime:
        attributes.append(("mtime", artifact.mtime))
    if hashes:
        attributes += [("md5", hashes.md5), ("sha1", hashes.sha1), ("sha256", hashes.sha256)]
    for seen in requests:
        if seen.client_ip:
            attributes.append(("client_ip", seen.client_ip))
        if seen.user_agent:
            attributes.append(("user_agent", seen.user_agent))
    times = sorted(t for t in [artifact.mtime, *(s.timestamp for s in requests)] if t)
    confirmed = request_total > 0
    description = hit.meta_value("description") or title
    if page:
        description += f" ASP.NET compiled it from the page {page}."
    if confirmed:
        description += f" The file was requested {request_total} time(s) in the web logs."
    return Finding(
        host=host, rule_id=rule_id, title=title, severity=_severity(hit), confidence=_confidence(hit),
        outcome=Outcome.CONFIRMED if confirmed else Outcome.SUSPICIOUS, detector="yara",
        cves=_cves(hit), attack=_attack(hit), first_seen=times[0] if times else None,
        last_seen=times[-1] if times else None, description=description, evidence=tuple(evidence),
        evidence_total=1 + request_total, attributes=tuple(sorted(set(attributes))))
