"""What a finding may share as an indicator, unit by unit (the examples are checked in test_sharing_consumers)."""

from __future__ import annotations

import pytest

from exhunt.model.finding import Confidence, EvidenceRef, Finding, Outcome, Severity
from exhunt.report.indicators import indicators_of, is_browser_agent, split_path, windows_directory


@pytest.mark.parametrize("agent", [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:86.0) Gecko/20100101 Firefox/86.0",
    "Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64;+rv:86.0)+Gecko/20100101+Firefox/86.0",  # as IIS writes it
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/89.0.4389.82 "
    "Safari/537.36 Edg/89.0.774.50",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/14.0.3 "
    "Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 14_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/14.0 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko",
    "Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 10.0; WOW64; Trident/7.0)",
])
def test_ordinary_browsers_are_not_indicators(agent: str) -> None:
    assert is_browser_agent(agent)


@pytest.mark.parametrize("agent", [
    "Mozilla/5.0 zgrab/0.x", "python-requests/2.25.1", "antSword/v2.1", "curl/7.68.0", "ExchangeServicesClient/0.0.0.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/89.0 Safari/537.36 "
    "Nuclei", "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)",
])
def test_tools_and_odd_agents_are_indicators(agent: str) -> None:
    assert not is_browser_agent(agent)


def _finding(detector: str, outcome: Outcome = Outcome.CONFIRMED, **kw: object) -> Finding:
    return Finding(host="ex01", rule_id="R", title="t", severity=Severity.HIGH, confidence=Confidence.HIGH,
                   outcome=outcome, detector=detector, first_seen="1601-01-01T00:00:00Z", **kw)  # type: ignore[arg-type]


def test_a_file_finding_shares_its_file_not_the_logs_citing_it() -> None:
    finding = _finding("files", evidence=(
        EvidenceRef("C/inetpub/wwwroot/aspnet_client/s.aspx", sha256="a" * 64),
        EvidenceRef("C/inetpub/logs/LogFiles/W3SVC1/u_ex210303.log", "GET /aspnet_client/s.aspx", line=4,
                    sha256="b" * 64),
        EvidenceRef("C/Windows/System32/winevt/Logs/Security.evtx", record=7, sha256="c" * 64)),
        attributes=(("path", "C/inetpub/wwwroot/aspnet_client/s.aspx"), ("client_ip", "10.1.2.3"),
                    ("client_ip", "203.0.113.5"), ("user_agent", "-")))
    found = {(i.kind, i.value, i.directory) for i in indicators_of(finding)}
    assert found == {("sha256", "a" * 64, ""), ("file", "s.aspx", "C:\\inetpub\\wwwroot\\aspnet_client"),
                     ("ipv4", "203.0.113.5", "")}
    assert all(i.first_seen is None for i in indicators_of(finding)), "1601 is not a time"


def test_written_paths_split_and_log_findings_share_no_hash() -> None:
    finding = _finding("sigma", Outcome.SUCCEEDED, evidence=(EvidenceRef("C/x.LOG", "line", line=1, sha256="d" * 64),),
                       attributes=(("written_path", "\\\\127.0.0.1\\c$\\inetpub\\wwwroot\\aspnet_client\\x.aspx"),))
    found = indicators_of(finding)
    assert [(i.kind, i.value, i.directory, i.to_ids) for i in found] == [
        ("file", "x.aspx", "\\\\127.0.0.1\\c$\\inetpub\\wwwroot\\aspnet_client", False)]


def test_informational_findings_share_nothing() -> None:
    finding = _finding("sigma", Outcome.INFORMATIONAL, attributes=(("client_ip", "203.0.113.5"),))
    assert indicators_of(finding) == []


def test_paths() -> None:
    assert split_path("C:\\a\\b.aspx") == ("C:\\a", "b.aspx")
    assert split_path("b.aspx") == ("", "b.aspx")
    assert windows_directory("D/Exchange/V15/x.aspx") == "D:\\Exchange\\V15"
    assert windows_directory("uploads/x.aspx") == "uploads"
