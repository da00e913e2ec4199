"""The verdict of one host, explained in words (the classes are documented in docs/verdicts.md).

The findings are graded (files tied to logs, CVEs from what proves the exploit, ProxyToken by the inbox
rule it leaves), matched against the known-benign catalogue, then weighed into evidence classes
(``correlate/weigh.py``). Only *compromise* and *attempt* findings move the verdict; *weak*, *known-benign*
and *context* findings stay in every output.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from exhunt.correlate.benign import mark_known_benign
from exhunt.correlate.chains import confirm_files, timeline
from exhunt.correlate.coverage import key_sources_read
from exhunt.correlate.proof import cves_from_proof, grade_proxytoken, tie_access_to_files
from exhunt.correlate.weigh import ATTEMPT, COMPROMISE, WEAK, is_exploit_attempt, is_webshell_content, weigh
from exhunt.exposure import BuildObservation, patched_at
from exhunt.model.coverage import HostCoverage, SourceCoverage, SourceStatus
from exhunt.model.finding import Finding
from exhunt.model.result import HostResult, Verdict
from exhunt.model.timefmt import canonical

# the logs that can tell how a file came to be on a web server (requests, exploit traces)
WRITE_LOGS = ("iis", "httpproxy", "ecp_server", "oabgenerator", "rps_http", "rps_cmdlet")
EXCHANGE_LOGS = ("httpproxy", "ecp_server", "ecp_activity", "oabgenerator", "rps_http", "rps_cmdlet")


def _canonical_times(finding: Finding) -> Finding:
    return dataclasses.replace(
        finding, first_seen=canonical(finding.first_seen), last_seen=canonical(finding.last_seen),
        evidence=tuple(dataclasses.replace(e, timestamp=canonical(e.timestamp)) for e in finding.evidence))


def _names(findings: list[Finding]) -> str:
    ids = sorted({f.rule_id for f in findings})
    shown = ", ".join(ids[:6])
    return shown + (f" and {len(ids) - 6} more" if len(ids) > 6 else "")


def _usable(cov: SourceCoverage | None) -> bool:
    return cov is not None and cov.status in (SourceStatus.READ, SourceStatus.PARTIAL) and cov.records > 0


def _log_span(coverage: HostCoverage) -> tuple[str, str] | None:
    spans = [(c.first_time, c.last_time) for name in WRITE_LOGS if _usable(c := coverage.sources.get(name))
             and c is not None and c.first_time and c.last_time]
    if not spans:
        return None
    return min(s[0] for s in spans if s[0]), max(s[1] for s in spans if s[1])


def _untold_origins(shells: list[Finding], coverage: HostCoverage) -> list[str]:
    """Web shells whose file time the logs do not reach: say that how they got there cannot be told."""
    span = _log_span(coverage)
    sentences: list[str] = []
    seen: set[str] = set()
    for shell in shells:
        path = (shell.attr_values("path") or [""])[0]
        when = (shell.attr_values("mtime") or [shell.evidence[0].timestamp or "" if shell.evidence else ""])[0]
        if not path or path in seen or shell.attr_values("written_path") or shell.attr_values("cve_proof"):
            continue
        seen.add(path)
        stamp = f" (file time {when})" if when else ""
        if span is None:
            sentences.append(f"Web shell {path}{stamp}: no web or Exchange logs were read, so how it got there "
                             "cannot be told from the logs.")
        elif when and when < span[0]:
            # (a file time after the last log line may be when the evidence was copied: not judged here)
            sentences.append(f"Web shell {path}{stamp}: the web and Exchange logs begin {span[0][:10]} and do "
                             "not reach back to when it was written, so how it got there cannot be told from "
                             "the logs.")
    return sentences


def exchange_seen(coverage: HostCoverage, exposure: dict[str, Any]) -> bool:
    """Whether the evidence shows an Exchange server at all: a build, or an Exchange log read."""
    return bool(exposure) or any(_usable(coverage.sources.get(name)) for name in EXCHANGE_LOGS)


def _build_history(exposure: dict[str, Any]) -> list[BuildObservation]:
    """The dated builds of the exposure assessment, back as observations (first and last time of each)."""
    found: list[BuildObservation] = []
    for entry in exposure.get("history") or []:
        if not isinstance(entry, dict) or not entry.get("build"):
            continue
        path = str((entry.get("paths") or [""])[0])
        for stamp in {entry.get("first_seen"), entry.get("last_seen")}:
            if isinstance(stamp, str) and stamp:
                found.append(BuildObservation(stamp, str(entry["build"]), path))
    return sorted(found, key=lambda o: (o.timestamp or "", o.build))


def _patched(history: list[BuildObservation]) -> Callable[[Finding], bool | None]:
    """Whether the server was patched for all of a finding's CVEs at its first time (None: unknown)."""
    def state(finding: Finding) -> bool | None:
        if not history or not finding.cves or not finding.first_seen:
            return None
        states = [patched_at(history, cve, finding.first_seen) for cve in finding.cves]
        return True if all(s is True for s in states) else False if any(s is False for s in states) else None
    return state


