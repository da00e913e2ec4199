from __future__ import annotations

import pytest

from exhunt.model.coverage import HostCoverage, InputWarning, SourceCoverage, SourceStatus
from exhunt.model.finding import Confidence, EvidenceRef, Finding, Outcome, Severity
from exhunt.model.result import HostResult, Verdict

HOSTILE = '<script>alert("x")</script>=cmd|\' /c calc\'!A0'


@pytest.fixture
def results() -> list[HostResult]:
    ssrf = Finding(
        host="ex01", rule_id="EXH-PL-26855-SSRF", title="ProxyLogon SSRF", severity=Severity.CRITICAL,
        confidence=Confidence.HIGH, outcome=Outcome.SUCCEEDED, detector="sigma", cves=("CVE-2021-26855",),
        attack=("T1190",), first_seen="2021-03-03T04:01:02.123Z", last_seen="2021-03-03T04:09:00Z",
        evidence=(EvidenceRef("C/Logging/HttpProxy/Ecp/HttpProxy_1.LOG", HOSTILE, line=12, offset=3456,
                              sha256="a" * 64, timestamp="2021-03-03T04:01:02.123Z"),),
        evidence_total=7,
        attributes=(("client_ip", "203.0.113.9"), ("client_ip", "10.0.0.5"), ("step", "initial-access")))
    shell = Finding(
        host="ex01", rule_id="EXH-FILE-WEBSHELL", title="Web shell in owa/auth", severity=Severity.HIGH,
        confidence=Confidence.HIGH, outcome=Outcome.CONFIRMED, detector="files", attack=("T1505.003",),
        first_seen="2021-03-03T04:10:00Z",
        evidence=(EvidenceRef("C/x/owa/auth/a.aspx", "<%eval(Request.Item[\"p\"],\"unsafe\");%>", sha256="b" * 64),),
        attributes=(("file_name", "a.aspx"), ("step", "webshell-write")))
    coverage = HostCoverage(
        sources={"httpproxy": SourceCoverage("httpproxy", SourceStatus.READ, 3, 0, 100, 1000,
                                             "2021-03-01T00:00:00Z", "2021-03-05T00:00:00Z")},
        warnings=[InputWarning("C/bad.LOG", HOSTILE, code="garbage", line=4)],
        notes=["IIS W3C logs missing: not checked."])
    one = HostResult(host="ex01", evidence="/cases/ex01", verdict=Verdict.COMPROMISED,
                     verdict_reasons=["2 findings"], findings=[ssrf, shell], coverage=coverage,
                     timeline=[{"time": "2021-03-03T04:01:02.123Z", "step": "initial-access", "rule_id": "R",
                                "title": HOSTILE, "outcome": "succeeded", "evidence": "C/a:1"}])
    two = HostResult(host="ex02", evidence="/cases/ex02", verdict=Verdict.NO_SIGN)
    return [one, two]
