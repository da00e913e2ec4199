"""Ctrl-C while exhunt starts (its command line and engines still being imported): a message, exit 130 (#14)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# A real SIGINT sent to the process itself at the moment the command line module is imported: the import
# hook fires inside `main()`, after the light entry module was imported, as a Ctrl-C during start-up would.
_SCRIPT = """
import importlib.abc, os, signal, sys
class Interrupt(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "exhunt.cli.app":
            os.kill(os.getpid(), signal.SIGINT)
        return None
from exhunt.cli.main import main
sys.meta_path.insert(0, Interrupt())
sys.exit(main())
"""


def test_ctrl_c_during_start_up_says_so_and_exits_130(tmp_path: Path) -> None:
    out = tmp_path / "report.jsonl"
    done = subprocess.run([sys.executable, "-c", _SCRIPT, "scan", str(tmp_path), "-f", "jsonl", "-o", str(out)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 130, done.stderr
    assert done.stderr == "exhunt: interrupted before the scan started, nothing was written\n"
    assert "Traceback" not in done.stderr
    assert not out.exists()


def test_the_entry_module_imports_nothing_heavy() -> None:
    probe = ("import sys; import exhunt.cli.main; "
             "print(sorted(m for m in ('typer', 'rich', 'click', 'exhunt.engine', 'exhunt.cli.app') "
             "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"


def test_app_is_still_importable_from_main() -> None:
    from exhunt.cli.app import app as same
    from exhunt.cli.main import app

    assert app is same
