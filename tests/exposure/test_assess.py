"""Per-host exposure from a build history, and patched_at for correlation."""

from __future__ import annotations

import json

from exhunt.exposure import BuildObservation, assess_exposure, exposed_at, patched_at


def _obs(stamp: str, build: str, path: str = "Logging/HttpProxy/Ecp/x.LOG") -> BuildObservation:
    return BuildObservation(stamp, build, path)


# A 2019 server on CU8 that got the March 2021 ProxyLogon update late, then CU10 Jul21SU in September.
HISTORY = [
    _obs("2021-02-01T00:00:01Z", "15.02.0792.003", "Logging/HttpProxy/Owa/a.LOG"),
    _obs("2021-02-20T00:00:01Z", "15.02.0792.003", "Logging/HttpProxy/Owa/b.LOG"),
    _obs("2021-03-05T10:00:00Z", "15.02.0792.010", "Logging/HttpProxy/Owa/c.LOG"),
    _obs("2021-08-20T00:00:00Z", "15.02.0792.010", "Logging/HttpProxy/Owa/d.LOG"),
    _obs("2021-09-01T00:00:00Z", "15.02.0922.013", "Logging/HttpProxy/Owa/e.LOG"),
]


def _family(result: dict, fam: str) -> dict:  # type: ignore[type-arg]
    return next(f for f in result["families"] if f["id"] == fam)


def test_bare_build() -> None:
    result = assess_exposure([], user_build="15.1.2242.4")
    assert result["product"] == "Exchange Server 2016" and result["cu"] == "CU20" and result["su"] is None
    assert result["build_source"] == "user"
    shell = _family(result, "proxyshell")
    assert shell["exposed_now"] is True
    assert shell["open_cves"] == ["CVE-2021-34473", "CVE-2021-34523", "CVE-2021-31207"]
    assert _family(result, "proxylogon")["exposed_now"] is False
    assert any("cannot be dated" in n for n in result["notes"])
    json.dumps(result)  # plain data


def test_history_windows() -> None:
    result = assess_exposure(HISTORY)
    assert result["build"] == "15.2.922.13" and result["label"] == "Exchange Server 2019 CU10 Jul21SU"
    assert [h["build"] for h in result["history"]] == ["15.2.792.3", "15.2.792.10", "15.2.922.13"]
    logon = _family(result, "proxylogon")
    (win,) = logon["windows"]
    assert win["exposed_before_evidence"] is True
    assert win["until"] == "2021-03-05T10:00:00Z" and win["last_seen_exposed"] == "2021-02-20T00:00:01Z"
    assert win["during_exploitation"] == "yes" and win["exploitation_overlap_from"] == "2021-01-03"
    assert win["patched_days_after_release"] == 3
    shell = _family(result, "proxyshell")
    (win,) = shell["windows"]
    assert win["until"] == "2021-09-01T00:00:00Z" and win["during_exploitation"] == "yes"
    assert shell["exposed_now"] is False
    token = _family(result, "proxytoken")
    assert token["windows"][0]["during_exploitation"] == "possible"  # last seen open 08-20, ZDI 08-30
    pns = _family(result, "proxynotshell")
    assert pns["exposed_now"] is True and pns["windows"][0]["until"] is None


def test_same_input_same_output() -> None:
    a = json.dumps(assess_exposure(HISTORY), sort_keys=True)
    b = json.dumps(assess_exposure(list(reversed(HISTORY))), sort_keys=True)
    assert a == b


def test_user_build_overrides_history() -> None:
    result = assess_exposure(HISTORY, user_build="15.2.1118.20")
    assert result["build"] == "15.2.1118.20" and result["build_source"] == "user"
    assert _family(result, "proxynotshell")["exposed_now"] is False
    assert any("differs from the last build" in n for n in result["notes"])


def test_nothing_known() -> None:
    result = assess_exposure([BuildObservation("2021-01-01T00:00:00Z", "1.0", "u_ex.log")])
    assert result["build"] is None and result["open_cves"] is None
    assert any("not an Exchange build" in n for n in result["notes"])


def test_patched_at() -> None:
    assert patched_at(HISTORY, "CVE-2021-26855", "2021-02-25T12:00:00Z") is False
    assert patched_at(HISTORY, "CVE-2021-26855", "2021-03-06T12:00:00.123Z") is True
    assert patched_at(HISTORY, "CVE-2021-34473", "2021-08-13T00:00:00Z") is False
    assert patched_at(HISTORY, "CVE-2021-34473", "2021-09-02T00:00:00Z") is True
    # before the evidence: an open first build was open before too; a fixed one may not have been
    assert patched_at(HISTORY, "CVE-2021-26855", "2020-12-01T00:00:00Z") is False
    later = [_obs("2021-09-01T00:00:00Z", "15.2.922.13")]
    assert patched_at(later, "CVE-2021-34473", "2021-08-13T00:00:00Z") is None
    assert patched_at([], "CVE-2021-34473", "2021-08-13T00:00:00Z") is None
    assert patched_at(HISTORY, "CVE-1999-0001", "2021-08-13T00:00:00Z") is None


def test_exposed_at() -> None:
    assert exposed_at(HISTORY, "proxyshell", "2021-08-13T00:00:00Z") is True
    assert exposed_at(HISTORY, "proxyshell", "2021-09-13T00:00:00Z") is False
    assert exposed_at(HISTORY, "nope", "2021-09-13T00:00:00Z") is None


def test_out_of_support_cves_are_not_assessed_not_open() -> None:
    """Exchange 2013 left support in April 2023: later CVEs were not assessed by Microsoft for it (issue #16:
    they were listed as open before, with a flag; now they have their own status)."""
    result = assess_exposure([], user_build="15.0.1497.48")  # 2013 CU23 Mar23SU, the last one
    unassessed = {c["cve"]: c for c in result["not_assessed"]}
    assert unassessed["CVE-2023-32031"]["status"] == "not assessed by Microsoft (out of support)"
    assert "CVE-2023-32031" not in {c["cve"] for c in result["open_cves"]}
    assert "CVE-2022-41082" not in unassessed
    assert result["status_counts"]["not_assessed"] == len(unassessed)
    modern = assess_exposure([], user_build="15.2.1118.15")
    assert {c["cve"]: c for c in modern["open_cves"]}["CVE-2022-41082"]["fixed_by"] == "Nov22SU"
    assert modern["not_assessed"] == []


def test_accepts_any_observation_shape() -> None:
    """The engine's own observation type (timestamp, build, path, line) works as is."""
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class EngineObservation:
        timestamp: str
        build: str
        path: str
        line: int

    obs = [EngineObservation("2021-07-30T00:00:00.000Z", "15.01.2176.002", "Owa/a.LOG", 2),
           EngineObservation("2021-08-13T00:00:00.000Z", "15.01.2176.002", "Owa/b.LOG", 2),
           EngineObservation("2021-09-07T00:00:00.000Z", "15.01.2308.008", "Mapi/c.LOG", 2)]
    result = assess_exposure(obs)
    assert result["label"] == "Exchange Server 2016 CU21"
    shell = _family(result, "proxyshell")
    assert shell["windows"][0]["during_exploitation"] == "yes"  # still CU19 on 2021-08-13
    assert patched_at(obs, "CVE-2021-34473", "2021-08-13T06:02:49Z") is False
    assert patched_at(obs, "CVE-2021-34473", "2021-09-08T00:00:00Z") is True
