"""`exhunt exposure BUILD`: a bare build number answered from the build table."""

from __future__ import annotations

import json

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
