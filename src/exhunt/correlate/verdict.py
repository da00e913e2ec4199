"""The verdict of one host, explained in words."""

from __future__ import annotations

import dataclasses
from typing import Any

from exhunt.correlate.chains import confirm_files, step_of, timeline
from exhunt.correlate.coverage import key_sources_read
from exhunt.model.coverage import HostCoverage
from exhunt.model.finding import Finding, Outcome, Severity
from exhunt.model.result import HostResult, Verdict
from exhunt.model.timefmt import canonical

POST_EXPLOITATION = frozenset({"webshell-write", "webshell-use", "exec", "credential-access", "persistence",
                               "collection", "staging", "exfiltration", "vdir-tamper"})


def _is_compromise(finding: Finding) -> bool:
    if finding.severity < Severity.HIGH:
        return False
    if finding.outcome in (Outcome.SUCCEEDED, Outcome.CONFIRMED):
        return True
    return finding.outcome is Outcome.SUSPICIOUS and step_of(finding) in POST_EXPLOITATION \
        and finding.severity >= Severity.CRITICAL


def _is_attempt(finding: Finding) -> bool:
    return finding.outcome is not Outcome.INFORMATIONAL and finding.severity > Severity.INFO


def _canonical_times(finding: Finding) -> Finding:
    return dataclasses.replace(
        finding, first_seen=canonical(finding.first_seen), last_seen=canonical(finding.last_seen),
        evidence=tuple(dataclasses.replace(e, timestamp=canonical(e.timestamp)) for e in finding.evidence))


def _names(findings: list[Finding]) -> str:
    ids = sorted({f.rule_id for f in findings})
    shown = ", ".join(ids[:6])
    return shown + (f" and {len(ids) - 6} more" if len(ids) > 6 else "")


def conclude(host: str, origin: str, findings: list[Finding], coverage: HostCoverage,
             exposure: dict[str, Any]) -> HostResult:
    graded = confirm_files([_canonical_times(f) for f in findings])
    graded.sort(key=lambda f: (-f.severity, *f.sort_key()))
    compromise = [f for f in graded if _is_compromise(f)]
    attempts = [f for f in graded if _is_attempt(f)]
    reasons: list[str] = []
    if compromise:
        verdict = Verdict.COMPROMISED
        reasons.append(f"{len(compromise)} finding(s) show successful exploitation or its aftermath: "
                       f"{_names(compromise)}.")
    elif attempts:
        verdict = Verdict.ATTEMPTED
        reasons.append(f"{len(attempts)} finding(s) show exploitation attempts or suspicious artifacts, none "
                       f"shown to have succeeded: {_names(attempts)}.")
    elif not key_sources_read(coverage):
        verdict = Verdict.COULD_NOT_ASSESS
        reasons.append("Neither Exchange HttpProxy logs nor IIS logs could be read: exploitation cannot be "
                       "assessed from this evidence.")
    else:
        verdict = Verdict.NO_SIGN
        reasons.append("No sign of exploitation in the sources that could be read.")
    if verdict is not Verdict.COULD_NOT_ASSESS and coverage.notes:
        reasons.append("Coverage gaps limit this verdict (see coverage notes).")
    return HostResult(host=host, evidence=origin, verdict=verdict, verdict_reasons=reasons, findings=graded,
                      coverage=coverage, exposure=exposure, timeline=timeline(graded))
