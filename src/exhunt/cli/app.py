"""The exhunt command line (the typer app): the only place that prints and maps errors to exit codes.

Reached through ``exhunt.cli.main``, which stays light so that a Ctrl-C while this is imported is answered."""

from __future__ import annotations

import sys

import typer

from exhunt import __version__
from exhunt.cli import exposure_cmd, rules_cmd, scan_cmd
from exhunt.cli.scan_cmd import INTERRUPTED
from exhunt.cli.status import ExitCode
from exhunt.report.safetext import visible
from exhunt.sources.base import EvidenceError

app = typer.Typer(
    name="exhunt",
    help="Hunt for Microsoft Exchange exploitation (ProxyLogon, ProxyShell, ProxyNotShell and kin) and what "
         "the intruder did next, offline, in evidence collected from Windows/Exchange servers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)



def _version(value: bool) -> None:
    if value:
        typer.echo(f"exhunt {__version__}")
        raise typer.Exit(int(ExitCode.CLEAN))


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """exhunt: offline Exchange compromise assessment."""


# One line per command module (a hand-written registry).
scan_cmd.register(app)
rules_cmd.register(app)
exposure_cmd.register(app)


def _is_click_error(exc: BaseException) -> bool:
    """Typer raises click's exception classes (vendored in recent typer): usage errors, bad parameters."""
    return any(cls.__name__ == "ClickException" for cls in type(exc).__mro__)


def run(argv: list[str] | None = None) -> int:
    """Run the app, map every failure to an exit code."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        returned = app(args=args, standalone_mode=False)
    except SystemExit as exc:  # typer.Exit inside standalone_mode=False surfaces as the code
        return int(exc.code or 0)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("exhunt: interrupted", err=True)
        return INTERRUPTED
    except typer.Abort as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):  # click turns Ctrl-C into Abort
            typer.echo("exhunt: interrupted", err=True)
            return INTERRUPTED
        typer.echo(f"exhunt: {visible(exc)}", err=True)
        return int(ExitCode.USAGE)
    except (typer.BadParameter, EvidenceError) as exc:
        typer.echo(f"exhunt: {visible(exc)}", err=True)
        return int(ExitCode.USAGE)
    except Exception as exc:  # click's UsageError and friends, and real bugs
        show = getattr(exc, "show", None)
        if _is_click_error(exc) and callable(show):
            show()
            return int(ExitCode.USAGE)
        if debug:
            import traceback

            traceback.print_exc()
        else:
            typer.echo(f"exhunt: internal error: {type(exc).__name__}: {visible(exc)} (run with --debug for details)",
                       err=True)
        return int(ExitCode.INTERNAL)
    return int(returned) if isinstance(returned, int) else int(ExitCode.CLEAN)
