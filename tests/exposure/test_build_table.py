"""The build table: identification of builds and the CVEs open at each."""

from __future__ import annotations

import pytest

from exhunt.exposure import load_table, parse_build
from exhunt.exposure.builds import BuildTable


@pytest.fixture(scope="module")
def table() -> BuildTable:
    return load_table()


def _b(text: str):  # type: ignore[no-untyped-def]
    build = parse_build(text)
    assert build is not None
    return build


@pytest.mark.parametrize(("build", "label"), [
    ("15.2.986.5", "Exchange Server 2019 CU11"),
    ("15.2.1118.15", "Exchange Server 2019 CU12 Oct22SU"),
    ("15.2.922.13", "Exchange Server 2019 CU10 Jul21SU"),
    ("15.1.2242.4", "Exchange Server 2016 CU20"),
    ("15.02.0792.003", "Exchange Server 2019 CU8"),
    ("15.0.1497.2", "Exchange Server 2013 CU23"),
    ("15.2.221.12", "Exchange Server 2019 RTM"),
    ("15.2.1748.10", "Exchange Server 2019 CU15"),
    ("15.2.2562.17", "Exchange Server Subscription Edition RTM"),
])
def test_identify_test_vectors(table: BuildTable, build: str, label: str) -> None:
    info = table.identify(_b(build))
    assert info.label == label
    assert info.exact


def test_every_required_cu_is_listed(table: BuildTable) -> None:
    names = {(cu.key, cu.name) for cu in table.cus}
    wanted = {("2013", f"CU{n}") for n in range(21, 24)} | {("2016", f"CU{n}") for n in range(8, 24)}
    wanted |= {("2019", "RTM")} | {("2019", f"CU{n}") for n in range(1, 16)} | {("SE", "RTM")}
    assert wanted <= names


def test_unlisted_revision_is_placed_after_the_last_known_update(table: BuildTable) -> None:
    info = table.identify(_b("15.2.922.15"))
    assert info.cu is not None and info.cu.name == "CU10"
    assert info.update is not None and info.update.name == "Oct21SU"
    assert not info.exact and "not listed" in info.note


def test_unknown_train_is_reported_not_guessed(table: BuildTable) -> None:
    info = table.identify(_b("15.2.1000.1"))
    assert info.cu is None and info.product == "Exchange Server 2019"
    assert "CU11" in info.note
    assert table.open_cves(_b("15.2.1000.1")) is None
    assert table.is_fixed(_b("15.2.1000.1"), "CVE-2021-34473") is None
    assert table.statuses(_b("15.2.1000.1")) is None
    assert table.gaps(_b("15.2.1000.1"))  # said in words


@pytest.mark.parametrize(("build", "cve", "fixed"), [
    # ProxyLogon: March 2021 SU and every later CU
    ("15.2.792.3", "CVE-2021-26855", False),
    ("15.2.792.10", "CVE-2021-26855", True),
    ("15.2.858.5", "CVE-2021-26855", True),  # CU9 (2021-03-16) carries the March fixes
    ("15.1.1415.10", "CVE-2021-26855", True),  # 2016 CU8 Mar21SU for older CUs...
    ("15.1.1415.10", "CVE-2021-26412", False),  # ...fixes only the four ProxyLogon CVEs
    ("15.1.1415.10", "CVE-2020-0688", False),
    # ProxyShell: 34473/34523 in April 2021, 31207 in May 2021
    ("15.2.792.10", "CVE-2021-34473", False),
    ("15.2.792.13", "CVE-2021-34473", True),
    ("15.2.792.13", "CVE-2021-34523", True),
    ("15.2.792.13", "CVE-2021-31207", False),
    ("15.2.792.15", "CVE-2021-31207", True),
    ("15.2.858.5", "CVE-2021-34473", False),  # CU9 shipped before April
    ("15.1.2242.4", "CVE-2021-34473", False),
    ("15.2.922.7", "CVE-2021-34473", True),  # CU10 (June 2021) includes April and May
    ("15.2.922.7", "CVE-2021-31207", True),
    # ProxyToken: April 2021 SU (its CVE record names the April builds; issue #16)
    ("15.2.858.5", "CVE-2021-33766", False),
    ("15.2.858.10", "CVE-2021-33766", True),
    ("15.2.922.7", "CVE-2021-33766", True),
    ("15.2.858.12", "CVE-2021-33766", True),
    ("15.2.986.5", "CVE-2021-33766", True),
    # CVE-2021-42321: Nov 2021, not Exchange 2013
    ("15.2.986.9", "CVE-2021-42321", False),
    ("15.2.986.14", "CVE-2021-42321", True),
    ("15.0.1497.24", "CVE-2021-42321", True),
    # ProxyNotShell / OWASSRF: November 2022, not October
    ("15.2.1118.15", "CVE-2022-41040", False),
    ("15.2.1118.15", "CVE-2022-41082", False),
    ("15.2.1118.15", "CVE-2022-41080", False),
    ("15.2.1118.20", "CVE-2022-41082", True),
    ("15.1.2507.16", "CVE-2022-41080", True),
    ("15.2.1258.12", "CVE-2022-41040", True),
    # CVE-2020-0688: February 2020
    ("15.2.529.5", "CVE-2020-0688", False),
    ("15.2.529.8", "CVE-2020-0688", True),
    ("15.2.595.3", "CVE-2020-0688", True),
    ("15.0.1497.6", "CVE-2020-0688", True),
])
def test_fixed_in(table: BuildTable, build: str, cve: str, fixed: bool) -> None:
    assert table.is_fixed(_b(build), cve) is fixed


def test_unknown_cve(table: BuildTable) -> None:
    assert table.is_fixed(_b("15.2.986.5"), "CVE-1999-0001") is None


def test_open_cves_are_sorted_and_complete(table: BuildTable) -> None:
    cves = table.open_cves(_b("15.1.2242.4"))
    assert cves is not None and cves == sorted(cves)
    for cve in ("CVE-2021-34473", "CVE-2021-34523", "CVE-2021-31207", "CVE-2021-33766", "CVE-2022-41040"):
        assert cve in cves
    assert "CVE-2021-26855" not in cves


def test_table_is_consistent(table: BuildTable) -> None:
    trains = [cu.train for cu in table.cus]
    assert len(trains) == len(set(trains))
    for cu in table.cus:
        for up in cu.updates:
            assert up.build.train == cu.train, f"{cu.product} {cu.name} {up.name}"
            assert up.date >= cu.date
            assert up.wave in table.waves
