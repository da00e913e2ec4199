"""The per-host file detector: matches every artifact against the file rules, reads only the heads it
needs, and grades each hit: "suspicious" alone, "confirmed" when a log ties it to the attack (the same
name requested over HTTP under the folder that serves it, or the path named by a written-path log line).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from exhunt.detectors.base import Detector, HostContext, Interest, SeenAtStart
from exhunt.detectors.files.rules import FileRule, FileRuleSet, Signature
from exhunt.model.coverage import InputWarning
from exhunt.model.event import Record
from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.model.finding import EvidenceRef, Finding, Outcome, clip
from exhunt.parsers.columns import ScopedRequirement, Term

HEAD_BYTES = 256  # read for the excerpt (and the magic check) of a matching file
EXCERPT_BYTES = 160
MAX_KEYS = 4096  # distinct requested names / written paths kept per host (memory bound)
MAX_REFS = 5  # log references kept per requested name / written path
MAX_CLIENTS = 32
_UNC = re.compile(r"^//[^/]+/([a-z])\$/(.*)$")
_DRIVE = re.compile(r"^([a-z]):/(.*)$")


def escape_head(head: bytes) -> str:
    """Printable rendering of a file's first bytes: ASCII kept, the rest as \\xNN."""
    out: list[str] = []
    for byte in head[:EXCERPT_BYTES]:
        ch = chr(byte)
        if ch == "\\":
            out.append("\\\\")
        elif 0x20 <= byte < 0x7F:
            out.append(ch)
        else:
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(ch, f"\\x{byte:02x}"))
    return clip("".join(out))


def windows_path_key(text: str) -> str:
    """A Windows path as written in a log ('C:\\a\\b', '\\\\host\\c$\\a', '\\\\?\\C:\\a') as the lowercased
    host-relative form the evidence uses ('c/a/b')."""
    path = text.strip().strip('"').replace("\\", "/").lower()
    for prefix in ("//?/unc/", "//?/", "//./"):
        if path.startswith(prefix):
            path = ("//" if prefix.endswith("unc/") else "") + path[len(prefix):]
    match = _UNC.match(path) or _DRIVE.match(path)
    if match:
        path = f"{match.group(1)}/{match.group(2)}"
    return re.sub("/+", "/", path).strip("/")


def _without_drive(path: str) -> str:
    return path.split("/", 1)[1] if "/" in path else path


@dataclass
class _LogHits:
    """Log lines seen for one requested name or one written path (bounded)."""

    count: int = 0
    first: str | None = None
    last: str | None = None
    clients: set[str] = field(default_factory=set)
    clients_more: int = 0  # distinct clients beyond MAX_CLIENTS, counted not kept
    statuses: set[str] = field(default_factory=set)
    refs: list[tuple[str, int | None, int | None, str, str | None]] = field(default_factory=list)
    shown: str = ""  # the value as written in the log (URL stem, written path)

    def add(self, record: Record, shown: str, client: str = "", status: str = "") -> None:
        self.count += 1
        stamp = record.timestamp
        if stamp and (self.first is None or stamp < self.first):
            self.first = stamp
        if stamp and (self.last is None or stamp > self.last):
            self.last = stamp
        if client and client not in self.clients:
            if len(self.clients) < MAX_CLIENTS:
                self.clients.add(client)
            else:
                self.clients_more += 1
        if status and len(self.statuses) < MAX_CLIENTS:
            self.statuses.add(status)
        if len(self.refs) < MAX_REFS:
            self.refs.append((record.path, record.line, record.offset, record.raw, stamp))
        self.shown = self.shown or shown


@dataclass(frozen=True)
class _Hit:
    rule: FileRule
    artifact: Artifact
    head: bytes | None
    content: Signature | None  # the signature the head matched, if any


