"""Start-up stays light: building the command line imports no engine and no heavy library; a JSONL scan of
an empty host imports neither rich nor the other reporters. (Times are measured in bench/, not here.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HEAVY = ("exhunt.engine", "exhunt.fleet.local", "exhunt.detectors.registry", "exhunt.exposure", "rich",
         "yara_x", "duckdb", "stix2", "dask", "distributed", "jinja2", "sigma", "hyperscan", "evtx", "mft", "yaml",
         "multiprocessing", "concurrent.futures")


def _imported(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys\nprint('\\n'.join(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True, timeout=120)
    return set(out.stdout.split())


def test_the_command_line_is_built_without_the_engine_or_heavy_libraries() -> None:
    assert _imported("import exhunt.cli.app") & set(HEAVY) == set()


def test_a_quiet_jsonl_scan_loads_only_what_it_uses(tmp_path: Path) -> None:
    (tmp_path / "host").mkdir()
    out = tmp_path / "out.jsonl"
    run = f"from exhunt.cli.main import main\nmain(['scan', {str(tmp_path / 'host')!r}, '-q', '-f', 'jsonl', " \
          f"'-o', {str(out)!r}])"
    _imported(run)  # fills the content cache (compiling imports pySigma)
    loaded = _imported(run)
    assert out.read_text().strip()  # the host's summary line was written
    assert "exhunt.report.jsonl" in loaded
    assert not loaded & {"rich", "exhunt.report.html", "exhunt.report.stix", "exhunt.report.console",
                         "exhunt.report.misp", "duckdb", "sigma", "distributed"}


def test_every_reporter_is_registered_under_its_own_name() -> None:
    from exhunt.report.registry import names, reporter

    for name in names():
        assert reporter(name).name == name
