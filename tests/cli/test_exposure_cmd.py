"""`exhunt exposure BUILD`: a bare build number answered from the build table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from exhunt.cli.exposure_cmd import exposure_report
from exhunt.cli.main import main
from exhunt.cli.status import ExitCode


def test_bare_build_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["exposure", "15.1.2242.4"]) == ExitCode.CLEAN
    out = capsys.readouterr().out
    assert "Exchange Server 2016 CU20" in out
    assert "proxyshell" in out and "EXPOSED" in out


def test_bare_build_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["exposure", "15.02.1118.015", "--json"]) == ExitCode.CLEAN
    data = json.loads(capsys.readouterr().out)
    assert data["label"] == "Exchange Server 2019 CU12 Oct22SU"
    fams = {f["id"]: f for f in data["families"]}
    assert fams["proxynotshell"]["exposed_now"] is True
    assert fams["proxyshell"]["exposed_now"] is False


def test_unknown_build_is_partial(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["exposure", "15.2.1000.1"]) == ExitCode.PARTIAL
    assert "unknown build" in capsys.readouterr().out


def test_not_a_build_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["exposure", "1.0"]) == ExitCode.USAGE
    assert "not an Exchange build" in capsys.readouterr().err


def test_report_is_pure_data() -> None:
    assert exposure_report("15.2.986.5") == exposure_report("15.2.986.5")


def test_table_no_longer_stops_in_2025(capsys: pytest.CaptureFixture[str]) -> None:
    """2019 CU15 (Feb 2025): eleven CVEs open, said with the data's date; the answer is complete (exit 0)."""
    assert main(["exposure", "15.2.1748.10"]) == ExitCode.CLEAN
    out = capsys.readouterr().out
    assert "Open (11)" in out and "CVE-2026-21527" in out
    assert "data to 2026-05-07" in out
    assert "Patched by build, needs configuration" in out and "seen: not in evidence" in out


@pytest.mark.parametrize(("build", "words"), [
    ("15.2.1748.50", "newer than the last build"),
    ("15.0.1497.48", "not assessed by Microsoft"),
    ("14.3.513.0", "Exchange Server 2010 SP3 RU32"),
])
def test_any_unknown_part_exits_3(capsys: pytest.CaptureFixture[str], build: str, words: str) -> None:
    assert main(["exposure", build]) == ExitCode.PARTIAL
    assert words in " ".join(capsys.readouterr().out.split())


def test_iis_config_is_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "applicationHost.config"
    path.write_text('<configuration><location path="Default Web Site/ecp"><system.webServer><security>'
                    '<authentication><windowsAuthentication enabled="true"><extendedProtection '
                    'tokenChecking="Require" /></windowsAuthentication></authentication></security>'
                    '</system.webServer></location></configuration>', encoding="utf-8")
    assert main(["exposure", "15.2.1748.10", "--iis-config", str(path), "--json"]) == ExitCode.CLEAN
    data = json.loads(capsys.readouterr().out)
    item = next(c for c in data["needs_configuration"] if c["cve"] == "CVE-2022-24516")
    assert item["conditions"][0]["seen"] == "yes"


def test_unreadable_iis_config_is_usage_error(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "applicationHost.config"
    path.write_bytes(b"<configuration>")
    assert main(["exposure", "15.2.1748.10", "--iis-config", str(path)]) == ExitCode.USAGE
