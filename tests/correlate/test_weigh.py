"""The verdict's data and its rules, unit by unit: the known-benign catalogue (each entry's samples), the
weights file, the evidence classes, CVEs from proof, and the stock page lists kept equal between the
web shell access rules and the file rules."""

from __future__ import annotations

import dataclasses

import pytest

from exhunt.content.bundle import RULES_DIR
from exhunt.content.yamlio import load_yaml
from exhunt.correlate.benign import SUPPRESSED, catalogue, mark_known_benign
from exhunt.correlate.proof import cves_from_proof, tie_access_to_files
from exhunt.correlate.verdict import conclude
from exhunt.correlate.weigh import base_class, load_weights, weigh
from exhunt.model.coverage import HostCoverage, SourceCoverage, SourceStatus
from exhunt.model.finding import Confidence, EvidenceRef, Finding, Outcome, Severity
from exhunt.model.result import Verdict


def finding(rule: str, outcome: Outcome = Outcome.SUSPICIOUS, severity: Severity = Severity.HIGH, *,
            detector: str = "sigma", step: str = "", attrs: tuple[tuple[str, str], ...] = (),
            cves: tuple[str, ...] = (), when: str = "2021-03-03T04:00:00.000Z",
            confidence: Confidence = Confidence.MEDIUM, attack: tuple[str, ...] = ()) -> Finding:
    return Finding(host="ex01", rule_id=rule, title=rule, severity=severity, confidence=confidence,
                   outcome=outcome, detector=detector, cves=cves, attack=attack, first_seen=when, last_seen=when,
                   evidence=(EvidenceRef("C/x.log", "x", line=1, timestamp=when),),
                   attributes=(*attrs, *((("step", step),) if step else ())))


def coverage() -> HostCoverage:
    return HostCoverage(sources={"iis": SourceCoverage("iis", SourceStatus.READ, files=1, records=10,
                                                       first_time="2021-03-01T00:00:00.000Z",
                                                       last_time="2021-03-10T00:00:00.000Z")})


@pytest.mark.parametrize("entry", catalogue(), ids=lambda e: e.id)
def test_every_catalogue_entry_has_a_reason_a_reference_and_proven_samples(entry: object) -> None:
    from exhunt.correlate.benign import BenignEntry
    assert isinstance(entry, BenignEntry)
    assert entry.id.startswith("EXH-BENIGN-") and len(entry.reason) > 40 and entry.reference.startswith("https://")
    assert entry.positive and entry.negative
    assert all(entry.value_matches(v) for v in entry.positive)
    assert not any(entry.value_matches(v) for v in entry.negative)


def test_catalogue_ids_are_unique() -> None:
    ids = [e.id for e in catalogue()]
    assert len(ids) == len(set(ids))


def test_known_benign_needs_every_value_to_match_and_nothing_left_unlisted() -> None:
    url = "/ecp/Current/exporttool/microsoft.exchange.ediscovery.exporttool.application"
    benign = finding("EXH-PL-26855-ANON-BACKEND", Outcome.INFORMATIONAL, Severity.INFO, attrs=(("url", url),))
    mixed = finding("EXH-PL-26855-ANON-BACKEND", Outcome.INFORMATIONAL, Severity.INFO,
                    attrs=(("url", url), ("url", "/ecp/DDI/DDIService.svc/SetObject")))
    unlisted = finding("EXH-PL-26855-ANON-BACKEND", Outcome.INFORMATIONAL, Severity.INFO,
                       attrs=(("url", url), ("url_more", "3")))
    other_outcome = finding("EXH-PL-26855-ANON-BACKEND", Outcome.SUSPICIOUS, Severity.MEDIUM, attrs=(("url", url),))
    marked = mark_known_benign([benign, mixed, unlisted, other_outcome])
    assert [f.status for f in marked] == [SUPPRESSED, "", "", ""]
    assert marked[0].evidence == benign.evidence and marked[0].evidence_total == benign.evidence_total


def test_weights_file_loads() -> None:
    w = load_weights()
    assert "user_agent" in w.weak_ioc_types and "staging" in w.staging_steps
    assert w.staging_folders.match("C/ProgramData/out.7z") and not w.staging_folders.match(
        "C/ProgramData/Vendor/Backup/config.zip")


@pytest.mark.parametrize(("made", "expected"), [
    (finding("Y", detector="yara", step="webshell-write"), "compromise"),  # web shell content on disk
    (finding("Y", detector="yara", step="webshell-write", severity=Severity.MEDIUM), "attempt"),
    (finding("F", detector="files", step="webshell-write"), "attempt"),  # location only
    (finding("S", Outcome.SUCCEEDED), "compromise"),
    (finding("S", Outcome.ATTEMPTED, Severity.MEDIUM), "attempt"),
    (finding("W3WP", step="exec", confidence=Confidence.HIGH), "compromise"),
    (finding("ACCOUNT", step="persistence", severity=Severity.MEDIUM), "weak"),
    (finding("ROLE", step="collection", severity=Severity.MEDIUM, cves=("CVE-2021-31207",)), "attempt"),
    (finding("UA", detector="ioc", severity=Severity.HIGH, attrs=(("indicator_type", "user_agent"),)), "weak"),
    (finding("IP", detector="ioc", severity=Severity.MEDIUM, attrs=(("indicator_type", "ip"),)), "weak"),
    (finding("HASH", detector="ioc", step="webshell-write", attrs=(("indicator_type", "sha256"),)), "compromise"),
    (finding("I", Outcome.INFORMATIONAL, Severity.INFO), "context"),
])
def test_evidence_classes(made: Finding, expected: str) -> None:
    assert base_class(made) == expected


