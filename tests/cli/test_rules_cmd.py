"""``exhunt rules check``: counts, reasons, load errors with their file, rules forcing full parses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from exhunt.cli.main import main
from exhunt.detectors.sigma.check import check_rules

GOOD = """\
title: Web shell name in an HttpProxy request
id: 6b0d9e8a-1c2f-4a3b-9d8e-7f6a5b4c3d2e
logsource: {product: exchange, service: httpproxy}
detection:
  sel:
    UrlStem|endswith: '/aspnet_client/shell.aspx'
  condition: sel
level: high
"""
NO_LITERAL = """\
title: Any server error
id: 7c1e0f9b-2d3a-4b4c-8e9f-8a7b6c5d4e3f
logsource: {product: exchange, service: httpproxy}
detection:
  sel:
    HttpStatus|gte: 500
  condition: sel
level: low
"""
LINUX = """\
title: A Linux rule
id: 8d2f1a0c-3e4b-4c5d-9f0a-9b8c7d6e5f4a
logsource: {product: linux, category: process_creation}
detection:
  sel:
    Image|endswith: '/nc'
  condition: sel
level: low
"""
PLACEHOLDER = """\
title: Admin logon from a host outside the list
id: 9e3a2b1d-4f5c-4d6e-8a1b-0c9d8e7f6a5b
logsource: {product: windows, service: security}
detection:
  sel:
    EventID: 4624
    WorkstationName|expand: '%admin_hosts%'
  condition: sel
level: low
"""
BROKEN = "title: broken\nlogsource: {product: windows\ndetection: [\n"
BAD_CONDITION = GOOD.replace("condition: sel", "condition: sel and missing")


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    for name, text in (("good.yml", GOOD), ("no_literal.yml", NO_LITERAL), ("linux.yml", LINUX),
                       ("placeholder.yml", PLACEHOLDER), ("sub/broken.yml", BROKEN),
                       ("sub/bad_condition.yml", BAD_CONDITION)):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_check_rules_counts_and_reasons(rules: Path) -> None:
    report = check_rules([str(rules)])
    assert report.files == 6 and report.evaluable == 2 and len(report.unsupported) == 2
    assert report.unsupported_by_code == {"logsource": 1, "placeholder": 1}
    assert {(p.file, p.code) for p in report.errors} == {("sub/broken.yml", "yaml"), ("sub/bad_condition.yml", "sigma")}
    assert "line" in next(p.message for p in report.errors if p.code == "yaml")
    assert report.full_parse == {"httpproxy": [("no_literal.yml", "7c1e0f9b-2d3a-4b4c-8e9f-8a7b6c5d4e3f")]}
    assert report.by_kind == {"httpproxy": 2}


def test_placeholders_make_expand_rules_evaluable(rules: Path) -> None:
    report = check_rules([str(rules / "placeholder.yml")], placeholders={"admin_hosts": ["ADM01", "ADM02"]})
    assert report.evaluable == 1 and report.unsupported == []


def test_cli_placeholder_option(rules: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check", str(rules / "placeholder.yml"), "--json", "--placeholder", "admin_hosts=A,B"]) == 0
    assert json.loads(capsys.readouterr().out)["evaluable"] == 1
    assert main(["rules", "check", str(rules / "placeholder.yml"), "--placeholder", "oops"]) == 2


def test_cli_json_and_exit_code(rules: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["rules", "check", str(rules), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 3  # some rules failed to load
    assert data["evaluable"] == 2 and data["unsupported_by_code"] == {"logsource": 1, "placeholder": 1}
    assert [e["file"] for e in data["load_errors"]] == ["sub/bad_condition.yml", "sub/broken.yml"]


def test_cli_text_lists_reasons_and_errors(rules: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["rules", "check", str(rules / "good.yml"), str(rules / "linux.yml"), str(rules / "sub"), "--all"])
    out = capsys.readouterr().out
    assert "logsource not read by exhunt (product=linux, category=process_creation)" in out
    assert "broken.yml" in out and "load error" in out


def test_cli_clean_exit_on_shipped_rules(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check"]) == 0
    assert "evaluable by exhunt" in capsys.readouterr().out


def test_cli_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    assert main(["rules", "check", str(tmp_path / "nope")]) == 2


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check", "--help"]) == 0
    assert "Load Sigma rules as a scan would" in capsys.readouterr().out
