"""Correlation: files tied to the log lines that wrote or requested them, the chain order, the verdict rules,
and findings graded by the server's exposure at the time."""

from __future__ import annotations

from exhunt.correlate.chains import confirm_files, timeline
from exhunt.correlate.exposure import grade_by_exposure
from exhunt.correlate.verdict import conclude
from exhunt.exposure import BuildObservation
from exhunt.model.coverage import HostCoverage, SourceCoverage, SourceStatus
from exhunt.model.finding import Confidence, EvidenceRef, Finding, Outcome, Severity
from exhunt.model.result import Verdict


def finding(rule: str, outcome: Outcome, severity: Severity = Severity.HIGH, *, step: str = "",
            when: str = "2021-03-03T04:00:00.000Z", attrs: tuple[tuple[str, str], ...] = (),
            detector: str = "sigma", cves: tuple[str, ...] = (), excerpt: str = "") -> Finding:
    return Finding(host="ex01", rule_id=rule, title=rule, severity=severity, confidence=Confidence.MEDIUM,
                   outcome=outcome, detector=detector, cves=cves, first_seen=when, last_seen=when,
                   evidence=(EvidenceRef("C/x.log", excerpt, line=1),),
                   attributes=(*attrs, *((("step", step),) if step else ())))


def coverage(read: bool = True) -> HostCoverage:
    status = SourceStatus.READ if read else SourceStatus.MISSING
    return HostCoverage(sources={"httpproxy": SourceCoverage("httpproxy", status, files=int(read), records=10 * read)})


SHELL = finding("FILE", Outcome.SUSPICIOUS, step="webshell-write", detector="files",
                attrs=(("file_name", "abc.aspx"), ("path", "C/inetpub/wwwroot/aspnet_client/system_web/abc.aspx")))


def test_file_written_by_a_logged_path_is_confirmed() -> None:
    oab = finding("OAB", Outcome.SUCCEEDED, attrs=(
        ("written_path", "C:\\inetpub\\wwwroot\\aspnet_client\\system_web\\abc.aspx"),))
    graded = confirm_files([SHELL, oab])
    assert graded[0].outcome is Outcome.CONFIRMED and ("tied_to", "OAB") in graded[0].attributes


def test_file_requested_in_a_log_line_is_confirmed_and_unrelated_stays_suspicious() -> None:
    request = finding("IIS", Outcome.SUCCEEDED, excerpt="2021-03-03 04:01:00 POST /aspnet_client/system_web/abc.aspx")
    other = finding("IIS2", Outcome.SUCCEEDED, excerpt="GET /owa/auth/logon.aspx")
    assert confirm_files([SHELL, request])[0].outcome is Outcome.CONFIRMED
    assert confirm_files([SHELL, other])[0].outcome is Outcome.SUSPICIOUS


def test_timeline_is_in_time_order_and_skips_informational() -> None:
    late = finding("LATE", Outcome.SUSPICIOUS, step="credential-access", when="2021-03-03T05:00:00.000Z")
    early = finding("EARLY", Outcome.SUCCEEDED, step="initial-access", when="2021-03-03T02:00:00.000Z")
    info = finding("INFO", Outcome.INFORMATIONAL, when="2021-03-03T01:00:00.000Z")
    assert [e["rule_id"] for e in timeline([late, info, early])] == ["EARLY", "LATE"]


def test_verdicts() -> None:
    assert conclude("ex01", "x", [finding("A", Outcome.SUCCEEDED)], coverage(), {}).verdict is Verdict.COMPROMISED
    attempt = finding("B", Outcome.ATTEMPTED, Severity.LOW)
    assert conclude("ex01", "x", [attempt], coverage(), {}).verdict is Verdict.ATTEMPTED
    info = finding("C", Outcome.INFORMATIONAL, Severity.INFO)
    assert conclude("ex01", "x", [info], coverage(), {}).verdict is Verdict.NO_SIGN
    assert conclude("ex01", "x", [], coverage(read=False), {}).verdict is Verdict.COULD_NOT_ASSESS
    # a finding is never hidden by missing logs
    assert conclude("ex01", "x", [attempt], coverage(read=False), {}).verdict is Verdict.ATTEMPTED


def test_success_on_a_build_already_patched_is_an_attempt() -> None:
    history = [BuildObservation("2021-03-01T00:00:00Z", "15.2.792.10", "C/a.LOG"),
               BuildObservation("2021-03-10T00:00:00Z", "15.2.792.10", "C/b.LOG")]
    ssrf = finding("SSRF", Outcome.SUCCEEDED, Severity.CRITICAL, cves=("CVE-2021-26855",),
                   when="2021-03-05T00:00:00.000Z")
    [graded] = grade_by_exposure([ssrf], history)
    assert graded.outcome is Outcome.ATTEMPTED and graded.severity is Severity.MEDIUM
    vulnerable = [BuildObservation("2021-03-01T00:00:00Z", "15.2.792.3", "C/a.LOG"),
                  BuildObservation("2021-03-10T00:00:00Z", "15.2.792.3", "C/b.LOG")]
    [kept] = grade_by_exposure([ssrf], vulnerable)
    assert kept.outcome is Outcome.SUCCEEDED and ("exposure", "exposed") in kept.attributes
