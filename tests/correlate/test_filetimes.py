"""Time truth: a file's time comes from the $MFT; a copy's mtime is never an event time when it is later than
the last log line or is the minute most of the evidence's files share (a checkout, an unzip)."""

from __future__ import annotations

from exhunt.correlate.filetimes import copy_minutes, true_times
from exhunt.model.coverage import HostCoverage
from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.model.filetimes import FileTimes
from exhunt.model.finding import Confidence, EvidenceRef, Finding, Outcome, Severity

SHELL = "C/inetpub/wwwroot/aspnet_client/s.aspx"


def _finding(mtime: str, request: str | None = None) -> Finding:
    evidence = [EvidenceRef(path=SHELL, timestamp=mtime, note="the file")]
    if request:
        evidence.append(EvidenceRef(path="C/inetpub/logs/LogFiles/W3SVC1/u_ex210303.log", line=9, timestamp=request))
    stamps = sorted(t for t in (mtime, request) if t)
    return Finding(host="h", rule_id="EXH-FILE-X", title="t", severity=Severity.HIGH, confidence=Confidence.HIGH,
                   outcome=Outcome.SUSPICIOUS, detector="files", first_seen=stamps[0], last_seen=stamps[-1],
                   evidence=tuple(evidence), attributes=(("mtime", mtime), ("step", "webshell-write")))


def _coverage(last: str) -> HostCoverage:
    coverage = HostCoverage()
    coverage.source("iis").last_time = last
    return coverage


def _artifacts(mtime: str, others: int = 0, other_time: str = "2021-03-01T00:00:00Z") -> list[Artifact]:
    files = [Artifact(ArtifactKind.FILE, SHELL, 10, mtime)]
    files += [Artifact(ArtifactKind.IIS, f"C/inetpub/logs/LogFiles/W3SVC1/u_ex{i}.log", 10, other_time)
              for i in range(others)]
    return files


def test_mft_time_replaces_the_copy_mtime() -> None:
    times = FileTimes("C/$MFT", 30, 1, True, "2021-03-03T02:21:40.512000Z", "2021-03-03T02:21:40.512000Z",
                      "2021-03-03T02:21:40.512000Z", "2021-03-03T02:21:40.512000Z")
    [out] = true_times([_finding("2026-12-01T08:00:00.000Z")], _artifacts("2026-12-01T08:00:00Z"), {SHELL: times},
                       _coverage("2021-03-06T00:00:00.000Z"))
    assert out.first_seen == out.last_seen == "2021-03-03T02:21:40.512Z"
    assert out.evidence[0].timestamp == "2021-03-03T02:21:40.512Z"
    assert "$STANDARD_INFORMATION modified from C/$MFT entry 30" in out.evidence[0].note
    assert ("copy_mtime", "2026-12-01T08:00:00.000Z") in out.attributes
    assert not out.attr_values("mtime")


def test_copy_mtime_after_the_last_log_line_is_unknown() -> None:
    [out] = true_times([_finding("2026-12-01T08:00:00.000Z", "2021-03-03T02:23:10.000Z")],
                       _artifacts("2026-12-01T08:00:00Z"), {}, _coverage("2021-03-06T00:00:00.000Z"))
    assert out.first_seen == out.last_seen == "2021-03-03T02:23:10.000Z"  # the request: a log time
    assert out.evidence[0].timestamp is None and "write time unknown" in out.evidence[0].note
    assert ("write_time", "unknown") in out.attributes
    assert "the file's own write time is unknown" in out.description


def test_copy_minute_shared_by_most_files_is_unknown_even_before_the_last_log() -> None:
    copied = "2021-03-05T10:00:07Z"  # an unzip inside the logs' window: most files got this minute
    artifacts = _artifacts(copied, others=12, other_time="2021-03-05T10:00:31Z")
    assert copy_minutes(artifacts) == frozenset({"2021-03-05T10:00"})
    [out] = true_times([_finding("2021-03-05T10:00:07.000Z")], artifacts, {}, _coverage("2021-03-06T00:00:00.000Z"))
    assert out.first_seen is None and "when the evidence was copied" in out.description


def test_plausible_copy_mtime_is_kept_and_marked() -> None:
    artifacts = _artifacts("2021-03-03T02:21:40Z", others=12)
    [out] = true_times([_finding("2021-03-03T02:21:40.000Z")], artifacts, {}, _coverage("2021-03-06T00:00:00.000Z"))
    assert out.first_seen == "2021-03-03T02:21:40.000Z"
    assert "the copy's modification time (no $MFT entry" in out.evidence[0].note
    assert ("time_source", "copy mtime") in out.attributes
