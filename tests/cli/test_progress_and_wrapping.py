"""Progress on stderr (hosts and bytes done out of the total, an estimate), --quiet, and identifiers never cut
with '…' on a narrow, non-terminal output."""

from __future__ import annotations

from pathlib import Path

import pytest

from exhunt.cli.main import main
from exhunt.cli.progress import evidence_totals

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
HOSTS = [EXAMPLES / "exchange-2019-clean", EXAMPLES / "exchange-2019-probed"]


def test_evidence_totals_count_hosts_and_bytes() -> None:
    hosts, total, per_host = evidence_totals([EXAMPLES])
    assert hosts == 4 and total == sum(per_host.values())
    assert total == sum(p.stat().st_size for p in EXAMPLES.rglob("*") if p.is_file() and p.parent != EXAMPLES)


def test_progress_lines_on_a_non_terminal_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["scan", *map(str, HOSTS), "-f", "jsonl", "-o", str(tmp_path / "o.jsonl"), "-j", "1"])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("host ")]
    assert [line.split(" done")[0] for line in lines] == ["host 1/2", "host 2/2"]
    assert lines[0].endswith("s left") and " MB" in lines[0]
    assert "wrote " in err


def test_quiet_says_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["scan", *map(str, HOSTS), "-f", "jsonl", "-o", str(tmp_path / "o.jsonl"), "--quiet"])
    assert capsys.readouterr().err == ""


def test_exposure_table_wraps_cve_ids(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    main(["exposure", "15.1.2176.2"])
    out = capsys.readouterr().out
    assert "…" not in out
    assert "CVE-2021-26855" in out and "CVE-2021-33766" in out
