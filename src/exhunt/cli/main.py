"""The entry point of the exhunt command. It imports nothing heavy itself: the command line (typer, rich,
the engines) is imported inside ``main()``, so a Ctrl-C while the program starts is answered with a message
and exit code 130, never a traceback or a silent exit."""

from __future__ import annotations

import sys
from typing import Any

INTERRUPTED = 130  # the shell's code for a command stopped by SIGINT (kept equal to scan_cmd.INTERRUPTED)
NOT_STARTED = "exhunt: interrupted before the scan started, nothing was written\n"


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the command line, mapping every failure to an exit code."""
    try:
        from exhunt.cli.app import run
    except KeyboardInterrupt:
        sys.stderr.write(NOT_STARTED)
        return INTERRUPTED
    return run(argv)


def __getattr__(name: str) -> Any:
    """``app`` (the typer app) for those who import it from here, imported when first asked for."""
    if name == "app":
        from exhunt.cli.app import app
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
