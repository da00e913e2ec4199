"""Grading from proof: what a logged exploit shows, carried to the findings it proves.

- CVEs of a file come from the exploit that wrote its path (a 26858 OABGenerator line, a ProxyShell
  mailbox export), never from the folder it sits in.
- ProxyToken (CVE-2021-33766) succeeded only when the inbox rule it creates shows in the ECP Server log (or
  the MSExchange Management log): the rule and its forwarding target are shown; otherwise an attempt.
- A request for a page that Exchange does not ship is tied to the file on disk when it is there.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from datetime import datetime, timedelta

from exhunt.correlate.chains import step_of
from exhunt.model.finding import Confidence, Finding, Outcome, Severity

FILE_DETECTORS = frozenset({"files", "yara", "ioc"})
PROXYTOKEN_REQUESTS = frozenset({"EXH-PT-IIS-ECP-SECURITYTOKEN", "EXH-PT-HTTPPROXY-ECP-SECURITYTOKEN"})
PROXYTOKEN_RULES = frozenset({"EXH-PT-ECP-INBOX-RULE-FORWARD", "EXH-PT-INBOX-RULE-FORWARD"})
PROXYTOKEN_AFTER = timedelta(hours=1)  # the inbox rule is written while the NewObject request runs
WEBSHELL_ACCESS = frozenset({"EXH-WS-IIS-FOREIGN-PAGE", "EXH-WS-HTTPPROXY-FOREIGN-PAGE"})
_UNC = re.compile(r"^//[^/]+/[a-z]\$/")


def _norm(path: str) -> str:
    """A host path or a logged Windows path, lowercase, '/'-separated, without drive or UNC share."""
    text = path.strip().strip("'\"").replace("\\", "/").lower()
    text = _UNC.sub("", text)
    text = re.sub(r"^[a-z]:/", "", text)
    return re.sub(r"/{2,}", "/", text).lstrip("/")


def _resolve(path: str) -> str:
    parts: list[str] = []
    for part in path.split("/"):
        if part == "..":
            if parts:
                parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return "/".join(parts)


def _wrote(writer: Finding, path: str) -> bool:
    target = _resolve(_norm(path))
    if not target:
        return False
    for written in writer.attr_values("written_path"):
        logged = _resolve(_norm(written))
        if logged and (target == logged or target.endswith("/" + logged) or logged.endswith("/" + target)):
            return True
    return False


def cves_from_proof(findings: list[Finding]) -> list[Finding]:
    """A file finding carries the CVEs of the logged exploits that wrote its path, and only those when
    its rule gave none (content rules that prove a CVE by themselves keep theirs)."""
    writers = [f for f in findings if f.cves and f.attr_values("written_path")]
    result: list[Finding] = []
    for finding in findings:
        paths = finding.attr_values("path")
        if finding.detector not in FILE_DETECTORS or not paths or not writers:
            result.append(finding)
            continue
        proofs = [w for w in writers if w is not finding and any(_wrote(w, p) for p in paths)]
        if not proofs:
            result.append(finding)
            continue
        cves = tuple(sorted({*finding.cves, *(c for w in proofs for c in w.cves)}))
        names = sorted({w.rule_id for w in proofs})
        result.append(dataclasses.replace(
            finding, cves=cves,
            description=(finding.description + " " if finding.description else "")
            + f"CVEs from the logged exploit that wrote this path: {', '.join(names)}.",
            attributes=tuple(sorted({*finding.attributes, *(("cve_proof", n) for n in names)}))))
    return result


def _time(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
    except ValueError:
        return None


def _lower(values: list[str]) -> set[str]:
    return {v.strip().lower() for v in values if v.strip()}


def _rule_follows(request: Finding, rule: Finding) -> bool:
    start, end, made = _time(request.first_seen), _time(request.last_seen), _time(rule.first_seen)
    if start is None or made is None:
        return False
    if not start - timedelta(minutes=1) <= made <= (end or start) + PROXYTOKEN_AFTER:
        return False
    victims = _lower(request.attr_values("victim"))
    owners = _lower(rule.attr_values("mailbox") + rule.attr_values("user"))
    return not victims or not owners or bool(victims & owners)


Patched = Callable[[Finding], bool | None]  # was the server patched for the finding's CVEs at its time?


def grade_proxytoken(findings: list[Finding], patched: Patched | None = None) -> list[Finding]:
    """SecurityToken requests to the inbox rules service succeeded when the rule they create is logged,
    unless the server's build was already patched for ProxyToken then (``patched``): an attempt."""
    rules = [f for f in findings if f.rule_id in PROXYTOKEN_RULES]
    result: list[Finding] = []
    tied_rules: dict[int, set[str]] = {}
    for finding in findings:
        if finding.rule_id not in PROXYTOKEN_REQUESTS or finding.outcome not in (Outcome.SUSPICIOUS,
                                                                                  Outcome.ATTEMPTED):
            result.append(finding)
            continue
        # the rules grade NewObject answered 2xx "suspicious"; other SecurityToken requests stay attempts
        new_object = finding.outcome is Outcome.SUSPICIOUS and any(
            "/inboxrules.svc/newobject" in u.lower() for u in finding.attr_values("url"))
        proofs = [r for r in rules if _rule_follows(finding, r)] if new_object else []
        state = patched(finding) if patched is not None and proofs else None
        if state is True:
            result.append(dataclasses.replace(
                finding, outcome=Outcome.ATTEMPTED,
                description=(finding.description + " " if finding.description else "")
                + f"An inbox rule followed ({', '.join(sorted({p.rule_id for p in proofs}))}), but the server's "
                  f"build was already patched for {', '.join(finding.cves)} at that time: graded as an attempt; "
                  "check who created the rule.",
                attributes=tuple(sorted({*finding.attributes, ("exposure", "patched")}))))
            continue
        if proofs:
            forward = sorted({v for r in proofs for v in r.attr_values("forward_to")})
            names = sorted({v for r in proofs for v in r.attr_values("rule_name")})
            for proof in proofs:
                tied_rules.setdefault(id(proof), set()).add(finding.rule_id)
            what = f"forwarding to {', '.join(forward)}" if forward else "a forwarding rule"
            if names:
                what += f", rule {', '.join(names)}"
            logged_by = ", ".join(sorted({p.rule_id for p in proofs}))
            result.append(dataclasses.replace(
                finding, outcome=Outcome.SUCCEEDED, severity=Severity.CRITICAL, confidence=Confidence.HIGH,
                description=(finding.description + " " if finding.description else "")
                + f"Succeeded: the inbox rule it created is logged ({what}; {logged_by}).",
                attributes=tuple(sorted({*finding.attributes, *(("forward_to", v) for v in forward),
                                         *(("inbox_rule", v) for v in names),
                                         *(("tied_to", p.rule_id) for p in proofs),
                                         *((("exposure", "exposed"),) if state is False else ())}))))
            continue
        note = ("The inbox rules service answered, but no inbox rule it created is logged (ECP Server / "
                "MSExchange Management): graded an attempt; without those logs it cannot be graded further."
                if new_object else "Graded an attempt: success shows as the inbox rule it creates.")
        result.append(dataclasses.replace(
            finding, outcome=Outcome.ATTEMPTED,
            description=(finding.description + " " if finding.description else "") + note))
    final: list[Finding] = []
    for finding in result:
        requests = tied_rules.get(id(finding))
        if not requests:
            final.append(finding)
            continue
        final.append(dataclasses.replace(
            finding, outcome=Outcome.CONFIRMED, severity=max(finding.severity, Severity.HIGH),
            confidence=Confidence.HIGH,
            description=(finding.description + " " if finding.description else "")
            + f"Confirmed: created through ProxyToken requests ({', '.join(sorted(requests))}).",
            attributes=tuple(sorted({*finding.attributes, *(("tied_to", r) for r in requests)}))))
    return final


def tie_access_to_files(findings: list[Finding]) -> list[Finding]:
    """A request for a foreign page names the file on disk when a file finding has that name."""
    files = [f for f in findings if f.detector in FILE_DETECTORS and step_of(f) == "webshell-write"]
    result: list[Finding] = []
    for finding in findings:
        if finding.rule_id not in WEBSHELL_ACCESS or not files:
            result.append(finding)
            continue
        urls = _lower(finding.attr_values("url"))
        on_disk = sorted({p for f in files for p in f.attr_values("path") for name in f.attr_values("file_name")
                          if any(u.endswith("/" + name) for u in urls)})
        if not on_disk:
            result.append(finding)
            continue
        result.append(dataclasses.replace(
            finding, description=(finding.description + " " if finding.description else "")
            + f"The page is on disk: {', '.join(on_disk[:5])}.",
            attributes=tuple(sorted({*finding.attributes, *(("file_on_disk", p) for p in on_disk[:20])}))))
    return result