def test_weak_never_moves_the_verdict_alone() -> None:
    ua = finding("EXH-IOC-USER-AGENT", detector="ioc", severity=Severity.HIGH,
                 attrs=(("indicator_type", "user_agent"), ("client_ip", "203.0.113.7")))
    result = conclude("ex01", "x", [ua], coverage(), {})
    assert result.verdict is Verdict.NO_SIGN and result.findings[0].evidence_class == "weak"
    assert result.timeline == []


def test_weak_raises_confidence_of_findings_in_the_same_time_window() -> None:
    ua = finding("UA", detector="ioc", severity=Severity.LOW, attrs=(("indicator_type", "user_agent"),),
                 when="2021-03-03T04:20:00.000Z")
    far = finding("FAR", Outcome.ATTEMPTED, Severity.MEDIUM, when="2021-03-03T09:00:00.000Z")
    near = finding("NEAR", Outcome.ATTEMPTED, Severity.MEDIUM, when="2021-03-03T04:00:00.000Z")
    weighed = {f.rule_id: f for f in weigh([ua, far, near])}
    assert weighed["NEAR"].confidence is Confidence.HIGH and weighed["FAR"].confidence is Confidence.MEDIUM
    assert weighed["UA"].attr_values("corroborates") == ["NEAR"]


def test_staging_in_the_intrusion_window_is_corroborated() -> None:
    shell = finding("SHELL", Outcome.SUCCEEDED, Severity.CRITICAL, when="2021-03-03T04:00:00.000Z")
    staged = finding("ZIP", detector="files", step="staging", severity=Severity.MEDIUM,
                     attrs=(("path", "C/ProgramData/Vendor/x.zip"),), when="2021-03-03T20:00:00.000Z")
    late = dataclasses.replace(staged, rule_id="ZIP2", first_seen="2021-05-01T00:00:00.000Z")
    weighed = {f.rule_id: f for f in weigh([shell, staged, late])}
    assert weighed["ZIP"].evidence_class == "attempt" and "intrusion window" in weighed["ZIP"].attr_values(
        "corroborated")[0]
    assert weighed["ZIP2"].evidence_class == "weak"


def test_cves_come_from_the_exploit_that_wrote_the_path() -> None:
    shell = finding("EXH-FILE-WEBSHELL-ASPNET-CLIENT", detector="files", step="webshell-write",
                    attrs=(("path", "C/inetpub/wwwroot/aspnet_client/x7.aspx"), ("file_name", "x7.aspx")))
    export = finding("EXH-PS-RPS-EXPORT-TO-WEBROOT", Outcome.SUCCEEDED, cves=("CVE-2021-31207",),
                     attrs=(("written_path", "\\\\127.0.0.1\\c$\\inetpub\\wwwroot\\aspnet_client\\x7.aspx"),))
    oab = finding("EXH-PL-26858-OAB-WRITE", Outcome.SUCCEEDED, cves=("CVE-2021-26858",),
                  attrs=(("written_path", "C:\\inetpub\\wwwroot\\aspnet_client\\other.aspx"),))
    graded = {f.rule_id: f for f in cves_from_proof([shell, export, oab])}
    assert graded["EXH-FILE-WEBSHELL-ASPNET-CLIENT"].cves == ("CVE-2021-31207",)
    assert graded["EXH-FILE-WEBSHELL-ASPNET-CLIENT"].attr_values("cve_proof") == ["EXH-PS-RPS-EXPORT-TO-WEBROOT"]
    alone = cves_from_proof([shell, oab])
    assert alone[0].cves == ()  # where it sits proves no CVE


def test_oab_path_climbing_out_is_resolved() -> None:
    shell = finding("F", detector="files", step="webshell-write", attrs=(
        ("path", "C/Program Files/Microsoft/Exchange Server/V15/FrontEnd/HttpProxy/owa/auth/x.aspx"),))
    oab = finding("OAB", Outcome.SUCCEEDED, cves=("CVE-2021-26858",), attrs=(("written_path", (
        "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\ClientAccess\\OAB\\..\\..\\FrontEnd\\HttpProxy\\"
        "owa\\auth\\x.aspx")),))
    assert cves_from_proof([shell, oab])[0].cves == ("CVE-2021-26858",)


def test_no_location_rule_names_a_cve() -> None:
    rules = load_yaml((RULES_DIR / "files" / "proxylogon.yaml").read_text(encoding="utf-8"))["rules"]
    for rule in rules:
        if rule["step"] == "webshell-write":
            assert not rule.get("cves"), rule["id"]


