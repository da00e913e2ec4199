"""The indexed file ties give exactly what comparing every finding with every other gave (the former
implementation, kept here as the reference), on random findings built to hit every corner of the rules."""

from __future__ import annotations

import dataclasses
import random

from exhunt.correlate.chains import confirm_files
from exhunt.model.finding import Confidence, EvidenceRef, Finding, Outcome, Severity

_JOIN_KEYS = ("written_path", "url", "uri", "target", "target_path", "requested", "export_path")


def _norm_path(text: str) -> str:
    return text.replace("\\", "/").lower().rstrip()


def _reference_ties(finding: Finding, others: list[Finding]) -> list[Finding]:
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


def _reference_confirm(findings: list[Finding]) -> list[Finding]:
    result: list[Finding] = []
    for finding in findings:
        if finding.outcome is not Outcome.SUSPICIOUS or not finding.attr_values("file_name"):
            result.append(finding)
            continue
        tied = _reference_ties(finding, findings)
        if not tied:
            result.append(finding)
            continue
        reasons = sorted({f"{t.rule_id}" for t in tied})
        result.append(dataclasses.replace(
            finding, outcome=Outcome.CONFIRMED, confidence=Confidence.HIGH,
            severity=max(finding.severity, Severity.HIGH),
            description=(finding.description + " " if finding.description else "")
            + f"Confirmed: tied to {', '.join(reasons)}.",
            attributes=tuple(sorted({*finding.attributes, *(("tied_to", r) for r in reasons)}))))
    return result


_NAMES = ("abc.aspx", "ABC.aspx", "a.aspx", "a.aspx.bak", "x/y.aspx", "shell.ashx", "")
_DIRS = ("C/inetpub/wwwroot/aspnet_client/", "C\\inetpub\\wwwroot\\aspnet_client\\", "C/x/", "")


def _random_finding(rng: random.Random, n: int) -> Finding:
    attrs: list[tuple[str, str]] = []
    for _ in range(rng.randrange(4)):
        name = rng.choice(_NAMES)
        kind = rng.choice(("file_name", "path", "written_path", "url", "uri", "target", "client_ip", "requested"))
        if kind == "file_name":
            attrs.append((kind, name))
        elif kind == "path":
            attrs.append((kind, rng.choice(_DIRS) + name + rng.choice(("", " ", "x"))))
        elif kind == "written_path":
            attrs.append((kind, rng.choice(("C:", "D:", "", "C:/", "\\\\")) + rng.choice(_DIRS) + name))
        else:
            attrs.append((kind, rng.choice(("/owa/auth/", "GET /", "", "/ecp/")) + name + rng.choice(("", "?x=1"))))
    evidence = tuple(
        EvidenceRef(rng.choice(("C/x.log", "C/inetpub/wwwroot/aspnet_client/abc.aspx", "c/x/a.aspx")),
                    rng.choice(("", "POST /owa/auth/", "GET /aspnet_client/")) + rng.choice(_NAMES), line=i + 1)
        for i in range(rng.randrange(3)))
    return Finding(host="h", rule_id=f"R{rng.randrange(6)}", title=f"t{n}", severity=Severity(rng.randrange(5)),
                   confidence=Confidence.MEDIUM, outcome=rng.choice(list(Outcome)), detector=rng.choice(("a", "b")),
                   evidence=evidence, attributes=tuple(attrs), description=rng.choice(("", "d")))


def test_indexed_ties_equal_all_pairs_reference() -> None:
    rng = random.Random(13)
    confirmed = 0
    for round_ in range(400):
        findings = [_random_finding(rng, i) for i in range(rng.randrange(1, 12))]
        expected = _reference_confirm(findings)
        assert confirm_files(findings) == expected, round_
        confirmed += sum(f.outcome is Outcome.CONFIRMED for f in expected)
    assert confirmed > 100  # the random findings do exercise the ties


def test_empty_written_suffix_ties_like_before() -> None:
    shell = Finding(host="h", rule_id="F", title="f", severity=Severity.MEDIUM, confidence=Confidence.LOW,
                    outcome=Outcome.SUSPICIOUS, detector="files",
                    attributes=(("file_name", "a.aspx"), ("path", "C/a.aspx")))
    writer = dataclasses.replace(shell, rule_id="W", outcome=Outcome.SUCCEEDED,
                                 attributes=(("written_path", "C:/"),))
    assert confirm_files([shell, writer]) == _reference_confirm([shell, writer])
