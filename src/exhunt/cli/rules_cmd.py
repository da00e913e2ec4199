"""``exhunt rules check PATH...``: load Sigma rules as a scan would and say what runs, what cannot, and why."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from exhunt.cli.status import ExitCode

if TYPE_CHECKING:  # imported when the command runs
    from rich.console import Console

    from exhunt.detectors.sigma.check import RulesCheckReport

LISTED = 20  # rules listed per section unless --all


def _render(report: RulesCheckReport, console: Console, show_all: bool) -> None:
    from rich.table import Table

    summary = Table(title="Sigma rules", show_header=False)
    summary.add_column("what", overflow="fold")
    summary.add_column("count", justify="right", overflow="fold")
    for label, value in (("files", report.files), ("rules in the files", report.documents),
                         ("loaded (valid Sigma)", report.loaded), ("evaluable by exhunt", report.evaluable),
                         ("  of which correlation rules", report.correlations),
                         ("filters (applied to rules)", report.filters),
                         ("unsupported", len(report.unsupported)), ("load errors", len(report.errors))):
        summary.add_row(label, str(value))
    for code, count in report.unsupported_by_code.items():
        summary.add_row(f"  unsupported: {code}", str(count))
    console.print(summary)
    if report.pipeline_error:
        console.print(f"[red]pipeline error:[/red] {report.pipeline_error}")
    if report.by_kind:
        kinds = Table(title="Evaluable rules by artifact kind")
        kinds.add_column("kind", overflow="fold")
        kinds.add_column("rules", justify="right", overflow="fold")
        kinds.add_column("need every record (no required literal)", justify="right", overflow="fold")
        for kind, count in sorted(report.by_kind.items()):
            kinds.add_row(kind, str(count), str(len(report.full_parse.get(kind, []))))
        console.print(kinds)
    reasons = report.reasons()
    if reasons:
        table = Table(title="Why rules cannot be evaluated")
        table.add_column("code", overflow="fold")
        table.add_column("reason", overflow="fold")
        table.add_column("rules", justify="right", overflow="fold")
        for code, message, count in reasons if show_all else reasons[:LISTED]:
            table.add_row(code, message, str(count))
        console.print(table)
        if not show_all and len(reasons) > LISTED:
            console.print(f"… {len(reasons) - LISTED} more reasons (--all lists them)")
    if show_all:
        for problem in report.unsupported:
            console.print(f"unsupported {problem.file}: {problem.rule}: [{problem.code}] {problem.message}",
                          markup=False, highlight=False)
    for problem in report.errors:
        where = f"{problem.file}: {problem.rule}: " if problem.rule else f"{problem.file}: "
        console.print(f"[red]load error[/red] {where}[{problem.code}] ", end="")
        console.print(problem.message, markup=False, highlight=False)
    for kind, rules in sorted(report.full_parse.items()):
        console.print(f"{kind}: {len(rules)} rule(s) need every record parsed (no required literal):")
        for file, rule in rules if show_all else rules[:LISTED]:
            console.print(f"  {file} ({rule})", markup=False, highlight=False)
        if not show_all and len(rules) > LISTED:
            console.print(f"  … {len(rules) - LISTED} more (--all lists them)")


def _placeholders(specs: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for spec in specs:
        name, sep, values = spec.partition("=")
        if not sep or not name.strip():
            raise typer.BadParameter(f"--placeholder expects NAME=VALUE1,VALUE2, got {spec!r}")
        out.setdefault(name.strip(), []).extend(v.strip() for v in values.split(",") if v.strip())
    return out


def register(app: typer.Typer) -> None:
    rules_app = typer.Typer(name="rules", help="Work with detection rules.", no_args_is_help=True)

    @rules_app.command("check")
    def check(
        paths: list[Path] = typer.Argument(None, help="Sigma rule folders or files (default: exhunt's own rules)."),
        shipped: bool = typer.Option(False, "--shipped", help="Check exhunt's own rules too."),
        show_all: bool = typer.Option(False, "--all", help="List every unsupported rule and every reason."),
        as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
        placeholder: list[str] = typer.Option(
            None, "--placeholder", help="Values of an expand-modifier placeholder: NAME=VALUE1,VALUE2 (repeatable)."),
    ) -> None:
        """Load Sigma rules as a scan would: count what loads and what exhunt can evaluate, list every rule
        it cannot evaluate with the reason, every load error with its file, and the rules that make a log
        be parsed in full. Exit code 0 when everything loaded, 3 when some rules failed to load."""
        given = [str(p) for p in paths or []]
        missing = [p for p in given if not Path(p).exists()]
        if missing:
            raise typer.BadParameter(f"no such file or folder: {', '.join(missing)}")
        import orjson
        from rich.console import Console

        from exhunt.detectors.sigma.check import check_rules  # pySigma only for this command

        report = check_rules(given, shipped=shipped or not given, placeholders=_placeholders(placeholder or []))
        if as_json:
            typer.echo(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode())
        else:
            _render(report, Console(), show_all)
        failed = bool(report.errors or report.pipeline_error)
        raise typer.Exit(int(ExitCode.PARTIAL if failed else ExitCode.CLEAN))

    app.add_typer(rules_app, name="rules")