def _stock(rule_file: str, field: str) -> set[str]:
    rule = load_yaml((RULES_DIR / "exchange" / "webshell-access" / rule_file).read_text(encoding="utf-8"))
    return {s.lower() for s in rule["detection"]["stock"][field]}


@pytest.mark.parametrize(("rule_file", "field"), [("exh_ws_iis_foreign_page.yml", "cs-uri-stem"),
                                                  ("exh_ws_httpproxy_foreign_page.yml", "UrlStem")])
def test_stock_page_lists_agree_with_the_file_rules(rule_file: str, field: str) -> None:
    lists = load_yaml((RULES_DIR / "files" / "proxylogon.yaml").read_text(encoding="utf-8"))["lists"]
    pages = {f"/owa/auth/{p}".lower() for p in lists["exchange_owa_auth_pages"] if p.lower().endswith(".aspx")}
    pages |= {f"/ecp/auth/{p}".lower() for p in lists["exchange_ecp_auth_pages"]}
    assert _stock(rule_file, field) == pages


def test_a_request_for_a_foreign_page_names_the_file_on_disk() -> None:
    path = "C/Program Files/Microsoft/Exchange Server/V15/FrontEnd/HttpProxy/owa/auth/RedirSuiteServerProxy.aspx"
    shell = finding("EXH-YARA-CHOPPER-EVAL", detector="yara", step="webshell-write",
                    attrs=(("path", path), ("file_name", "redirsuiteserverproxy.aspx")))
    access = finding("EXH-WS-IIS-FOREIGN-PAGE", step="webshell-use",
                     attrs=(("url", "/owa/auth/RedirSuiteServerProxy.aspx"),))
    other = finding("EXH-WS-IIS-FOREIGN-PAGE", Outcome.SUCCEEDED, step="webshell-use",
                    attrs=(("url", "/aspnet_client/x.aspx"),))
    tied = tie_access_to_files([shell, access, other])
    assert tied[1].attr_values("file_on_disk") == [path] and "on disk" in tied[1].description
    assert tied[2].attr_values("file_on_disk") == []


def test_behaviour_without_an_exploit_reads_suspicious_activity_not_exploitation_attempted() -> None:
    # LSASS opened with a memory-read right (high, medium confidence): more than weak, less than proof
    lsass = finding("EXH-PX-LSASS-ACCESS", step="credential-access", attack=("T1003.001",))
    result = conclude("ex01", "x", [lsass], coverage(), {})
    assert result.verdict is Verdict.SUSPICIOUS
    assert "suspicious activity" in result.verdict_reasons[0] and "EXH-PX-LSASS-ACCESS" in result.verdict_reasons[0]
    assert any("No exploitation attempt was seen" in r for r in result.verdict_reasons)
    # the IIS log was read, so the front end was checked; without it the verdict says it was not
    no_web = HostCoverage(sources={"evtx": SourceCoverage("evtx", SourceStatus.READ, files=1, records=10)})
    reasons = conclude("ex01", "x", [lsass], no_web, {}).verdict_reasons
    assert any("web front end could not be checked" in r for r in reasons)


def test_an_exploit_attempt_with_behaviour_reads_exploitation_attempted_and_names_both() -> None:
    lsass = finding("EXH-PX-LSASS-ACCESS", step="credential-access")
    probe = finding("EXH-PL-26855-IIS-POST", Outcome.ATTEMPTED, step="initial-access", cves=("CVE-2021-26855",))
    result = conclude("ex01", "x", [lsass, probe], coverage(), {})
    assert result.verdict is Verdict.ATTEMPTED
    first = result.verdict_reasons[0]
    assert "EXH-PL-26855-IIS-POST" in first and "EXH-PX-LSASS-ACCESS" not in first
    assert "EXH-PX-LSASS-ACCESS" in result.verdict_reasons[1]


@pytest.mark.parametrize("cves, step", [(("CVE-2021-34473",), "webshell-write"), ((), "initial-access")])
def test_a_finding_naming_a_cve_or_reaching_in_is_an_exploit_attempt(cves: tuple[str, ...], step: str) -> None:
    result = conclude("ex01", "x", [finding("EXH-X", step=step, cves=cves)], coverage(), {})
    assert result.verdict is Verdict.ATTEMPTED


def test_an_admin_share_mapped_alone_is_weak_and_a_remote_exec_is_not() -> None:
    mapped = finding("EXH-PX-ADMIN-SHARE-MAPPED", severity=Severity.MEDIUM, step="lateral-movement")
    assert base_class(mapped, load_weights()) == "weak"
    assert conclude("ex01", "x", [mapped], coverage(), {}).verdict is Verdict.NO_SIGN
    remote = finding("EXH-PX-REMOTE-EXEC", severity=Severity.HIGH, step="exec")
    assert base_class(remote, load_weights()) != "weak"


def test_domain_reconnaissance_alone_is_weak() -> None:
    recon = finding("EXH-PX-DOMAIN-RECON", severity=Severity.MEDIUM, step="discovery")
    assert base_class(recon, load_weights()) == "weak"
