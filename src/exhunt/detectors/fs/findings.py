"""The findings of the file-system detector: files that are gone, bulk deletions, timestomping."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from exhunt.detectors.fs.rules import FsRule, StompRule
from exhunt.model.filetimes import FileTimes
from exhunt.model.finding import Confidence, EvidenceRef, Finding, Outcome, Severity
from exhunt.model.timefmt import canonical

DETECTOR = "fs"
BULK_WINDOW = 600  # seconds: deletions of one rule in one folder this close together are a bulk change
Tie = tuple[str, str, str, EvidenceRef]  # a request for a file: (time, stem, client ip, the log line)


@dataclass
class Life:
    """What the journal says about one file reference (drive, entry, sequence)."""

    drive: str
    entry: int
    seq: int
    parent: tuple[int, int]
    names: list[str] = field(default_factory=list)
    created: str | None = None
    deleted: str | None = None
    first: str | None = None
    last: str | None = None
    reasons: set[str] = field(default_factory=set)
    refs: list[EvidenceRef] = field(default_factory=list)
    records: int = 0


@dataclass
class Kept:
    """A selected $MFT entry."""

    path: str  # host path (C/inetpub/...)
    times: FileTimes
    ref: EvidenceRef


@dataclass
class Gone:
    rule: FsRule
    path: str
    life: Life | None
    kept: Kept | None

    @property
    def when(self) -> str:
        return (self.life.deleted if self.life and self.life.deleted else None) or self.created or ""

    @property
    def created(self) -> str | None:
        if self.life and self.life.created:
            return self.life.created
        return self.kept.times.get("si_created") if self.kept else None


def _hms(stamp: str | None) -> str:
    return stamp[:19].replace("T", " ") if stamp else "?"


def seconds(stamp: str) -> int:
    """Seconds of an ISO time on a monotonic scale (for differences within a month; ordering always)."""
    day = int(stamp[8:10]) + 31 * int(stamp[5:7]) + 372 * int(stamp[:4])
    return ((day * 24 + int(stamp[11:13])) * 60 + int(stamp[14:16])) * 60 + int(stamp[17:19])


def gone_findings(host: str, gone: list[Gone], ties: Callable[[Gone], list[Tie]],
                  written: Mapping[str, tuple[str, EvidenceRef]]) -> list[Finding]:
    """One finding per gone file; a folder's many deletions of one rule in a short time, one informational."""
    bulk: dict[tuple[str, str], list[Gone]] = {}
    for item in gone:
        bulk.setdefault((item.rule.rule_id, item.path.rsplit("/", 1)[0].lower()), []).append(item)
    findings: list[Finding] = []
    for (_rule_id, _folder), items in sorted(bulk.items()):
        rule = items[0].rule
        groups = bulk_groups(items, rule.bulk) if rule.bulk else [[i] for i in items]
        for group in groups:
            if len(group) == 1:
                findings.append(gone_finding(host, group[0], ties(group[0]), written))
            else:
                findings.append(bulk_finding(host, group))
    return findings


def gone_finding(host: str, item: Gone, ties: list[Tie],
                 written_paths: Mapping[str, tuple[str, EvidenceRef]]) -> Finding:
    """A gone file, confirmed when a logged exploit wrote its path or it was requested while it existed."""
    rule, life, kept = item.rule, item.life, item.kept
    name = item.path.rsplit("/", 1)[-1]
    short = "/".join(item.path.split("/")[-3:])
    created, deleted = item.created, life.deleted if life else None
    when = f"created {_hms(created)}" + (f", deleted {_hms(deleted)}" if deleted else ", deletion time unknown")
    evidence: list[EvidenceRef] = list(life.refs if life else [])
    if kept is not None:
        evidence.append(kept.ref)
    evidence.sort(key=lambda e: (e.timestamp or "", e.path, e.offset or 0))
    sources = sorted({"$UsnJrnl:$J" if life else "", "$MFT" if kept else ""} - {""})
    attributes: list[tuple[str, str]] = [
        ("file_name", name.lower()), ("path", item.path), ("step", rule.step), ("family", rule.family),
        ("state", "deleted"), ("time_source", " and ".join(sources))]
    if created:
        attributes.append(("created", canonical(created) or created))
    if deleted:
        attributes.append(("deleted", canonical(deleted) or deleted))
    if life and len(life.names) > 1:
        attributes.extend(("renamed_from", n) for n in life.names[:-1])
    if kept is not None:
        attributes.append(("mft_entry", str(kept.times.entry)))
        attributes.extend(kept.times.attributes())
    description = (f"{rule.description} {rule.what.capitalize()} {item.path}: {when} "
                   f"(from the {' and the '.join(sources)}).")
    if "/?/" in item.path:
        description += " Its folder is unknown: the $MFT does not name the journal record's parent folder."
    outcome, severity, confidence = Outcome.SUSPICIOUS, rule.severity, rule.confidence
    written = written_paths.get(item.path.lower())
    if written is not None:
        outcome, severity, confidence = Outcome.CONFIRMED, rule.confirmed, Confidence.HIGH
        attributes.extend([("tied_by", "written-path"), ("written_by", written[0])])
        description += f" The path was written by a logged exploit ({written[0]})."
        evidence.append(written[1])
    if ties:
        outcome, severity, confidence = Outcome.CONFIRMED, rule.confirmed, Confidence.HIGH
        attributes.append(("tied_by", "iis-request"))
        attributes.extend(("url", stem) for _, stem, _, _ in ties)
        attributes.extend(("client_ip", ip) for _, _, ip, _ in ties if ip)
        description += (f" Requested over HTTP {len(ties)} time(s) while it existed, from "
                        f"{_hms(ties[0][0])} to {_hms(ties[-1][0])}.")
        evidence.extend(ref for *_, ref in ties[:5])
    stamps = sorted(t for t in (created, deleted, *(e.timestamp for e in evidence)) if t)
    return Finding(
        host=host, rule_id=rule.rule_id, title=f"{rule.what.capitalize()} {short} {when}",
        severity=severity, confidence=confidence, outcome=outcome, detector=DETECTOR,
        cves=rule.cves, attack=rule.attack, first_seen=stamps[0] if stamps else None,
        last_seen=stamps[-1] if stamps else None, description=description, evidence=tuple(evidence),
        evidence_total=len(evidence) + (max(0, life.records - len(life.refs)) if life else 0),
        attributes=tuple(sorted(set(attributes))))


