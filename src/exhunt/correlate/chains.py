"""Join the findings of one host: tie files to the log lines that wrote or used them, order the chain."""

from __future__ import annotations

import dataclasses

from exhunt.model.finding import Confidence, Finding, Outcome, Severity

CHAIN_STEPS = ("reconnaissance", "initial-access", "vdir-tamper", "webshell-write", "webshell-use", "exec",
               "credential-access", "discovery", "persistence", "collection", "staging", "exfiltration")
_JOIN_KEYS = ("written_path", "url", "uri", "target", "target_path", "requested", "export_path")


def _norm_path(text: str) -> str:
    return text.replace("\\", "/").lower().rstrip()


def _ties(finding: Finding, others: list[Finding]) -> list[Finding]:
    """Other findings that name this finding's file: the path it was written to, or a request for it."""
    names = [n.lower() for n in finding.attr_values("file_name") if n]
    paths = [_norm_path(p) for p in finding.attr_values("path") if p]
    if not names:
        return []
    tied: list[Finding] = []
    for other in others:
        if other is finding or (other.detector == finding.detector and other.rule_id == finding.rule_id):
            continue
        values = [_norm_path(v) for k, v in other.attributes if k in _JOIN_KEYS]
        values += [_norm_path(e.excerpt) for e in other.evidence if e.path not in paths]
        written = [_norm_path(v) for v in other.attr_values("written_path")]
        if any(w.split(":", 1)[-1] and any(p.endswith(w.split(":", 1)[-1].lstrip("/")) for p in paths)
               for w in written) or any(f"/{name}" in value for value in values for name in names):
            tied.append(other)
    return tied


def confirm_files(findings: list[Finding]) -> list[Finding]:
    """A suspicious file named by another finding (requested, written there) becomes confirmed."""
    result: list[Finding] = []
    for finding in findings:
        if finding.outcome is not Outcome.SUSPICIOUS or not finding.attr_values("file_name"):
            result.append(finding)
            continue
        tied = _ties(finding, findings)
        if not tied:
            result.append(finding)
            continue
        reasons = sorted({f"{t.rule_id}" for t in tied})
        result.append(dataclasses.replace(
            finding,
            outcome=Outcome.CONFIRMED,
            confidence=Confidence.HIGH,
            severity=max(finding.severity, Severity.HIGH),
            description=(finding.description + " " if finding.description else "")
            + f"Confirmed: tied to {', '.join(reasons)}.",
            attributes=tuple(sorted({*finding.attributes, *(("tied_to", r) for r in reasons)})),
        ))
    return result


def step_of(finding: Finding) -> str:
    steps = finding.attr_values("step")
    return steps[0] if steps else ""


def timeline(findings: list[Finding]) -> list[dict[str, object]]:
    """The attack chain in time order: one entry per finding that is more than informational."""
    entries: list[dict[str, object]] = []
    for finding in findings:
        if finding.outcome is Outcome.INFORMATIONAL:
            continue
        first = finding.evidence[0] if finding.evidence else None
        entry: dict[str, object] = {
            "time": finding.first_seen,
            "last_time": finding.last_seen,
            "step": step_of(finding),
            "rule_id": finding.rule_id,
            "title": finding.title,
            "outcome": finding.outcome.value,
            "severity": finding.severity.label,
            "evidence": f"{first.path}:{first.line or first.record or ''}" if first else "",
        }
        # time truth: where a file's time comes from; a copy's time is never shown as an event time
        sources = finding.attr_values("time_source")
        if sources:
            entry["time_source"] = sorted(sources)[0]
        if not finding.first_seen:
            entry["time_note"] = "write time unknown"
        entries.append(entry)
    order = {s: i for i, s in enumerate(CHAIN_STEPS)}
    entries.sort(key=lambda e: (str(e["time"] or "9999"), order.get(str(e["step"]), 99), str(e["rule_id"])))
    return entries
