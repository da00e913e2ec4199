"""The per-host IOC detector: indicators against every parsed event and every file of the host.

Events: every field of every record the parsers hand over (IIS ``c-ip``, HttpProxy ``ClientIpAddress``,
EVTX network fields, command lines, hashes...). ``interest()`` gives the parsers literals to skip lines
that cannot match (None when an indicator has no literal form: regexes, wide CIDR ranges).
Files: names and paths of every artifact; MD5/SHA-1/SHA-256 of every file the YARA sweep would read
(option ``ioc_hash_scope``: ``swept``, the default, ``all`` files of the host, or ``none``; with ``none``
a coverage note says hash indicators were not checked).
One finding per indicator per host, with up to 50 evidence references and the total count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from exhunt.detectors.base import Detector, HostContext, Interest
from exhunt.detectors.ioc.indicator import HASH_TYPES, Indicator, IocType
from exhunt.detectors.ioc.matcher import Hit, Matcher
from exhunt.detectors.literalscan import LiteralScan
from exhunt.detectors.yara.sweep import hash_file, select
from exhunt.model.coverage import InputWarning
from exhunt.model.event import Record
from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.model.finding import Confidence, EvidenceRef, Finding, Outcome, Severity, clip
from exhunt.parsers.base import RouteGate

MAX_REFS = 50
MAX_ATTR_VALUES = 20
DEFAULT_SEVERITY = {IocType.USER_AGENT: Severity.LOW, IocType.MD5: Severity.HIGH, IocType.SHA1: Severity.HIGH,
                    IocType.SHA256: Severity.HIGH}
CLIENT_FIELDS = ("c-ip", "ClientIpAddress", "ClientIp", "IpAddress", "SourceAddress")  # who sent it
DEFAULT_ATTACK = {IocType.IP: ("T1190",), IocType.CIDR: ("T1190",), IocType.USER_AGENT: ("T1190",)}


@dataclass(slots=True)
class Seen:
    indicator: Indicator
    refs: list[EvidenceRef] = field(default_factory=list)
    total: int = 0
    times: list[str] = field(default_factory=list)  # first and last only
    attrs: set[tuple[str, str]] = field(default_factory=set)


def _client(record: Record) -> str:
    for name in CLIENT_FIELDS:
        value = record.fields.get(name)
        if isinstance(value, str) and value.strip() and value.strip() != "-":
            return value.strip()
    return ""


class IocDetector(Detector):
    name = "ioc"

    def __init__(self, matcher: Matcher | None, options: dict[str, Any]) -> None:
        self.matcher = matcher if matcher is not None and len(matcher) else None
        self.hash_scope = str(options.get("ioc_hash_scope", "swept"))
        self._literals = self.matcher.literals() if self.matcher else None
        # records whose raw text holds none of the literals cannot match: skip them before field matching
        self._lits = tuple(sorted(x.lower() for x in self._literals)) if self._literals else ()
        self._scan = LiteralScan(self._lits) if self._lits else None
        self._seen: dict[tuple[str, str, str], Seen] = {}
        # the EVTX reader's JSON escapes backslashes, quotes and control characters (not '/'): literals
        # holding them cannot gate on it
        self._json_safe = all(lit.isascii() and lit.isprintable() and not any(c in lit for c in '\\"')
                              for lit in self._lits)

    def interest(self, kind: ArtifactKind) -> Interest | None:
        if self.matcher is None or kind == ArtifactKind.FILE:
            return None
        if kind == ArtifactKind.EVTX and self._literals is not None and self._json_safe:
            return Interest(literals=self._literals, record_gate=self._record_gate, record_filter=self._may_use)
        return Interest(literals=self._literals, record_filter=self._may_use)

    def _record_gate(self, _channel: str | None, _event_id: int | None) -> RouteGate:
        return self._scan.gate() if self._scan is not None else False

    def on_record(self, record: Record, ctx: HostContext) -> None:
        if self.matcher is None:
            return
        if self._lits and record.raw and not self._may_match(record.raw):
            return
        done: set[Indicator] = set()
        for hit in self.matcher.match_fields(record.fields):
            if hit.indicator in done:
                continue
            done.add(hit.indicator)
            ref = EvidenceRef(path=record.path, excerpt=clip(record.raw), line=record.line, record=record.record,
                              offset=record.offset, timestamp=record.timestamp,
                              note=f"{hit.field} = {hit.observed[:200]}")
            attrs = [("matched_field", hit.field), ("source_kind", record.kind.value)]
            client = _client(record)
            if client:  # ties a weak indicator (user agent, IP) to other findings of the same client
                attrs.append(("client_ip", client))
            self._add(hit, ref, record.timestamp, attrs)

    def _may_use(self, record: Record) -> bool:
        """Whether ``on_record`` may find anything in this record (stateless; see ``Interest``)."""
        return not (self._lits and record.raw) or self._may_match(record.raw)

    def _may_match(self, raw: str) -> bool:
        return self._scan is not None and self._scan.any(raw)

    def on_file(self, artifact: Artifact, ctx: HostContext) -> None:
        if self.matcher is None:
            return
        hits = list(self.matcher.match_path(artifact.path))
        digests: dict[str, str] = {}
        if self.matcher.wants_hashes and artifact.kind == ArtifactKind.FILE:
            digests = ctx.digests.get(artifact.path)  # computed by the YARA sweep when it read the file
            if len(digests) < 3 and self._hashable(artifact, ctx):
                try:
                    digests = hash_file(ctx.tree, artifact.path).as_dict()
                except OSError as exc:
                    ctx.coverage.warn(InputWarning(artifact.path, f"cannot hash: {exc}", "unreadable"))
                else:
                    ctx.digests.put(artifact.path, digests)
            hits += list(self.matcher.match_hashes(digests))
        for hit in hits:
            ref = EvidenceRef(path=artifact.path, sha256=digests.get("sha256"), timestamp=artifact.mtime,
                              note=f"file {hit.field} matches {hit.indicator.original or hit.indicator.value}; "
                                   f"size {artifact.size} bytes")
            attrs = [("path", artifact.path), ("file_name", artifact.path.rsplit("/", 1)[-1].lower()),
                     ("matched_field", hit.field), ("size", str(artifact.size))]
            attrs += sorted(digests.items())
            if hit.indicator.step:
                attrs.append(("step", hit.indicator.step))
            self._add(hit, ref, artifact.mtime, attrs)

    def _hashable(self, artifact: Artifact, ctx: HostContext) -> bool:
        if self.hash_scope in ("all", "none"):
            return self.hash_scope == "all"
        try:
            return select(artifact.path, ctx.tree)[0]
        except OSError as exc:
            ctx.coverage.warn(InputWarning(artifact.path, f"cannot read: {exc}", "unreadable"))
            return False

    def _add(self, hit: Hit, ref: EvidenceRef, when: str | None, attrs: list[tuple[str, str]]) -> None:
        seen = self._seen.setdefault((*hit.indicator.key, hit.indicator.source), Seen(hit.indicator))
        seen.total += 1
        if len(seen.refs) < MAX_REFS:
            seen.refs.append(ref)
        if when:
            seen.times = sorted({*seen.times, when})
            seen.times = [seen.times[0], seen.times[-1]] if len(seen.times) > 1 else seen.times
        for attr in attrs:
            if sum(1 for k, _ in seen.attrs if k == attr[0]) < MAX_ATTR_VALUES:
                seen.attrs.add(attr)

    def finish(self, ctx: HostContext) -> list[Finding]:
        if self.matcher is not None and self.matcher.wants_hashes and self.hash_scope == "none":
            ctx.coverage.notes.append("IOC: file hashes were not computed (ioc_hash_scope=none): hash "
                                      "indicators were not checked against files.")
        findings = [self._finding(ctx.host, seen) for _, seen in sorted(self._seen.items())]
        return sorted(findings, key=lambda f: (f.sort_key(), f.title))

    @staticmethod
    def _finding(host: str, seen: Seen) -> Finding:
        ind = seen.indicator
        try:
            severity = Severity.parse(ind.severity) if ind.severity else DEFAULT_SEVERITY.get(ind.type,
                                                                                              Severity.MEDIUM)
        except KeyError:
            severity = Severity.MEDIUM
        confidence = (Confidence.HIGH if ind.type in HASH_TYPES
                      else Confidence.LOW if ind.type == IocType.USER_AGENT else Confidence.MEDIUM)
        shown = ind.original or ind.value
        description = f"{ind.description} " if ind.description else ""
        description += f"Indicator from: {ind.source}."
        attributes = {("indicator", shown), ("indicator_type", ind.type.value), ("ioc_source", ind.source),
                      ("family", "ioc"), *seen.attrs}
        if ind.ref:
            attributes.add(("ioc_ref", ind.ref))
        refs = sorted(seen.refs, key=lambda r: (r.path, r.line or 0, r.record or 0, r.offset or 0))
        return Finding(
            host=host, rule_id=f"EXH-IOC-{ind.type.value.upper().replace('_', '-')}",
            title=f"Known indicator ({ind.type.value}): {shown[:120]}", severity=severity, confidence=confidence,
            outcome=Outcome.SUSPICIOUS, detector="ioc", attack=ind.attack or DEFAULT_ATTACK.get(ind.type, ()),
            first_seen=seen.times[0] if seen.times else None, last_seen=seen.times[-1] if seen.times else None,
            description=description, evidence=tuple(refs), evidence_total=seen.total,
            attributes=tuple(sorted(attributes)))