def bulk_finding(host: str, items: list[Gone]) -> Finding:
    rule = items[0].rule
    folder = items[0].path.rsplit("/", 1)[0]
    evidence = [ref for item in items[:10] for ref in ((item.life.refs[:1] if item.life else [])
                                                       + ([item.kept.ref] if item.kept else []))]
    stamps = sorted(i.when for i in items if i.when)
    return Finding(
        host=host, rule_id=rule.rule_id, title=f"{len(items)} {rule.what} files deleted together from {folder}",
        severity=Severity.INFO, confidence=rule.confidence, outcome=Outcome.INFORMATIONAL,
        detector=DETECTOR, cves=(), attack=(), first_seen=stamps[0] if stamps else None,
        last_seen=stamps[-1] if stamps else None,
        description=(f"{len(items)} files selected by {rule.rule_id} went from {folder} within "
                     f"{BULK_WINDOW // 60} minutes of each other: an update or a clean-up rather than an "
                     "intruder removing a file; listed so nothing is dropped silently."),
        evidence=tuple(evidence), evidence_total=len(items),
        attributes=tuple(sorted({("bulk", "true"), ("folder", folder),
                                 *(("path", i.path) for i in items[:50])})))


def stomp_findings(host: str, kept: Mapping[tuple[str, int, int], Kept], rules: list[FsRule],
                   stomp: StompRule) -> list[Finding]:
    """Selected files whose $STANDARD_INFORMATION times were set back."""
    findings: list[Finding] = []
    for key in sorted(kept):
        entry = kept[key]
        times = entry.times
        rule = next((r for r in rules if r.timestomp and r.matches(entry.path)), None)
        if rule is None or not (times.stomped() or times.whole_seconds()):
            continue
        if times.stomped():
            why = (f"$STANDARD_INFORMATION created {times.si_created} is earlier than $FILE_NAME created "
                   f"{times.fn_created}")
        else:
            why = "every $STANDARD_INFORMATION time is a whole second while the $FILE_NAME times are not"
        name = entry.path.rsplit("/", 1)[-1]
        written, which = times.written()
        findings.append(Finding(
            host=host, rule_id=stomp.rule_id, title=f"{stomp.title}: {name}",
            severity=stomp.severity, confidence=rule.confidence, outcome=Outcome.SUSPICIOUS,
            detector=DETECTOR, cves=(), attack=stomp.attack, first_seen=written, last_seen=written,
            description=(f"{entry.path} ({rule.what}): {why}. Programs can set $STANDARD_INFORMATION times; "
                         f"the $FILE_NAME times are set by NTFS. Its real write time is taken from {which}."),
            evidence=(entry.ref,), evidence_total=1,
            attributes=tuple(sorted({("file_name", name.lower()), ("path", entry.path), ("step", rule.step),
                                     ("family", rule.family), ("selected_by", rule.rule_id),
                                     ("state", "present" if times.in_use else "deleted"),
                                     *times.attributes()}))))
    return findings


def bulk_groups(items: list[Gone], limit: int) -> list[list[Gone]]:
    """Split one folder's deletions into runs whose times lie within BULK_WINDOW; runs over ``limit`` stay
    together (a bulk change), the others fall apart into single files."""
    ordered = sorted(items, key=lambda i: (i.when, i.path))
    runs: list[list[Gone]] = []
    for item in ordered:
        if runs and item.when and runs[-1][-1].when and \
                seconds(item.when) - seconds(runs[-1][-1].when) <= BULK_WINDOW:
            runs[-1].append(item)
        else:
            runs.append([item])
    out: list[list[Gone]] = []
    for run in runs:
        if len(run) > limit:
            out.append(run)
        else:
            out.extend([i] for i in run)
    return out
