"""``exhunt exposure BUILD``: what an Exchange build is, which CVEs it leaves open, by exploitation family."""

from __future__ import annotations

from typing import Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from exhunt.cli.status import ExitCode
from exhunt.exposure import assess_exposure, normalise_build


def exposure_report(build: str) -> dict[str, Any]:
    """The data the command prints (pure: no printing, no clock)."""
    return assess_exposure([], user_build=build)


def _render(result: dict[str, Any], console: Console) -> None:
    console.print(f"[bold]{result['build']}[/bold]  {result.get('label') or 'unknown build'}")
    cu_line = []
    if result.get("cu"):
        cu_line.append(f"{result['cu']} ({result['cu_build']}, released {result['cu_date']})")
    if result.get("su"):
        cu_line.append(f"update {result['su']} ({result['su_build']}, released {result['su_date']})")
    if cu_line:
        console.print("  " + "; ".join(cu_line))
    if result.get("note"):
        console.print(f"  [yellow]{result['note']}[/yellow]")
    table = Table(title="Exploitation families", show_lines=False)
    for column in ("family", "exposed", "open CVEs", "patch released", "exploited in the wild from"):
        table.add_column(column, overflow="fold")  # identifiers wrap, never cut with "…"
    for fam in result.get("families") or []:
        state = {True: "[red]EXPOSED[/red]", False: "[green]patched[/green]", None: "unknown"}[fam["exposed_now"]]
        timeline = fam["timeline"]
        table.add_row(fam["id"], state, ", ".join(fam["open_cves"]) or "-", timeline["patch_released"],
                      timeline["first_exploited"])
    console.print(table)
    open_cves = result.get("open_cves")
    if open_cves is None:
        console.print("Open CVEs: unknown (build not in the table)")
    else:
        others = [c["cve"] for c in open_cves if not c["families"]]
        console.print(f"Open CVEs known to the table: {len(open_cves)} "
                      f"({len(open_cves) - len(others)} in the families above)")
        if others:
            console.print("  other: " + ", ".join(others))
    for fam in result.get("families") or []:
        if fam["exposed_now"]:
            console.print(f"  {fam['summary']}; fix available since {fam['timeline']['patch_released']}, "
                          f"exploited in the wild since {fam['timeline']['first_exploited']}")
    for note in result.get("notes") or []:
        console.print(f"[dim]note: {note}[/dim]")


def register(app: typer.Typer) -> None:
    @app.command("exposure")
    def exposure(
        build: str = typer.Argument(..., help="Exchange build number, e.g. 15.1.2242.4 or 15.02.0792.003."),
        as_json: bool = typer.Option(False, "--json", help="Print the assessment as JSON."),
    ) -> None:
        """Say which Exchange product, CU and security update a build is, which CVEs it leaves open, and
        how that stands against the public exploitation of each family (ProxyLogon, ProxyShell, ...)."""
        if normalise_build(build) is None:
            raise typer.BadParameter(f"{build!r} is not an Exchange build number (like 15.2.986.5)")
        result = exposure_report(build)
        if as_json:
            typer.echo(orjson.dumps(result, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode())
        else:
            _render(result, Console())
        raise typer.Exit(int(ExitCode.CLEAN if result.get("open_cves") is not None else ExitCode.PARTIAL))
