"""True file times: a file's evidence takes its time from the $MFT, not from the copy's modification time.

A collected file's own mtime is what the copy got: a checkout, an unzip or a careless copy sets it to the
moment of the copy. For every piece of evidence that cites a file at its copy's mtime:

- the host's $MFT knows the file: the time becomes the NTFS write time (``FileTimes.written``), the note says
  which of the eight times it is, and the finding carries all eight (``mft_si_created`` ...);
- no $MFT entry, and the mtime is later than the evidence's last log line, or falls in the minute most of
  the evidence's files share (the copy's own time): the time is dropped and the finding says that the
  file's write time is unknown, so the attack chain never shows the copy as an event;
- otherwise the mtime is kept, marked as the copy's mtime.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence

from exhunt.model.coverage import HostCoverage
from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.model.filetimes import LABELS, FileTimes
from exhunt.model.finding import EvidenceRef, Finding
from exhunt.model.timefmt import canonical
from exhunt.sources.listing import times_of

NOT_LOGS = frozenset({ArtifactKind.FILE.value, ArtifactKind.MFT.value, ArtifactKind.USN.value})
COPY_SHARE = 0.5  # a minute holding at least this share of the evidence's files (and COPY_MIN) is a copy time
COPY_MIN = 10


def last_log_time(coverage: HostCoverage) -> str | None:
    stamps = [canonical(s.last_time) for s in coverage.sources.values()
              if s.source not in NOT_LOGS and s.last_time]
    return max((s for s in stamps if s), default=None)


def copy_minutes(artifacts: Sequence[Artifact]) -> frozenset[str]:
    """Minutes (``YYYY-MM-DDTHH:MM``) in which most of the evidence's files were last modified: a copy."""
    minutes = Counter((canonical(mtime) or "")[:16] for _, _, mtime in times_of(artifacts) if mtime)
    total = sum(minutes.values())
    return frozenset(m for m, n in minutes.items() if m and n >= COPY_MIN and n >= COPY_SHARE * total)


def _join(note: str, more: str) -> str:
    return f"{note}; {more}" if note else more


def true_times(findings: list[Finding], artifacts: Sequence[Artifact], file_times: Mapping[str, FileTimes],
               coverage: HostCoverage) -> list[Finding]:
    cited = {ref.path for finding in findings for ref in finding.evidence}  # not a dict of every file
    mtimes = {path: canonical(mtime) for kind, path, mtime in times_of(artifacts)
              if kind is ArtifactKind.FILE and mtime and path in cited} if cited else {}
    last_log = last_log_time(coverage)
    copies = copy_minutes(artifacts)
    return [_retimed(f, mtimes, file_times, last_log, copies) for f in findings]


def _retimed(finding: Finding, mtimes: Mapping[str, str | None], file_times: Mapping[str, FileTimes],
             last_log: str | None, copies: frozenset[str]) -> Finding:
    evidence: list[EvidenceRef] = []
    replaced: set[str] = set()
    attributes: set[tuple[str, str]] = set()
    unknown: list[str] = []
    for ref in finding.evidence:
        mtime = mtimes.get(ref.path)
        if mtime is None or canonical(ref.timestamp) != mtime:
            evidence.append(ref)
            continue
        replaced.add(mtime)
        attributes.add(("copy_mtime", mtime))
        times = file_times.get(ref.path)
        if times is not None:
            stamp, which = times.written()
            label = LABELS.get(which, which)
            evidence.append(dataclasses.replace(ref, timestamp=canonical(stamp), note=_join(
                ref.note, f"time: {label} from {times.source} entry {times.entry} (the copy's mtime is {mtime})")))
            attributes.update({("time_source", f"$MFT {label}"), *times.attributes()})
            continue
        why = ""
        if last_log and mtime > last_log:
            why = f"later than the evidence's last log line ({last_log})"
        elif mtime[:16] in copies:
            why = "the time most of the evidence's files share: when the evidence was copied"
        if why:
            unknown.append(f"the copy's modification time {mtime} is {why}")
            evidence.append(dataclasses.replace(ref, timestamp=None, note=_join(
                ref.note, f"write time unknown: the copy's modification time {mtime} is {why}")))
            attributes.update({("time_source", "unknown"), ("write_time", "unknown")})
        else:
            evidence.append(dataclasses.replace(ref, note=_join(ref.note, "time: the copy's modification time "
                                                                           "(no $MFT entry for this file)")))
            attributes.add(("time_source", "copy mtime"))
    if not replaced:
        return finding
    stamps = [canonical(r.timestamp) for r in evidence if r.timestamp]
    stamps += [canonical(t) for t in (finding.first_seen, finding.last_seen) if t and canonical(t) not in replaced]
    known = sorted(s for s in stamps if s)
    kept = tuple(sorted({(k, v) for k, v in finding.attributes if not (k == "mtime" and canonical(v) in replaced)}
                        | attributes))
    description = finding.description
    if unknown and not known:
        description = _join(description.rstrip("."), "write time unknown: " + unknown[0]) + "."
    elif unknown:
        description = _join(description.rstrip("."), "the file's own write time is unknown: " + unknown[0]) + "."
    return dataclasses.replace(finding, evidence=tuple(evidence), first_seen=known[0] if known else None,
                               last_seen=known[-1] if known else None, attributes=kept, description=description)
