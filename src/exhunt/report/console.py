"""A human-readable report for the terminal: verdict, findings with evidence, coverage."""

from __future__ import annotations

from typing import Any, TextIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from exhunt.model.coverage import SourceStatus
from exhunt.model.finding import Finding
from exhunt.model.result import HostResult, Verdict
from exhunt.report.base import Reporter

VERDICT_STYLE = {
    Verdict.COMPROMISED: "bold white on red",
    Verdict.ATTEMPTED: "bold black on yellow",
    Verdict.NO_SIGN: "bold black on green",
    Verdict.COULD_NOT_ASSESS: "bold white on blue",
}
SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}
EVIDENCE_SHOWN = 3


def _finding(console: Console, finding: Finding) -> None:
    sev = finding.severity.label
    ids = " ".join([*finding.cves, *finding.attack])
    console.print(f"  [{SEVERITY_STYLE[sev]}]{sev.upper():8}[/] [bold]{escape(finding.rule_id)}[/] "
                  f"{escape(finding.title)} [dim]({finding.outcome.value}, {finding.confidence.value} confidence)[/]")
    window = finding.first_seen or "?"
    if finding.last_seen and finding.last_seen != finding.first_seen:
        window += f" .. {finding.last_seen}"
    console.print(f"           [dim]{escape(window)}  {escape(ids)}[/]")
    for key in ("client_ip", "written_path", "path", "tied_to"):
        values = finding.attr_values(key)
        if values:
            shown = ", ".join(values[:8]) + (f" (+{len(values) - 8})" if len(values) > 8 else "")
            console.print(f"           {key}: {escape(shown)}")
    for ref in finding.evidence[:EVIDENCE_SHOWN]:
        where = ref.path + (f":{ref.line}" if ref.line else "") + (f" record {ref.record}" if ref.record else "")
        console.print(f"           [green]{escape(where)}[/]")
        if ref.excerpt:
            console.print(f"             [dim]{escape(ref.excerpt[:200])}[/]", soft_wrap=True)
    total = max(finding.evidence_total, len(finding.evidence))
    if total > EVIDENCE_SHOWN:
        console.print(f"           [dim]… {total - EVIDENCE_SHOWN} more pieces of evidence (see --format jsonl)[/]")


def _coverage(console: Console, result: HostResult) -> None:
    table = Table(title="Coverage", title_justify="left", show_edge=False, pad_edge=False)
    for column in ("source", "status", "files", "records", "from", "to"):
        table.add_column(column)
    for name in sorted(result.coverage.sources):
        cov = result.coverage.sources[name]
        style = "" if cov.status is SourceStatus.READ else "yellow"
        table.add_row(name, f"[{style}]{cov.status.value}[/]" if style else cov.status.value, str(cov.files),
                      str(cov.records), cov.first_time or "-", cov.last_time or "-")
    console.print(table)
    for note in result.coverage.notes:
        console.print(f"  [yellow]![/] {escape(note)}")
    for warning in result.coverage.warnings[:10]:
        where = warning.path + (f":{warning.line}" if warning.line else "")
        console.print(f"  [dim]warning {escape(where)}: {escape(warning.message)}[/]")
    if len(result.coverage.warnings) > 10:
        console.print(f"  [dim]… {len(result.coverage.warnings) - 10} more warnings (see --format jsonl)[/]")


def _exposure(console: Console, exposure: dict[str, Any]) -> None:
    if not exposure:
        console.print("Exposure: [yellow]build unknown[/] (no Exchange #Version header, no ExSetup.exe; "
                      "--build tells it)")
        return
    label = exposure.get("label") or "unknown build"
    opened = exposure.get("open_cves") or []
    console.print(f"Exposure: [bold]{escape(str(label))}[/] ({escape(str(exposure.get('build')))}, from "
                  f"{escape(str(exposure.get('build_source')))}); {len(opened)} CVE(s) open at the latest build")
    for step in exposure.get("history") or []:
        console.print(f"  build {escape(str(step.get('build')))} {escape(str(step.get('label') or ''))}: "
                      f"seen {escape(str(step.get('first_seen')))} .. {escape(str(step.get('last_seen')))}")
    for family in exposure.get("families") or []:
        if family.get("windows") or family.get("exposed_now"):
            console.print(f"  [yellow]•[/] {escape(str(family.get('summary')))}")


def render(results: list[HostResult], console: Console) -> None:
    for result in results:
        console.rule(f"[bold]{escape(result.host)}[/]  [dim]{escape(result.evidence)}[/]")
        console.print(f"Verdict: [{VERDICT_STYLE[result.verdict]}] {result.verdict.value.upper()} [/]")
        for reason in result.verdict_reasons:
            console.print(f"  {escape(reason)}")
        _exposure(console, result.exposure)
        if result.timeline:
            console.print("[bold]Attack chain[/]")
            for entry in result.timeline:
                when = entry["time"] or entry.get("time_note") or "?"  # a file's unknown write time says so
                console.print(f"  {escape(str(when))}  {escape(str(entry['step'] or '-')):18} "
                              f"{escape(str(entry['rule_id']))} {escape(str(entry['title']))} "
                              f"[dim]({entry['outcome']})[/]")
        if result.findings:
            console.print(f"[bold]Findings ({len(result.findings)})[/]")
            for finding in result.findings:
                _finding(console, finding)
        _coverage(console, result)
    if len(results) > 1:
        table = Table(title="Hosts", title_justify="left")
        for column in ("host", "verdict", "findings"):
            table.add_column(column)
        for result in results:
            table.add_row(result.host, result.verdict.value, str(len(result.findings)))
        console.print(table)


class ConsoleReporter(Reporter):
    name = "console"
    description = "readable report: verdict, attack chain, findings with evidence, coverage"

    def write(self, results: list[HostResult], out: TextIO) -> None:
        console = Console(file=out, width=120, no_color=True, highlight=False, soft_wrap=False)
        render(results, console)
