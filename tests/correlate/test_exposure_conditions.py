"""A collection's applicationHost.config answers the exposure conditions; a damaged one is a warning."""

from __future__ import annotations

from pathlib import Path

from exhunt.correlate.exposure import config_checks, host_exposure
from exhunt.exposure.config import ConfigCheck
from exhunt.model.coverage import HostCoverage
from exhunt.sources.classify import classify
from exhunt.sources.directory import DirectoryTree

CONFIG = "C/Windows/System32/inetsrv/config/applicationHost.config"
# synthetic: Extended Protection off on OWA, TokenCacheModule loaded
TEXT = ('<?xml version="1.0"?>\n<configuration>\n<system.webServer><globalModules>\n'
        '<add name="TokenCacheModule" image="%windir%\\System32\\inetsrv\\cachtokn.dll" />\n'
        '</globalModules></system.webServer>\n<location path="Default Web Site/owa"><system.webServer><security>'
        '<authentication><windowsAuthentication enabled="true"><extendedProtection tokenChecking="None" />'
        '</windowsAuthentication></authentication></security></system.webServer></location>\n</configuration>\n')


def _host(tmp_path: Path, text: bytes) -> tuple[DirectoryTree, HostCoverage, dict[str, ConfigCheck]]:
    target = tmp_path / CONFIG
    target.parent.mkdir(parents=True)
    target.write_bytes(text)
    tree = DirectoryTree(tmp_path, "h")
    coverage = HostCoverage()
    return tree, coverage, config_checks(tree, classify(tree, None).artifacts, coverage)


def test_conditions_from_the_collection(tmp_path: Path) -> None:
    _, coverage, checks = _host(tmp_path, TEXT.encode())
    assert not coverage.warnings
    exposure = host_exposure([], "15.2.1748.10", checks)
    item = next(c for c in exposure["needs_configuration"] if c["cve"] == "CVE-2022-24516")
    (cond,) = item["conditions"]
    assert cond["seen"] == "no" and cond["path"] == CONFIG and cond["line"] == 6
    assert "Default Web Site/owa (None)" in cond["detail"]
    token = next(c for c in exposure["needs_configuration"] if c["cve"] == "CVE-2023-21709")
    assert token["conditions"][0]["seen"] == "not in evidence" and token["conditions"][0]["line"] == 4


def test_damaged_config_is_a_warning_and_not_in_evidence(tmp_path: Path) -> None:
    _, coverage, checks = _host(tmp_path, b"<configuration><location")
    assert checks == {}
    (warning,) = coverage.warnings
    assert warning.path == CONFIG and "not read" in warning.message
    exposure = host_exposure([], "15.2.1748.10", checks)
    item = next(c for c in exposure["needs_configuration"] if c["cve"] == "CVE-2022-24516")
    assert item["conditions"][0]["seen"] == "not in evidence"
