"""Exit codes, in one place. Only the CLI maps outcomes and errors to them."""

from __future__ import annotations

from enum import IntEnum

from exhunt.model.coverage import SourceStatus
from exhunt.model.result import HostResult, Verdict


class ExitCode(IntEnum):
    CLEAN = 0  # nothing found, everything needed could be read
    FINDINGS = 1  # at least one finding (more than informational)
    USAGE = 2  # bad command line, evidence or content path not found
    PARTIAL = 3  # nothing found, but a source was missing or could not be read, or the exposure answer is
    # incomplete (a build the table cannot judge): not the same as clean
    INTERNAL = 4  # a bug: please report it with --debug output


def exit_code_for(results: list[HostResult]) -> ExitCode:
    if any(r.verdict in (Verdict.COMPROMISED, Verdict.ATTEMPTED, Verdict.SUSPICIOUS) for r in results):
        return ExitCode.FINDINGS
    gaps = (SourceStatus.MISSING, SourceStatus.UNREADABLE, SourceStatus.PARTIAL)
    partial = any(
        r.verdict is Verdict.COULD_NOT_ASSESS or r.coverage.warnings
        or any(s.status in gaps or s.files_failed for s in r.coverage.sources.values())
        or r.exposure.get("complete") is False  # part of the exposure answer is unknown (docs/exposure.md)
        for r in results)
    return ExitCode.PARTIAL if partial else ExitCode.CLEAN
