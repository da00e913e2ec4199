"""Per-host file-system detector: $MFT entries and USN journal records -> true file times and findings.

It keeps only what the rules select (bounded memory, whatever the size of the $MFT or the journal):

- the NTFS times of every file present in the evidence (``ctx.file_times``, by evidence path), which the
  correlation step puts in place of the copy's modification time;
- per file reference, a summary of the USN records whose name a rule can select (created, written,
  renamed, deleted, with up to ``REFS`` records cited);
- the $MFT entries that a rule selects by path, and the folders that journal records name as parents (a
  USN record holds only the name and the parent's entry number: its folder comes from the $MFT).

``finish`` reports each selected file that is gone (USN FILE_DELETE, or an $MFT entry no longer in use) and
each selected file whose $STANDARD_INFORMATION times were set back (timestomping).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from exhunt.detectors.base import Detector, HostContext, Interest
from exhunt.detectors.files.detector import windows_path_key
from exhunt.detectors.files.rules import WrittenPathSource
from exhunt.detectors.fs.findings import Gone, Kept, Life, Tie, gone_findings, seconds, stomp_findings
from exhunt.detectors.fs.rules import FsRule, FsRuleSet, name_literals
from exhunt.model.coverage import InputWarning
from exhunt.model.event import Record
from exhunt.model.evidence import ArtifactKind
from exhunt.model.filetimes import FileTimes
from exhunt.model.finding import EvidenceRef, Finding, clip
from exhunt.parsers.columns import ScopedRequirement, Term, requirement_key
from exhunt.parsers.usn import FILE_CREATE, FILE_DELETE, RENAME_NEW, RENAME_OLD, WRITE
from exhunt.sources.listing import paths_of

REFS = 6  # journal records cited per file
MAX_LIVES = 200_000  # file references followed in the journal; beyond, counted and warned about
MAX_ENTRIES = 20_000  # selected $MFT entries kept
MAX_DIRS = 500_000  # folders kept to name the parents of journal records
MAX_REQUEST_NAMES = 5_000  # page names whose requests are kept to tie gone files to them
MAX_REQUESTS_PER_NAME = 20
TIE_SLACK = 60  # seconds before creation / after deletion a request still ties to the file


class FsDetector(Detector):
    name = "fs"

    def __init__(self, rules: FsRuleSet, options: dict[str, Any],
                 written_paths: list[WrittenPathSource] | None = None) -> None:
        self.rules = rules.rules
        self.stomp = rules.stomp
        self.options = options
        wanted = {name for r in self.rules for name in r.written_by}
        self.sources = [w for w in written_paths or [] if w.name in wanted]
        # lowercased host path written by a logged exploit -> (source name, evidence of the log line)
        self.written: dict[str, tuple[str, EvidenceRef]] = {}
        self.present: dict[str, str] | None = None  # lowercased host path -> evidence path (case as stored)
        self.lives: dict[tuple[str, int, int], Life] = {}
        self.lives_dropped = 0
        self.parents: set[tuple[str, int]] = set()
        self.dirs: dict[tuple[str, int], tuple[int, str]] = {}
        self.kept: dict[tuple[str, int, int], Kept] = {}
        self.dropped = 0
        self.requests: dict[str, list[tuple[str, str, str, EvidenceRef]]] = {}  # name -> (time, stem, ip, ref)
        self.requests_dropped = 0
        prefixes = sorted({p for r in self.rules for p in r.requested_under})
        exts = sorted({e for r in self.rules if r.requested_under for e in r.extensions})
        methods = sorted({m.lower() for r in self.rules if r.requested_under for m in r.request_methods})
        groups = [frozenset(g) for g in (methods, exts, prefixes) if g]
        # a file name no rule can select is dropped at once (most of an $MFT, most of a journal)
        exts = sorted({re.escape(e) for r in self.rules if r.names is None for e in r.extensions})
        names = [r.names.pattern for r in self.rules if r.names is not None]
        parts = ([f"(?:{'|'.join(exts)})\\Z"] if exts else []) + [f"\\A{n}" for n in names]
        self.selectable = re.compile("|".join(parts), re.IGNORECASE | re.DOTALL) if parts else None
        literals = name_literals(self.rules)
        self.usn_interest = Interest(None if literals is None else frozenset(literals))
        self.request_interest = Interest(frozenset().union(*groups), (tuple(groups),)) if prefixes else None
        # (prefix, methods, extensions) of each rule's requested pages (``_may_reach``)
        self._requested = [(p, r.request_methods, tuple(r.extensions)) for r in self.rules for p in r.requested_under]
        self._prefixes = tuple(p for p, _, _ in self._requested)
        # the same by field, for the column gate: each rule's folder and extension in the stem, its methods
        # in the method (a rule without extensions reaches no page)
        stem, method = frozenset({"cs-uri-stem"}), frozenset({"cs-method"})
        self._scoped_requests: tuple[ScopedRequirement, ...] = tuple(sorted(
            {(Term(stem, frozenset({prefix})), Term(stem, frozenset(extensions)),
              *((Term(method, frozenset(m.lower() for m in methods)),) if methods else ()))
             for prefix, methods, extensions in self._requested if extensions}, key=requirement_key))

    def start(self, ctx: HostContext) -> None:
        self.present = None  # built at the first $MFT entry: a host without one does not pay for it

    def interest(self, kind: ArtifactKind) -> Interest | None:
        if kind is ArtifactKind.MFT:  # every entry: the files present need their times too
            return Interest(literals=None)
        if kind is ArtifactKind.USN:  # records whose file name a rule may select
            return self.usn_interest
        literals = {w.literal for w in self.sources if w.kind == kind}
        if kind is ArtifactKind.IIS:
            if literals and self.request_interest is not None:  # either kind of line is of use
                written = tuple((Term(None, frozenset({literal})),) for literal in sorted(literals))
                return Interest(self.request_interest.literals | frozenset(literals) if
                                self.request_interest.literals is not None else None,
                                record_filter=self.may_use, scoped=self._scoped_requests + written)
            if not literals:
                return None if self.request_interest is None else replace(
                    self.request_interest, record_filter=self.may_use, scoped=self._scoped_requests)
            return Interest(frozenset(literals), record_filter=self.may_use)
        return Interest(frozenset(literals), record_filter=self.may_use) if literals else None

    def may_use(self, record: Record) -> bool:
        """Whether ``on_record`` would keep anything of this log record (stateless; a parse worker asks it to
        keep back the records no detector uses): a request that could reach a selected page, or a logged
        path an exploit wrote. Over-approximates: the time is not looked at."""
        if record.kind is ArtifactKind.IIS and self._may_reach(record) is not None:
            return True
        return next(self._written_paths(record), None) is not None

    def _may_reach(self, record: Record) -> tuple[str, str] | None:
        """(lowercase stem, name) of a request that could reach a selected page, else None."""
        if not self._requested:
            return None
        stem = str(record.get("cs-uri-stem") or "").lower()
        if not stem.startswith(self._prefixes):
            return None
        method = str(record.get("cs-method") or "").upper()
        name = stem.rsplit("/", 1)[-1]
        if any(stem.startswith(prefix) and (not methods or method in methods) and name.endswith(extensions)
               for prefix, methods, extensions in self._requested):
            return stem, name
        return None

    def _written_paths(self, record: Record) -> Iterator[tuple[str, str]]:
        """(source name, path) of each logged path an exploit wrote that this record holds."""
        for source in self.sources:
            if source.kind == record.kind:
                match = source.regex.search(str(record.get(source.field) or ""))
                if match and match.group(1):
                    yield source.name, match.group(1)

    def on_record(self, record: Record, ctx: HostContext) -> None:
        if record.kind is ArtifactKind.USN:
            self._usn(record)
        elif record.kind is ArtifactKind.MFT:
            self._mft(record, ctx)
        else:
            if record.kind is ArtifactKind.IIS:
                self._request(record)
            self._written_path(record)

    def _written_path(self, record: Record) -> None:
        for source_name, path in self._written_paths(record):
            if len(self.written) < MAX_REQUEST_NAMES:
                self.written.setdefault(windows_path_key(path), (source_name, EvidenceRef(
                    path=record.path, excerpt=clip(record.raw), line=record.line, offset=record.offset,
                    timestamp=record.timestamp, note=f"a logged exploit wrote {path}")))

    def _request(self, record: Record) -> None:
        """Keep requests that could reach a selected page (its name tells which files they may tie to)."""
        reach = self._may_reach(record)
        if reach is None or not record.timestamp:
            return
        stem, name = reach
        slot = self.requests.get(name)
        if slot is None:
            if len(self.requests) >= MAX_REQUEST_NAMES:
                self.requests_dropped += 1
                return
            slot = self.requests[name] = []
        if len(slot) < MAX_REQUESTS_PER_NAME:
            slot.append((record.timestamp, stem, str(record.get("c-ip") or ""), EvidenceRef(
                path=record.path, excerpt=clip(record.raw), line=record.line, offset=record.offset,
                timestamp=record.timestamp, note="request for this file while it existed")))

    def _may_select(self, name: str) -> bool:
        """Whether some rule may select a file of this name (one regular expression for every rule)."""
        return self.selectable is not None and self.selectable.search(name) is not None

    # -- the journal ---------------------------------------------------------------------------------------

    def _usn(self, record: Record) -> None:
        fields = record.fields
        name: str = fields["name"]
        if not self._may_select(name):
            return
        drive = record.attrs.get("drive", "C")
        key = (drive, int(fields["file_entry"]), int(fields["file_seq"]))
        life = self.lives.get(key)
        if life is None:
            if len(self.lives) >= MAX_LIVES:
                self.lives_dropped += 1
                return
            life = self.lives[key] = Life(drive, key[1], key[2], (int(fields["parent_entry"]),
                                                                 int(fields["parent_seq"])))
        reason: int = fields["reason"]
        when: str | None = fields["time"]
        life.records += 1
        if name not in life.names:
            life.names.append(name)
        if reason & RENAME_NEW:
            life.parent = (int(fields["parent_entry"]), int(fields["parent_seq"]))
        self.parents.add((drive, life.parent[0]))
        if when:
            life.first = min(life.first or when, when)
            life.last = max(life.last or when, when)
            if reason & FILE_CREATE and (life.created is None or when < life.created):
                life.created = when
            if reason & FILE_DELETE:
                life.deleted = max(life.deleted or when, when)
        life.reasons.update(r for r in str(fields["reasons"]).split("|") if r != "CLOSE")
        notable = reason & (FILE_CREATE | FILE_DELETE | RENAME_NEW | RENAME_OLD) or (
            reason & WRITE and not any("DATA" in (r.note or "") for r in life.refs))
        if notable and len(life.refs) < REFS:
            life.refs.append(EvidenceRef(path=record.path, excerpt=clip(record.raw), offset=record.offset,
                                         timestamp=when, note=f"USN {fields['reasons']}"))

    # -- the $MFT ------------------------------------------------------------------------------------------

    def _mft(self, record: Record, ctx: HostContext) -> None:
        fields = record.fields
        drive = record.attrs.get("drive", "C")
        path = f"{drive}/{fields['path']}"
        number = int(fields["entry"])
        if fields["directory"]:
            if fields["in_use"] and ((drive, number) in self.parents or any(
                    rule.folder_may_match(path) for rule in self.rules)):
                if len(self.dirs) < MAX_DIRS:
                    self.dirs[(drive, number)] = (int(fields["sequence"]), path)
                else:
                    self.dropped += 1
            return
        lowered = path.lower()
        if self.present is None:
            self.present = {path.lower(): path for path in paths_of(ctx.artifacts, (ArtifactKind.FILE,))}
        present = self.present.get(lowered) if fields["in_use"] else None
        selected = self._may_select(fields["name"]) and any(
            rule.matches(path) and (not rule.written_by or not fields["in_use"]) for rule in self.rules)
        if present is None and not selected:
            return
        times: FileTimes = fields["times"]()
        if present is not None:
            ctx.file_times[present] = times
        if selected:
            if len(self.kept) >= MAX_ENTRIES:
                self.dropped += 1
                return
            stamp, which = times.written()
            ref = EvidenceRef(path=record.path, excerpt=clip(f"{record.raw}; {times.describe()}"),
                              record=record.record, offset=record.offset, timestamp=stamp,
                              note="$MFT entry " + ("in use" if times.in_use else "not in use (deleted)")
                              + (f"; time shown: {which}" if which else ""))
            self.kept[(drive, number, int(fields["sequence"]))] = Kept(path, times, ref)

    # -- findings ------------------------------------------------------------------------------------------

    def _life_path(self, life: Life) -> str | None:
        folder = self.dirs.get((life.drive, life.parent[0]))
        if folder is None:
            return None
        return f"{folder[1]}/{life.names[-1]}"

    def finish(self, ctx: HostContext) -> list[Finding]:
        if self.requests_dropped:
            ctx.coverage.warn(InputWarning(path="", code="fs-limit", message=(
                f"requests for {self.requests_dropped} further page names were not kept to tie deleted files")))
        if self.lives_dropped or self.dropped:
            ctx.coverage.warn(InputWarning(path="", code="fs-limit", message=(
                f"file-system records beyond exhunt's limits were not followed: {self.lives_dropped} journal "
                f"file references, {self.dropped} $MFT entries or folders")))
        gone: list[Gone] = []
        seen: set[tuple[str, int, int]] = set()
        for key in sorted(self.lives):
            life = self.lives[key]
            path = self._life_path(life)
            kept = self.kept.get(key)
            if kept is None:  # NTFS bumps an entry's sequence number when the entry is freed
                later = self.kept.get((key[0], key[1], key[2] + 1))
                kept = later if later is not None and not later.times.in_use else None
            if kept is not None:
                seen.add((key[0], key[1], kept.times.sequence))
            if path is None and kept is not None:
                path = kept.path
            if path is None:
                path = f"{life.drive}/?/{life.names[-1]}"  # the folder is not in the $MFT (or no $MFT)
            deleted = life.deleted is not None or (kept is not None and not kept.times.in_use)
            if not deleted or (kept is not None and kept.times.in_use):
                continue
            rule = self._rule_for(path, folder_known="/?/" not in path)
            if rule is None:
                continue
            seen.add(key)
            gone.append(Gone(rule, path, life, kept))
        for key in sorted(self.kept):
            kept = self.kept[key]
            if key in seen or kept.times.in_use:
                continue
            rule = self._rule_for(kept.path, folder_known=True)
            if rule is not None:
                gone.append(Gone(rule, kept.path, None, kept))
        findings = gone_findings(ctx.host, gone, self._ties, self.written)
        findings.extend(stomp_findings(ctx.host, self.kept, self.rules, self.stomp))
        return findings

    def _rule_for(self, path: str, folder_known: bool) -> FsRule | None:
        for rule in self.rules:
            if rule.written_by and (not folder_known or path.lower() not in self.written
                                    or self.written[path.lower()][0] not in rule.written_by):
                continue
            if folder_known and rule.matches(path):
                return rule
            if not folder_known and rule.paths is None and rule.name_matches(path.rsplit("/", 1)[-1]):
                return rule
        return None

    def _ties(self, item: Gone) -> list[Tie]:
        """Requests for the gone file's name under the rule's prefixes, made while it existed."""
        name = item.path.rsplit("/", 1)[-1].lower()
        start = item.created
        end = item.life.deleted if item.life and item.life.deleted else None
        out = []
        for stamp, stem, ip, ref in self.requests.get(name, []):
            if start and seconds(stamp) < seconds(start) - TIE_SLACK:
                continue
            if end and seconds(stamp) > seconds(end) + TIE_SLACK:
                continue
            out.append((stamp, stem, ip, ref))
        return sorted(out, key=lambda t: (t[0], t[3].line or 0))


