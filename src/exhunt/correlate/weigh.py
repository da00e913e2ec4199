"""Weigh each finding into one evidence class (docs/verdicts.md): what the verdict may rest on.

- ``compromise``: web shell content on disk, exploitation that succeeded, an artifact tied to it, or
  post-exploitation behaviour;
- ``attempt``: exploitation that failed or cannot be graded, and suspicious artifacts;
- ``weak``: who sent a request (user agents, IP addresses, crawler look-alikes) and staging not corroborated;
  they never move a verdict alone, they raise the confidence of findings tied to them (client IP, time);
- ``known-benign``: matched the known-benign catalogue (``correlate/benign.py``), kept and shown as such;
- ``context``: informational.

The data (weak indicator types, staging folders, windows) is in ``rules/verdict/weights.yaml``.
"""

from __future__ import annotations

import bisect
import dataclasses
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

from exhunt.content.bundle import RULES_DIR
from exhunt.content.yamlio import load_yaml
from exhunt.correlate.benign import KNOWN_BENIGN
from exhunt.correlate.chains import step_of
from exhunt.detectors.files.globs import compile_globs
from exhunt.model.finding import Confidence, Finding, Outcome, Severity

WEIGHTS = RULES_DIR / "verdict" / "weights.yaml"
COMPROMISE, ATTEMPT, WEAK, CONTEXT = "compromise", "attempt", "weak", "context"
CLASSES = (COMPROMISE, ATTEMPT, WEAK, KNOWN_BENIGN, CONTEXT)
# steps whose suspicious findings show an intruder acting on the host (not only a file lying there)
BEHAVIOUR = frozenset({"webshell-write", "webshell-use", "exec", "credential-access", "persistence",
                       "vdir-tamper"})
POST_EXPLOITATION = BEHAVIOUR | {"collection", "staging", "exfiltration"}
WEBSHELL_ATTACK = "T1505.003"
CONTENT_DETECTORS = frozenset({"yara"})
_RAISE = {Confidence.LOW: Confidence.MEDIUM, Confidence.MEDIUM: Confidence.HIGH, Confidence.HIGH: Confidence.HIGH}


@dataclass(frozen=True, slots=True)
class Weights:
    weak_ioc_types: frozenset[str]
    weak_rules: frozenset[str]
    weak_window: timedelta
    staging_steps: frozenset[str]
    staging_detectors: frozenset[str]
    staging_folders: re.Pattern[str]
    encrypted_marker: str
    intrusion_margin: timedelta
    weak_activity_max: Severity
    weak_activity_steps: frozenset[str]
    not_there_families: frozenset[str]
    not_there_statuses: frozenset[str]
    not_there_redirects: frozenset[str]
    exploit_steps: frozenset[str]


def load_weights(path: Path = WEIGHTS) -> Weights:
    data = load_yaml(path.read_text(encoding="utf-8"))
    weak, staging = data["weak"], data["staging"]
    return Weights(
        weak_ioc_types=frozenset(weak.get("ioc_types", [])), weak_rules=frozenset(weak.get("rules") or []),
        weak_window=timedelta(minutes=int(weak.get("window_minutes", 30))),
        staging_steps=frozenset(staging.get("steps", [])), staging_detectors=frozenset(staging.get("detectors", [])),
        staging_folders=compile_globs(staging.get("staging_folders", [])),
        encrypted_marker=str(staging.get("encrypted_marker", "encrypted")).lower(),
        intrusion_margin=timedelta(hours=int(staging.get("window_hours", 24))),
        weak_activity_max=Severity.parse(str(weak.get("activity_max_severity", "medium"))),
        weak_activity_steps=frozenset(weak.get("activity_steps", [])),
        not_there_families=frozenset((data.get("not_there") or {}).get("families", [])),
        not_there_statuses=frozenset(str(x) for x in (data.get("not_there") or {}).get("statuses", [])),
        not_there_redirects=frozenset(str(x) for x in (data.get("not_there") or {}).get("redirects", [])),
        exploit_steps=frozenset(data.get("exploit_steps") or []))


@cache
def weights() -> Weights:
    return load_weights()


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def is_webshell_content(finding: Finding) -> bool:
    """A content rule (YARA) or a published web shell hash that says a web shell is on disk."""
    if finding.severity < Severity.HIGH:
        return False
    shell = step_of(finding) in ("webshell-write", "webshell-use") or WEBSHELL_ATTACK in finding.attack
    if finding.detector in CONTENT_DETECTORS:
        return shell
    return finding.detector == "ioc" and shell and finding.attr_values("indicator_type")[:1] in (
        ["md5"], ["sha1"], ["sha256"])


def is_exploit_attempt(finding: Finding, w: Weights | None = None) -> bool:
    """An attempt-class finding about getting in (a probe, an exploit request, anything naming a CVE), as
    opposed to behaviour or artifacts on the host with no exploit seen (docs/verdicts.md; the steps are in
    ``weights.yaml``)."""
    w = w or weights()
    return finding.outcome is Outcome.ATTEMPTED or bool(finding.cves) or step_of(finding) in w.exploit_steps


