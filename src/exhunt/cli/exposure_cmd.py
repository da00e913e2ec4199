"""``exhunt exposure BUILD``: what an Exchange build is, where each CVE stands at it, by exploitation family.

Exit code 0 when the table answers completely (as of its data's date), 3 when any part is unknown: the build
is not in the table or newer than its data, a wave is unverified, the product is out of support (later CVEs
were not assessed by Microsoft) or only partly modelled, or CVEs older than the table could be open.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from exhunt.cli.status import ExitCode

if TYPE_CHECKING:  # imported when the command runs: building the command line (any command) does not pay
    from rich.console import Console

    from exhunt.exposure.config import ConfigCheck


def exposure_report(build: str, config: dict[str, ConfigCheck] | None = None) -> dict[str, Any]:
    """The data the command prints (pure: no printing, no clock)."""
    from exhunt.exposure import assess_exposure

    return assess_exposure([], user_build=build, config=config)


def exit_code(result: dict[str, Any]) -> ExitCode:
    """0: complete answer; 3: some part of it unknown."""
    return ExitCode.CLEAN if result.get("open_cves") is not None and result.get("complete") else ExitCode.PARTIAL


def _cve_list(items: list[dict[str, Any]]) -> str:
    return ", ".join(str(c["cve"]) for c in items)


def _render(result: dict[str, Any], console: Console) -> None:
    from rich.markup import escape

    console.print(f"[bold]{escape(str(result['build']))}[/bold]  {escape(str(result.get('label') or 'unknown build'))}")
    cu_line = []
    if result.get("cu"):
        cu_line.append(f"{result['cu']} ({result['cu_build']}, released {result['cu_date']})")
    if result.get("su"):
        cu_line.append(f"update {result['su']} ({result['su_build']}, released {result['su_date']})")
    if cu_line:
        console.print("  " + escape("; ".join(cu_line)))
    support = result.get("support") or {}
    if support.get("ended"):
        console.print(f"  [yellow]{escape(support['product'])} is out of support since {support['ended']}[/yellow]"
                      + (f" ({escape(support['note'])})" if support.get("note") else ""))
    from rich.table import Table

    table = Table(title="Exploitation families", show_lines=False)
    for column in ("family", "exposed", "open CVEs", "patch released", "exploited in the wild from"):
        table.add_column(column, overflow="fold")  # identifiers wrap, never cut with "…"
    for fam in result.get("families") or []:
        state = {True: "[red]EXPOSED[/red]", False: "[green]not exposed[/green]", None: "unknown"}[fam["exposed_now"]]
        timeline = fam["timeline"]
        table.add_row(fam["id"], state, ", ".join(fam["open_cves"]) or "-", timeline["patch_released"],
                      timeline["first_exploited"])
    console.print(table)
    _render_cves(result, console)
    for fam in result.get("families") or []:
        if fam["exposed_now"]:
            console.print(f"  {escape(fam['summary'])}; fix available since {fam['timeline']['patch_released']}, "
                          f"exploited in the wild since {fam['timeline']['first_exploited']}")
    console.print("[bold]Answer[/bold]")
    for line in result.get("summary") or []:
        style = "yellow" if line.startswith("incomplete") else ""
        console.print(f"  [{style}]{escape(line)}[/{style}]" if style else f"  {escape(line)}")
    for note in result.get("notes") or []:
        console.print(f"[dim]note: {escape(note)}[/dim]")


def _render_cves(result: dict[str, Any], console: Console) -> None:
    from rich.markup import escape

    open_cves = result.get("open_cves")
    if open_cves is None:
        console.print("CVEs: [yellow]unknown[/yellow] (build not in the table)")
        return
    listed = escape(_cve_list(open_cves)) or "none known to the table"
    console.print(f"[bold]Open[/bold] ({len(open_cves)}): {listed}")
    needs = result.get("needs_configuration") or []
    if needs:
        console.print(f"[bold]Patched by build, needs configuration[/bold] ({len(needs)}):")
        groups: dict[str, list[str]] = {}
        for item in needs:
            conds = "; ".join(f"{c['text']} (seen: {c['seen']}{': ' + c['detail'] if c['path'] else ''})"
                              for c in item["conditions"])
            groups.setdefault(conds, []).append(item["cve"])
        for conds, cves in groups.items():
            console.print(f"  {escape(', '.join(cves))}: {escape(conds)}")
    unassessed = result.get("not_assessed") or []
    if unassessed:
        console.print(f"[bold]Not assessed by Microsoft (out of support)[/bold] ({len(unassessed)}): "
                      + escape(_cve_list(unassessed)))


def _read_config(path: Path) -> dict[str, ConfigCheck]:
    from exhunt.exposure.config import MAX_CONFIG_BYTES, ConfigError, read_apphost

    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
        return read_apphost(data, str(path))
    except (OSError, ConfigError) as exc:
        raise typer.BadParameter(f"{path}: {exc}") from exc


def register(app: typer.Typer) -> None:
    @app.command("exposure")
    def exposure(
        build: str = typer.Argument(..., help="Exchange build number, e.g. 15.1.2242.4 or 15.02.0792.003."),
        as_json: bool = typer.Option(False, "--json", help="Print the assessment as JSON."),
        iis_config: Path | None = typer.Option(None, "--iis-config", help=(
            "The server's applicationHost.config: checks Extended Protection and TokenCacheModule for the "
            "CVEs that need them.")),
    ) -> None:
        """Say which Exchange product, CU and security update a build is, which CVEs it leaves open, which
        are patched by build but need configuration, and how that stands against the public exploitation of
        each family (ProxyLogon, ProxyShell, ...). Exit code 3 when any part of the answer is unknown."""
        import orjson
        from rich.console import Console

        from exhunt.exposure import normalise_build

        if normalise_build(build) is None:
            raise typer.BadParameter(f"{build!r} is not an Exchange build number (like 15.2.986.5)")
        config = _read_config(iis_config) if iis_config else None
        result = exposure_report(build, config)
        if as_json:
            typer.echo(orjson.dumps(result, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode())
        else:
            _render(result, Console())
        raise typer.Exit(int(exit_code(result)))