_FRONT_END_UNCHECKED = ("Neither Exchange HttpProxy logs nor IIS logs were read: exploitation through the web "
                        "front end could not be checked (see coverage notes).")


def _suspicious_reason(findings: list[Finding]) -> str:
    return (f"{len(findings)} finding(s) show suspicious activity or artifacts on the host, not tied to a "
            f"successful exploit: {_names(findings)}.")


def grade(findings: list[Finding], exchange: bool = True, exposure: dict[str, Any] | None = None) -> list[Finding]:
    """Everything the correlation decides about the findings themselves, before the verdict."""
    graded = confirm_files([_canonical_times(f) for f in findings])
    graded = cves_from_proof(graded)
    graded = grade_proxytoken(graded, _patched(_build_history(exposure or {})))
    graded = tie_access_to_files(graded)
    graded = weigh(mark_known_benign(graded), exchange_seen=exchange)
    graded.sort(key=lambda f: (-f.severity, *f.sort_key()))
    return graded


def conclude(host: str, origin: str, findings: list[Finding], coverage: HostCoverage,
             exposure: dict[str, Any]) -> HostResult:
    graded = grade(findings, exchange_seen(coverage, exposure), exposure)
    compromise = [f for f in graded if f.evidence_class == COMPROMISE]
    attempts: list[Finding] = []
    suspicious: list[Finding] = []
    for finding in graded:
        if finding.evidence_class == ATTEMPT:
            (attempts if is_exploit_attempt(finding) else suspicious).append(finding)
    weak = [f for f in graded if f.evidence_class == WEAK]
    benign = [f for f in graded if f.status]
    reasons: list[str] = []
    if compromise:
        verdict = Verdict.COMPROMISED
        reasons.append(f"{len(compromise)} finding(s) show successful exploitation or its aftermath: "
                       f"{_names(compromise)}.")
        reasons += _untold_origins([f for f in compromise if is_webshell_content(f)], coverage)
    elif attempts:
        verdict = Verdict.ATTEMPTED
        reasons.append(f"{len(attempts)} finding(s) show exploitation attempts, none shown to have succeeded: "
                       f"{_names(attempts)}.")
        if suspicious:
            reasons.append(_suspicious_reason(suspicious))
    elif suspicious:
        verdict = Verdict.SUSPICIOUS
        reasons.append(_suspicious_reason(suspicious))
        reasons.append("No exploitation attempt was seen in the sources that could be read: how the activity "
                       "began is not shown by this evidence.")
        if not key_sources_read(coverage):
            reasons.append(_FRONT_END_UNCHECKED)
    elif not any(_usable(c) for c in coverage.sources.values()):
        verdict = Verdict.COULD_NOT_ASSESS
        reasons.append("No log source could be read: exploitation cannot be assessed from this evidence.")
    else:
        verdict = Verdict.NO_SIGN
        reasons.append("No sign of exploitation in the sources that could be read.")
        if not key_sources_read(coverage):
            reasons.append(_FRONT_END_UNCHECKED)
    if weak:
        reasons.append(f"{len(weak)} weak indicator(s) ({_names(weak)}) do not move the verdict on their own.")
    if benign:
        reasons.append(f"{len(benign)} finding(s) suppressed as known benign ({_names(benign)}), kept in the "
                       "output.")
    if verdict is not Verdict.COULD_NOT_ASSESS and coverage.notes:
        reasons.append("Coverage gaps limit this verdict (see coverage notes).")
    return HostResult(host=host, evidence=origin, verdict=verdict, verdict_reasons=reasons, findings=graded,
                      coverage=coverage, exposure=exposure,
                      timeline=timeline([f for f in graded if f.evidence_class in (COMPROMISE, ATTEMPT)
                                         or f.attr_values("corroborates")]))