def _is_weak_indicator(finding: Finding, w: Weights) -> bool:
    if finding.rule_id in w.weak_rules:
        return True
    return finding.detector == "ioc" and any(t in w.weak_ioc_types for t in finding.attr_values("indicator_type"))


def _is_staging(finding: Finding, w: Weights) -> bool:
    return step_of(finding) in w.staging_steps and finding.detector in w.staging_detectors


def base_class(finding: Finding, w: Weights | None = None) -> str:
    """The class of one finding on its own (staging corroboration is decided with the others)."""
    w = w or weights()
    if finding.evidence_class == KNOWN_BENIGN:
        return KNOWN_BENIGN
    if finding.outcome is Outcome.INFORMATIONAL or finding.severity <= Severity.INFO:
        return CONTEXT
    if _is_weak_indicator(finding, w):
        return WEAK
    if is_webshell_content(finding):
        return COMPROMISE
    if finding.outcome is Outcome.SUSPICIOUS and step_of(finding) in w.weak_activity_steps and not finding.cves \
            and finding.severity <= w.weak_activity_max and finding.detector not in w.staging_detectors:
        return WEAK  # what administrators also do (an account, a group change, forwarding): alone, weak
    if finding.severity >= Severity.HIGH and finding.outcome in (Outcome.SUCCEEDED, Outcome.CONFIRMED):
        return COMPROMISE
    if finding.outcome is Outcome.SUSPICIOUS and step_of(finding) in POST_EXPLOITATION and (
            finding.severity >= Severity.CRITICAL
            or (finding.severity >= Severity.HIGH and finding.confidence is Confidence.HIGH
                and step_of(finding) in BEHAVIOUR)):
        return COMPROMISE
    return ATTEMPT


def _answered_only(finding: Finding, statuses: frozenset[str], w: Weights) -> bool:
    """An Exchange-family finding whose every request was answered with one of ``statuses``."""
    answers = finding.attr_values("http_status")
    return (bool(answers) and not finding.attr_values("http_status_more")
            and any(f in w.not_there_families for f in finding.attr_values("family"))
            and all(a in statuses for a in answers))


def _nothing_there(finding: Finding, w: Weights) -> bool:
    """An Exchange exploit attempt the web server answered 'not found' (checked on hosts without Exchange)."""
    return finding.outcome is Outcome.ATTEMPTED and _answered_only(finding, w.not_there_statuses, w)


def _redirect_only(finding: Finding) -> Finding:
    return dataclasses.replace(
        finding, outcome=Outcome.ATTEMPTED, severity=min(finding.severity, Severity.MEDIUM),
        attributes=tuple(sorted({*finding.attributes, ("ungraded", "redirect from a host without Exchange")})),
        description=(finding.description + " " if finding.description else "")
        + "Graded an attempt: the host shows no Exchange (no Exchange log, no build) and the only answer was a "
          "redirect, which many web sites give to any unknown path: it does not show the exploit worked.")


def _intrusion_window(findings: list[Finding], w: Weights) -> tuple[datetime, datetime] | None:
    times = [t for f in findings for t in (_time(f.first_seen), _time(f.last_seen)) if t is not None]
    if not times:
        return None
    return min(times) - w.intrusion_margin, max(times) + w.intrusion_margin


def _packed_by(finding: Finding, others: list[Finding]) -> str:
    """A logged command line (a shell or w3wp child packing data) that names this file."""
    names = [n.lower() for n in finding.attr_values("file_name") if n]
    for other in others:
        lines = [v.replace("\\", "/").lower() for v in other.attr_values("command_line")]
        if other is not finding and any(f"/{name}" in line for line in lines for name in names):
            return other.rule_id
    return ""


def _staging_corroboration(finding: Finding, window: tuple[datetime, datetime] | None, w: Weights,
                           others: list[Finding]) -> str:
    """Why a staged file is more than weak, or "" when nothing corroborates it."""
    if finding.outcome is Outcome.CONFIRMED:
        return "tied to " + (", ".join(finding.attr_values("tied_to") or finding.attr_values("tied_by"))
                             or "another finding")
    packer = _packed_by(finding, others)
    if packer:
        return f"a logged command packed it ({packer})"
    if any(w.encrypted_marker in v.lower() for v in finding.attr_values("content_type")):
        return "the archive is encrypted (password-protected)"
    folder = next((p for p in finding.attr_values("path") if w.staging_folders.match(p)), None)
    if folder:
        return f"it sits where intruders stage data ({folder})"
    when = _time(finding.first_seen)
    if window and when and window[0] <= when <= window[1]:
        return "its time falls in the intrusion window of the other findings"
    return ""


def _shares(weak: Finding, other: Finding, w: Weights) -> str:
    """Why a weak finding corroborates another: the same client IP, or a time close to it."""
    ips = set(weak.attr_values("client_ip")) & set(other.attr_values("client_ip"))
    if ips:
        return f"same client {sorted(ips)[0]}"
    start, end = _time(other.first_seen), _time(other.last_seen) or _time(other.first_seen)
    if start is None or end is None:
        return ""
    for ref in weak.evidence:
        when = _time(ref.timestamp)
        if when is not None and start - w.weak_window <= when <= end + w.weak_window:
            return f"within {int(w.weak_window.total_seconds() // 60)} minutes"
    return ""