class FileDetector(Detector):
    name = "files"

    def __init__(self, rules: FileRuleSet, options: dict[str, Any] | None = None) -> None:
        self.rules = rules
        self.options = options or {}
        self._head_bytes = max([HEAD_BYTES, *(r.head_size() for r in rules.rules)])
        self._prefixes = sorted({p for r in rules.rules for p in r.requested_under})
        exts = [r.extensions for r in rules.rules if r.requested_under]
        self._request_exts: frozenset[str] | None = (
            None if any(not e for e in exts) else frozenset().union(*exts))
        self._requests: dict[tuple[str, str], _LogHits] = {}
        self._written: dict[tuple[str, str], _LogHits] = {}
        self._dropped = 0
        self._hits: list[_Hit] = []
        self._seen = SeenAtStart()  # artifacts already matched (in start or on_file)
        self._started = False
        self._wanted: set[str] = set()  # lowercased names of hit files that may be requested over HTTP

    def start(self, ctx: HostContext) -> None:
        """Match the host's files before the logs are read, so that only the IIS lines that name one of
        the files found are asked for (the literal '/<name>'), not every request under a folder."""
        self._started = True
        self._seen.started(ctx)
        for artifact in ctx.artifacts:
            self._match(artifact, ctx)

    # -- logs -------------------------------------------------------------------------------------------
    def interest(self, kind: ArtifactKind) -> Interest | None:
        written = {s.literal for s in self.rules.written_paths if s.kind == kind}
        literals = set(written)
        if kind == ArtifactKind.IIS:
            literals.update({f"/{name}" for name in self._wanted} if self._started else self._prefixes)
        if not literals:
            return None
        return Interest(frozenset(literals), record_filter=self.may_use, scoped=self._scoped(kind, written))

    def _scoped(self, kind: ArtifactKind, written: set[str]) -> tuple[ScopedRequirement, ...] | None:
        """What ``may_use`` needs, by field: a request's stem under a requested folder (and, once the files
        are matched, naming a wanted file: '/<name>', as the stem starts with a folder holding '/'); a written
        path's literal anywhere in the line (the rules promise it in the line, not in the field)."""
        found: list[ScopedRequirement] = [(Term(None, frozenset({literal})),) for literal in sorted(written)]
        if kind == ArtifactKind.IIS and self._prefixes:
            if not all("/" in prefix for prefix in self._prefixes):
                return None
            stem = frozenset({"cs-uri-stem"})
            under = Term(stem, frozenset(self._prefixes))
            if not self._started:
                found.append((under,))
            elif self._wanted:
                found.append((Term(stem, frozenset(f"/{name}" for name in self._wanted)), under))
        return tuple(found)

    def may_use(self, record: Record) -> bool:
        """Whether ``on_record`` would keep anything of this record (stateless; a parse worker asks it to
        keep back the records no detector uses): a request for a wanted name under a requested folder, or a
        logged path written by an exploit."""
        request = self._wanted_request(record)
        if request is not None and any(request[1].startswith(prefix) for prefix in self._prefixes):
            return True
        return next(self._written_paths(record), None) is not None

    def _wanted_request(self, record: Record) -> tuple[str, str, str] | None:
        """(stem, its lowercase, the name requested) of an IIS request for a name the rules want, else None."""
        if record.kind != ArtifactKind.IIS or not self._prefixes:
            return None
        stem = str(record.get("cs-uri-stem") or "")
        low = stem.lower()
        name = low.rsplit("/", 1)[-1]
        ext = name[name.rfind("."):] if "." in name else ""
        wanted = name in self._wanted if self._started else (self._request_exts is None or ext in self._request_exts)
        return (stem, low, name) if wanted else None

    def _written_paths(self, record: Record) -> Iterator[tuple[str, str]]:
        """(source name, path) of each logged path an exploit wrote that this record holds."""
        for source in self.rules.written_paths:
            if source.kind == record.kind:
                match = source.regex.search(str(record.get(source.field) or ""))
                if match and match.group(1):
                    yield source.name, match.group(1)

    def _slot(self, table: dict[tuple[str, str], _LogHits], key: tuple[str, str]) -> _LogHits | None:
        if key not in table:
            if len(table) >= MAX_KEYS:
                self._dropped += 1
                return None
            table[key] = _LogHits()
        return table[key]

    def on_record(self, record: Record, ctx: HostContext) -> None:
        request = self._wanted_request(record)
        if request is not None:
            stem, low, name = request
            for prefix in self._prefixes:
                if low.startswith(prefix):
                    slot = self._slot(self._requests, (prefix, name))
                    if slot is not None:
                        slot.add(record, stem, str(record.get("c-ip") or ""), str(record.get("sc-status") or ""))
        for source_name, path in self._written_paths(record):
            slot = self._slot(self._written, (source_name, windows_path_key(path)))
            if slot is not None:
                slot.add(record, path)

    # -- files ------------------------------------------------------------------------------------------
    def _head(self, artifact: Artifact, ctx: HostContext, cache: dict[str, bytes | None]) -> bytes | None:
        if "head" not in cache:
            try:
                cache["head"] = ctx.tree.read_head(artifact.path, self._head_bytes)
            except OSError as exc:
                ctx.coverage.warn(InputWarning(path=artifact.path, message=f"cannot read head: {exc}",
                                               code="unreadable"))
                cache["head"] = None
        return cache["head"]

    def on_file(self, artifact: Artifact, ctx: HostContext) -> None:
        if self._seen.first_time(artifact, ctx):
            self._match(artifact, ctx)

    def _match(self, artifact: Artifact, ctx: HostContext) -> None:
        path = artifact.path
        name = path.rsplit("/", 1)[-1]
        ext = name[name.rfind("."):].lower() if "." in name else ""
        cache: dict[str, bytes | None] = {}
        for rule in self.rules.rules:
            if rule.extensions and ext not in rule.extensions:
                continue
            if ext in rule.exclude_extensions:
                continue
            if rule.names is not None and not rule.names.match(name):
                continue
            if rule.paths is not None and not rule.paths.match(path):
                continue
            if rule.exclude_paths is not None and rule.exclude_paths.match(path):
                continue
            head = self._head(artifact, ctx, cache)
            content = next((s for s in rule.signatures if head is not None and s.matches(head)), None)
            if rule.magic_mode == "require" and content is None:
                continue
            self._hits.append(_Hit(rule, artifact, head, content))
            if rule.requested_under:
                self._wanted.add(name.lower())

    # -- findings ---------------------------------------------------------------------------------------
    def finish(self, ctx: HostContext) -> list[Finding]:
        if self._dropped:
            ctx.coverage.notes.append(
                f"file detector: {self._dropped} log lines naming files beyond the first {MAX_KEYS} distinct "
                "names were not kept for tying files to requests")
        findings = [self._finding(hit, ctx) for hit in self._hits]
        return sorted(findings, key=lambda f: (f.sort_key(), f.evidence[0].path))

    def _content_note(self, hit: _Hit, ext: str) -> tuple[str, list[tuple[str, str]]]:
        rule = hit.rule
        if rule.magic_mode is None:
            return "", []
        if hit.head is None:
            return "content could not be read", [("content_type", "unreadable")]
        if hit.content is None:
            note = (f"extension {ext or '(none)'} but the first bytes match no "
                    f"{'/'.join(s.name for s in rule.signatures)} signature: the extension lies, or the "
                    "file is damaged")
            return note, [("content_type", "unknown"), ("extension_mismatch", "true")]
        lies = bool(hit.content.extensions) and ext not in hit.content.extensions
        note = (f"content is {hit.content.name}"
                + (f", not what its extension {ext or '(none)'} says: the extension lies" if lies
                   else ", as its extension says"))
        return note, [("content_type", hit.content.name), ("extension_mismatch", str(lies).lower())]

    def _log_refs(self, hits: _LogHits, what: str, ctx: HostContext) -> list[EvidenceRef]:
        return [EvidenceRef(path=p, line=line, offset=offset, excerpt=clip(raw), sha256=ctx.sha256(p),
                            timestamp=stamp, note=what) for p, line, offset, raw, stamp in hits.refs]

    def _finding(self, hit: _Hit, ctx: HostContext) -> Finding:
        rule, artifact = hit.rule, hit.artifact
        name = artifact.path.rsplit("/", 1)[-1]
        low_name = name.lower()
        ext = low_name[low_name.rfind("."):] if "." in low_name else ""
        note, attrs = self._content_note(hit, ext)
        attrs += [("file_name", low_name), ("path", artifact.path), ("step", rule.step),
                  ("family", rule.family), ("size", str(artifact.size))]
        file_note = f"{artifact.size} bytes" + (f"; {note}" if note else "")
        evidence = [EvidenceRef(path=artifact.path, excerpt=escape_head(hit.head or b""),
                                sha256=ctx.sha256(artifact.path), timestamp=artifact.mtime, note=file_note)]
        total = 1
        ties: list[str] = []
        for prefix in rule.requested_under:
            requests = self._requests.get((prefix, low_name))
            if requests is None:
                continue
            ties.append(f"requested over HTTP as {requests.shown} {requests.count} time(s) "
                        f"from {requests.first} to {requests.last}")
            attrs += [("tied_by", "iis-request"), ("url", requests.shown)]
            attrs += [("client_ip", c) for c in requests.clients]
            attrs += [("http_status", s) for s in requests.statuses]
            if requests.clients_more:
                attrs.append(("client_ip_more", str(requests.clients_more)))
            evidence += self._log_refs(requests, "request for this file", ctx)
            total += requests.count
        key = artifact.path.lower()
        for source_name in rule.written_by:
            written = self._written.get((source_name, key))
            if written is None:
                written = next((w for (s, p), w in sorted(self._written.items())
                                if s == source_name and _without_drive(p) == _without_drive(key)), None)
            if written is None:
                continue
            ties.append(f"written as {written.shown} (logged by {source_name})")
            attrs += [("tied_by", f"written-path:{source_name}"), ("written_path", written.shown)]
            evidence += self._log_refs(written, f"log line naming this path ({source_name})", ctx)
            total += written.count
        outcome = Outcome.CONFIRMED if ties else Outcome.SUSPICIOUS
        stamps = sorted(e.timestamp for e in evidence if e.timestamp)
        where = f"Found at {artifact.path} ({file_note})."
        tied = "; ".join(ties)
        description = " ".join(x for x in (rule.description, where, tied[:1].upper() + tied[1:]
                                           + ("." if ties else "")) if x)
        return Finding(
            host=ctx.host, rule_id=rule.rule_id, title=f"{rule.title}: {name}",
            severity=rule.severity[outcome], confidence=rule.confidence, outcome=outcome,
            detector=self.name, cves=rule.cves, attack=rule.attack,
            first_seen=stamps[0] if stamps else None, last_seen=stamps[-1] if stamps else None,
            description=description, evidence=tuple(evidence), evidence_total=total,
            attributes=tuple(sorted(set(attrs))),
        )

