"""The facts of the build/CVE table that a responder acts on, one test per case of issue #16.

Each expectation comes from Microsoft's sources (the CVE records' affected and fixed builds, the build list,
the Security Update KB articles), not from the table itself.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from exhunt.exposure import assess_exposure, load_table, parse_build
from exhunt.exposure.builds import (
    NEEDS_CONFIG,
    NOT_AFFECTED,
    NOT_ASSESSED,
    OPEN,
    PATCHED,
    TABLE_PATH,
    BuildTable,
    parse_table,
)
from exhunt.exposure.version import Build


@pytest.fixture(scope="module")
def table() -> BuildTable:
    return load_table()


def _b(text: str) -> Build:
    build = parse_build(text)
    assert build is not None
    return build


def _status(table: BuildTable, build: str, cve: str) -> str:
    return table.status(_b(build), cve).status


AFTER_FEB_2025 = {"CVE-2025-53786", "CVE-2025-59249", "CVE-2025-64666", "CVE-2025-64667", "CVE-2026-21527",
                  "CVE-2025-25005", "CVE-2025-25006", "CVE-2025-25007", "CVE-2025-33051", "CVE-2025-53782",
                  "CVE-2025-59248"}


# -- 1. never "0 open" where the table stops ----------------------------------------------------------------

@pytest.mark.parametrize("build", ["15.2.1748.10", "15.2.1258.39", "15.1.2507.44", "15.2.1544.14"])
def test_2025_2026_waves_are_filled(table: BuildTable, build: str) -> None:
    assert set(table.open_cves(_b(build)) or []) == AFTER_FEB_2025
    assert table.gaps(_b(build)) == []


def test_se_rtm(table: BuildTable) -> None:
    opened = set(table.open_cves(_b("15.2.2562.17")) or [])
    assert opened == AFTER_FEB_2025 - {"CVE-2025-53786"}
    # SE RTM carries the April 2025 hotfix code: CVE-2025-53786 then needs the hybrid configuration
    assert _status(table, "15.2.2562.17", "CVE-2025-53786") == NEEDS_CONFIG


@pytest.mark.parametrize("build", ["15.1.2507.35", "15.2.1118.40", "15.2.1544.4"])
def test_fourteen_open_after_november_2023(table: BuildTable, build: str) -> None:
    expected = AFTER_FEB_2025 | {"CVE-2024-26198", "ADV24199947", "CVE-2024-49040"}
    assert set(table.open_cves(_b(build)) or []) == expected and len(expected) == 14


def test_august_2023_and_older_cves_are_in_the_table(table: BuildTable) -> None:
    jun23 = set(table.open_cves(_b("15.2.1118.30")) or [])  # 2019 CU12 Jun23SU
    assert {"CVE-2023-36744", "CVE-2023-36745", "CVE-2023-36756", "CVE-2023-36757", "CVE-2023-36777"} <= jun23
    assert _status(table, "15.2.1118.36", "CVE-2023-36744") == PATCHED  # Aug23SU
    assert _status(table, "15.2.792.3", "CVE-2021-24085") == OPEN  # 2019 CU8 before Feb21SU
    assert _status(table, "15.2.792.5", "CVE-2021-24085") == PATCHED
    assert _status(table, "15.1.2106.2", "CVE-2020-16969") == OPEN  # 2016 CU18 before Oct20SU
    assert _status(table, "15.1.2106.3", "CVE-2020-16969") == PATCHED
    assert _status(table, "15.0.1497.2", "CVE-2020-17141") == NOT_AFFECTED  # 2016/2019 only


def test_2019_updates_are_in_the_table(table: BuildTable) -> None:
    assert {"CVE-2019-1084", "CVE-2019-1373"} <= set(table.open_cves(_b("15.0.1497.2")) or [])  # 2013 CU23
    assert _status(table, "15.0.1497.3", "CVE-2019-1084") == PATCHED  # Jul19SU
    assert _status(table, "15.0.1497.4", "CVE-2019-1373") == PATCHED  # Nov19SU
    assert _status(table, "15.1.1847.3", "CVE-2019-1373") == OPEN  # 2016 CU14 (September 2019)
    assert _status(table, "15.1.1847.5", "CVE-2019-1373") == PATCHED
    assert _status(table, "15.1.1847.3", "CVE-2019-1233") == PATCHED  # CU14 came after Sep19SU
    assert table.gaps(_b("15.1.1847.3")) == []  # 2016 CU14: everything since its release is known
    assert _status(table, "15.0.1497.2", "CVE-2019-1233") == NOT_AFFECTED  # 2016/2019 only


def test_data_cutoff_is_carried(table: BuildTable) -> None:
    assert table.data_cutoff == "2026-05-07" and table.cves_from == "2019-06-11"
    result = assess_exposure([], user_build="15.2.1748.43")
    assert result["data"]["cutoff"] == "2026-05-07"
    assert any("2026-05-07" in line for line in result["summary"])
    assert result["complete"] is True and result["open_cves"] == []


@pytest.mark.parametrize(("build", "words"), [
    ("15.2.1748.50", "newer than the last build the table lists"),  # a later update of 2019 CU15
    ("15.2.2600.1", "newer than every build the table knows"),  # a later SE CU
    ("15.2.922.15", "is not listed"),  # an unlisted interim revision
    ("15.1.1713.5", "CVEs fixed before 2019-06-11 are not in the table"),  # 2016 CU12 (February 2019)
])
def test_incomplete_knowledge_is_said(build: str, words: str) -> None:
    result = assess_exposure([], user_build=build)
    assert result["complete"] is False
    assert any(words in gap for gap in result["gaps"])
    assert any(line.startswith("incomplete:") and words in line for line in result["summary"])


def test_an_unverified_wave_is_unknown_not_clean() -> None:
    data: dict[str, Any] = yaml.safe_load(TABLE_PATH.read_text(encoding="utf-8"))
    data = copy.deepcopy(data)
    wave = next(w for w in data["waves"] if w["id"] == "Feb26SU")
    wave["verified"] = False
    wave["cves"] = []  # as if its CVE list had not been checked
    del data["cves"]["CVE-2026-21527"]
    custom = parse_table(data, "test")
    build = _b("15.2.1748.42")  # Dec25SU: Feb26SU not installed
    assert custom.open_cves(build) == []
    assert any("Feb26SU" in gap and "not verified" in gap for gap in custom.gaps(build))
    assert not any("Feb26SU" in gap for gap in custom.gaps(_b("15.2.1748.43")))  # installed


# -- 2. re-releases and late fixes ------------------------------------------------------------------------

@pytest.mark.parametrize(("feb", "mar"), [("15.2.1118.25", "15.2.1118.26"), ("15.2.986.41", "15.2.986.42"),
                                          ("15.1.2507.21", "15.1.2507.23"), ("15.0.1497.47", "15.0.1497.48")])
def test_cve_2023_21707_needs_march_2023(table: BuildTable, feb: str, mar: str) -> None:
    assert _status(table, feb, "CVE-2023-21707") == OPEN
    assert _status(table, mar, "CVE-2023-21707") == PATCHED


@pytest.mark.parametrize(("v1", "v2"), [("15.2.1544.13", "15.2.1544.14"), ("15.2.1258.38", "15.2.1258.39"),
                                        ("15.1.2507.43", "15.1.2507.44")])
def test_cve_2024_49040_needs_november_2024_v2(table: BuildTable, v1: str, v2: str) -> None:
    assert _status(table, v1, "CVE-2024-49040") == OPEN
    assert _status(table, v2, "CVE-2024-49040") == PATCHED
    assert table.status(_b(v2), "CVE-2024-49040").fixed_by == "Nov24SUv2"


# -- 3. fixed by build, closed only with configuration -----------------------------------------------------

EP_CVES = ["CVE-2022-24516", "CVE-2022-21979", "CVE-2022-21980", "CVE-2022-24477", "CVE-2022-30134"]


@pytest.mark.parametrize("cve", EP_CVES)
def test_extended_protection_cves(table: BuildTable, cve: str) -> None:
    assert _status(table, "15.2.1118.9", cve) == OPEN  # May22SU
    state = table.status(_b("15.2.1118.12"), cve)  # Aug22SU
    assert state.status == NEEDS_CONFIG and state.needs == ("extended-protection",)
    assert _status(table, "15.0.1497.40", cve) == NEEDS_CONFIG  # 2013 CU23 Aug22SU


def test_open_cves_say_what_the_update_alone_will_not_do() -> None:
    result = assess_exposure([], user_build="15.2.1118.9")  # May22SU: before the Extended Protection fixes
    item = next(c for c in result["open_cves"] if c["cve"] == "CVE-2022-24516")
    assert item["status"] == OPEN and "Extended Protection" in item["after_update_needs"][0]


def test_cve_2024_21410(table: BuildTable) -> None:
    assert _status(table, "15.1.2507.12", "CVE-2024-21410") == NEEDS_CONFIG  # 2016 CU23 Aug22SU + EP
    assert _status(table, "15.1.2507.9", "CVE-2024-21410") == OPEN
    assert _status(table, "15.2.1544.4", "CVE-2024-21410") == NEEDS_CONFIG  # CU14: EP on by default, still read
    assert _status(table, "15.0.1497.48", "CVE-2024-21410") == NOT_ASSESSED  # published after 2013's end


@pytest.mark.parametrize(("cve", "build", "condition"), [
    ("CVE-2021-34470", "15.0.1497.23", "prepare-schema"),
    ("CVE-2022-21978", "15.2.1118.9", "prepare-domain"),
    ("CVE-2023-21709", "15.2.1258.23", "tokencache"),
    ("ADV24199947", "15.2.1544.9", "outside-in"),
    ("CVE-2025-25005", "15.2.1748.36", "no-override"),
    ("CVE-2025-33051", "15.1.2507.58", "no-override"),
    ("CVE-2025-59248", "15.2.2562.29", "no-override"),
    ("CVE-2025-53786", "15.2.1748.24", "hybrid-app"),
    ("CVE-2021-1730", "15.1.2106.2", "download-domains"),
    ("CVE-2021-1730", "15.2.721.2", "download-domains"),
])
def test_conditions_beyond_the_build(table: BuildTable, cve: str, build: str, condition: str) -> None:
    state = table.status(_b(build), cve)
    assert state.status == NEEDS_CONFIG and condition in state.needs
    assert table.is_fixed(_b(build), cve) is None  # never "patched" on the build alone


def test_cve_2021_1730_has_no_fix_before_the_download_domains_cus(table: BuildTable) -> None:
    assert _status(table, "15.1.2044.4", "CVE-2021-1730") == OPEN  # 2016 CU17
    assert _status(table, "15.2.659.4", "CVE-2021-1730") == OPEN  # 2019 CU6
    assert _status(table, "15.0.1497.12", "CVE-2021-1730") == NOT_AFFECTED  # not listed for 2013


def test_conditions_read_from_evidence() -> None:
    from exhunt.exposure.config import ConfigCheck

    config = {"iis-extended-protection": ConfigCheck("iis-extended-protection", "no", "off on 2 of 9",
                                                     "C/Windows/System32/inetsrv/config/applicationHost.config", 12)}
    result = assess_exposure([], user_build="15.2.1118.12", config=config)
    item = next(c for c in result["needs_configuration"] if c["cve"] == "CVE-2022-24516")
    (cond,) = item["conditions"]
    assert cond["seen"] == "no" and cond["line"] == 12 and cond["path"].endswith("applicationHost.config")
    assert "(seen: no)" in item["status_text"] and item["status_text"].startswith(NEEDS_CONFIG)
    schema = next(c for c in result["needs_configuration"] if c["cve"] == "CVE-2021-34470")
    assert schema["conditions"][0]["seen"] == "not in evidence"
    bare = assess_exposure([], user_build="15.2.1118.12")
    item = next(c for c in bare["needs_configuration"] if c["cve"] == "CVE-2022-24516")
    assert item["conditions"][0]["seen"] == "not in evidence"


# -- 4. product scope --------------------------------------------------------------------------------------

NOT_ON_2013 = ["CVE-2021-34453", "CVE-2021-41348", "CVE-2021-41350", "CVE-2022-24463", "CVE-2022-34692",
               "CVE-2022-41123", "CVE-2023-21710", "CVE-2023-21745", "CVE-2023-21761", "CVE-2023-21763",
               "CVE-2023-21764"]


@pytest.mark.parametrize("cve", NOT_ON_2013)
def test_2016_2019_only_cves_are_not_listed_on_2013(table: BuildTable, cve: str) -> None:
    for build in ("15.0.1497.2", "15.0.1497.23", "15.0.1497.44"):
        assert _status(table, build, cve) == NOT_AFFECTED
    assert cve not in (table.open_cves(_b("15.0.1497.23")) or [])
    assert _status(table, "15.1.2242.4", cve) == OPEN  # 2016 CU20 (March 2021) is affected


@pytest.mark.parametrize(("build", "status"), [
    ("15.1.2242.12", OPEN),  # 2016 CU20 Jul21SU: not fixed by the July SU
    ("15.2.858.15", OPEN),  # 2019 CU9 Jul21SU
    ("15.1.2308.8", NEEDS_CONFIG),  # 2016 CU21 + /PrepareSchema
    ("15.2.922.7", NEEDS_CONFIG),  # 2019 CU10 + /PrepareSchema
    ("15.0.1497.18", OPEN),  # 2013 CU23 May21SU
    ("15.0.1497.23", NEEDS_CONFIG),  # 2013 CU23 Jul21SU + /PrepareSchema
])
def test_cve_2021_34470_scope(table: BuildTable, build: str, status: str) -> None:
    assert _status(table, build, "CVE-2021-34470") == status


def test_exchange_2013_after_end_of_support(table: BuildTable) -> None:
    result = assess_exposure([], user_build="15.0.1497.48")
    unassessed = {c["cve"] for c in result["not_assessed"]}
    assert {"CVE-2023-32031", "CVE-2023-28310", "CVE-2024-21410", "CVE-2025-53786", "CVE-2026-21527"} <= unassessed
    assert not unassessed & {c["cve"] for c in result["open_cves"]}
    assert all(c["status"] == NOT_ASSESSED for c in result["not_assessed"])
    assert result["complete"] is False and any("left support on 2023-04-11" in g for g in result["gaps"])
    assert result["support"]["ended"] == "2023-04-11"


# -- 5. ProxyToken by the April 2021 SU ---------------------------------------------------------------------

@pytest.mark.parametrize("build", ["15.0.1497.15", "15.1.2176.12", "15.1.2242.8", "15.2.792.13", "15.2.858.10"])
def test_proxytoken_fixed_in_april_2021(table: BuildTable, build: str) -> None:
    assert _status(table, build, "CVE-2021-33766") == PATCHED


@pytest.mark.parametrize("build", ["15.0.1497.12", "15.1.2176.9", "15.1.2242.4", "15.2.792.10", "15.2.858.5"])
def test_proxytoken_open_before_april_2021(table: BuildTable, build: str) -> None:
    assert _status(table, build, "CVE-2021-33766") == OPEN


def test_proxytoken_windows_move_with_the_fix() -> None:
    from exhunt.exposure import BuildObservation, load_families

    fam = next(f for f in load_families() if f.id == "proxytoken")
    assert fam.patch_released == "2021-04-13"
    history = [BuildObservation("2021-03-20T00:00:00Z", "15.2.858.5", "a.LOG"),
               BuildObservation("2021-05-01T00:00:00Z", "15.2.858.10", "b.LOG"),
               BuildObservation("2021-09-01T00:00:00Z", "15.2.858.10", "c.LOG")]
    token = next(f for f in assess_exposure(history)["families"] if f["id"] == "proxytoken")
    (win,) = token["windows"]
    assert win["until"] == "2021-05-01T00:00:00Z" and win["during_exploitation"] == "no"
    assert token["exposed_now"] is False


# -- 6. Exchange 2010 -----------------------------------------------------------------------------------------

def test_exchange_2010_sp3(table: BuildTable) -> None:
    result = assess_exposure([], user_build="14.3.513.0")
    assert result["label"] == "Exchange Server 2010 SP3 RU32" and result["product"] == "Exchange Server 2010"
    assert _status(table, "14.3.513.0", "CVE-2021-26857") == PATCHED
    assert _status(table, "14.3.509.0", "CVE-2021-26857") == OPEN  # RU31
    assert table.status(_b("14.3.509.0"), "CVE-2021-26857").fixed_by == "SP3 RU32"
    assert _status(table, "14.3.468.0", "CVE-2020-0688") == OPEN  # RU29
    assert _status(table, "14.3.496.0", "CVE-2020-0688") == PATCHED  # RU30
    assert _status(table, "14.3.513.0", "CVE-2021-26855") == NOT_AFFECTED
    assert result["support"]["ended"] == "2020-10-13"
    assert result["complete"] is False
    assert any("modelled only for CVE-2020-0688, CVE-2021-26857" in g for g in result["gaps"])
    assert any("left support on 2020-10-13" in g for g in result["gaps"])
    placed = table.identify(_b("14.3.510.0"))  # an interim build between rollups
    assert placed.cu is not None and placed.cu.name == "SP3 RU31" and not placed.exact


# -- the data itself ----------------------------------------------------------------------------------------

def test_every_cve_has_source_products_and_date(table: BuildTable) -> None:
    for cve in table.cves.values():
        assert cve.source.startswith("https://msrc.microsoft.com/update-guide/vulnerability/"), cve.id
        assert cve.products and cve.published >= table.cves_from, cve.id
        assert any(cve.id in w.cves for w in table.waves.values()) or cve.fixed_in, cve.id
    for wave in table.waves.values():
        assert wave.kb and wave.date and wave.verified, wave.id