class _WeakIndex:
    """Weak findings by client IP and by evidence time, so that finding what corroborates a finding costs
    the matches, not a pass over every weak finding (hosts with thousands of findings)."""

    def __init__(self, weak: list[Finding], w: Weights) -> None:
        self.weak = weak
        self.window = w.weak_window
        self.by_ip: dict[str, list[int]] = {}
        timed: list[tuple[datetime, int]] = []
        for position, finding in enumerate(weak):
            for ip in set(finding.attr_values("client_ip")):
                self.by_ip.setdefault(ip, []).append(position)
            timed.extend((when, position) for ref in finding.evidence if (when := _time(ref.timestamp)))
        timed.sort(key=lambda item: item[0])
        self.times = [when for when, _ in timed]
        self.positions = [position for _, position in timed]

    def candidates(self, other: Finding) -> list[Finding]:
        """Weak findings that may share a client IP or a time with ``other``, in their original order."""
        found = {p for ip in set(other.attr_values("client_ip")) for p in self.by_ip.get(ip, ())}
        start, end = _time(other.first_seen), _time(other.last_seen) or _time(other.first_seen)
        if start is not None and end is not None:
            low = bisect.bisect_left(self.times, start - self.window)
            high = bisect.bisect_right(self.times, end + self.window)
            found.update(self.positions[low:high])
        return [self.weak[p] for p in sorted(found)]


def _not_there(finding: Finding) -> Finding:
    return dataclasses.replace(
        finding, attributes=tuple(sorted({*finding.attributes, ("not_applicable", "no Exchange on this host")})),
        description=(finding.description + " " if finding.description else "")
        + "Context only: the host shows no Exchange (no Exchange log, no build) and the web server answered "
          "not found: the probe found nothing to exploit here.")


def weigh(findings: list[Finding], w: Weights | None = None, exchange_seen: bool = True) -> list[Finding]:
    """Give every finding its evidence class; weak indicators raise the confidence of the findings they
    corroborate (attribute ``corroborated_by``); uncorroborated staging is weak. On a host that shows no
    Exchange (``exchange_seen`` false), Exchange exploit attempts answered 'not found' are context."""
    w = w or weights()
    if not exchange_seen:
        findings = [_not_there(f) if _nothing_there(f, w)
                    else _redirect_only(f) if f.outcome is Outcome.SUCCEEDED
                    and _answered_only(f, w.not_there_redirects, w) else f for f in findings]
    classes = [CONTEXT if f.attr_values("not_applicable") else base_class(f, w) for f in findings]
    # the intrusion window comes from logged activity: a file's own time may be when the evidence was copied
    compromise = [f for f, c in zip(findings, classes, strict=True) if c == COMPROMISE and not _is_staging(f, w)
                  and not f.attr_values("path")]
    window = _intrusion_window(compromise, w)
    weighed: list[Finding] = []
    for finding, cls in zip(findings, classes, strict=True):
        if cls in (COMPROMISE, ATTEMPT) and _is_staging(finding, w):
            why = _staging_corroboration(finding, window, w, findings)
            if not why:
                cls = WEAK
                finding = dataclasses.replace(finding, description=(
                    finding.description + " " if finding.description else "")
                    + "Weak alone: nothing corroborates staging (not tied to a shell or a w3wp child, not "
                      "encrypted, not in a staging folder, not in the intrusion window).")
            else:
                finding = dataclasses.replace(finding, attributes=tuple(sorted(
                    {*finding.attributes, ("corroborated", why)})))
        weighed.append(dataclasses.replace(finding, evidence_class=cls))
    weak = [f for f in weighed if f.evidence_class == WEAK]
    corroborates: dict[int, set[str]] = {}
    index = _WeakIndex(weak, w)
    result: list[Finding] = []
    for finding in weighed:
        if finding.evidence_class not in (COMPROMISE, ATTEMPT) or not weak:
            result.append(finding)
            continue
        tied = [(o, why) for o in index.candidates(finding) if o is not finding and (why := _shares(o, finding, w))]
        if not tied:
            result.append(finding)
            continue
        for other, _ in tied:
            corroborates.setdefault(id(other), set()).add(finding.rule_id)
        ties = sorted({f"{o.rule_id} ({why})" for o, why in tied})
        result.append(dataclasses.replace(
            finding, confidence=_RAISE[finding.confidence],
            description=(finding.description + " " if finding.description else "")
            + f"Corroborated by weak indicators: {'; '.join(ties)}.",
            attributes=tuple(sorted({*finding.attributes, *(("corroborated_by", t) for t in ties)}))))
    # a weak finding tied to a compromise or an attempt says so (and takes its place in the attack chain)
    return [dataclasses.replace(f, attributes=tuple(sorted({*f.attributes, *(
        ("corroborates", r) for r in sorted(corroborates[id(f)])[:20])})))
        if id(f) in corroborates else f for f in result]
