"""CLI basics that need no evidence: help for every command, version, usage errors map to exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer.main

from exhunt.cli.main import app, main
from exhunt.cli.status import ExitCode


def _commands() -> list[list[str]]:
    group = typer.main.get_command(app)
    paths: list[list[str]] = []
    for name, command in sorted(group.commands.items()):  # type: ignore[attr-defined]
        paths.append([name])
        for sub in sorted(getattr(command, "commands", {})):
            paths.append([name, sub])
    return paths


def test_every_command_has_help_text(capsys: pytest.CaptureFixture[str]) -> None:
    commands = _commands()
    assert ["scan"] in commands
    for path in commands:
        assert main([*path, "--help"]) == ExitCode.CLEAN, path
        out = capsys.readouterr().out
        assert "Usage" in out and len(out.splitlines()) > 3, path


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == ExitCode.CLEAN
    assert capsys.readouterr().out.startswith("exhunt ")


def test_missing_evidence_is_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(tmp_path / "nope")]) == ExitCode.USAGE
    assert "not found" in capsys.readouterr().err


def test_unknown_format_is_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(tmp_path), "--format", "pdf"]) == ExitCode.USAGE


def test_unknown_option_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "--no-such-option"]) == ExitCode.USAGE


def test_exit_codes_are_stable() -> None:
    assert [int(c) for c in ExitCode] == [0, 1, 2, 3, 4]
