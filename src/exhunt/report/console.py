"""A human-readable report for the terminal: verdict, attack chain, findings with evidence, exposure, coverage.

Everything from the evidence (host and file names, excerpts, warnings) goes through ``safetext``: control and
bidi characters are shown escaped and rich markup is never interpreted. Identifiers are never cut: long cells
wrap (``overflow="fold"``).
"""

from __future__ import annotations

from typing import Any, TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from exhunt.model.coverage import SourceStatus
from exhunt.model.finding import Finding
from exhunt.model.result import HostResult, Verdict
from exhunt.report.base import Reporter
from exhunt.report.safetext import markup_safe as safe
from exhunt.report.safetext import visible

VERDICT_STYLE = {
    Verdict.COMPROMISED: "bold white on red",
    Verdict.ATTEMPTED: "bold black on yellow",
    Verdict.SUSPICIOUS: "bold black on dark_orange",
    Verdict.NO_SIGN: "bold black on green",
    Verdict.COULD_NOT_ASSESS: "bold white on blue",
}
SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}
EVIDENCE_SHOWN = 3


def table(title: str, *columns: str) -> Table:
    """A table whose cells wrap rather than being cut with '…' (identifiers must stay whole)."""
    found = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    for column in columns:
        found.add_column(column, overflow="fold")
    return found


def cell(value: object) -> Text:
    """A table cell from evidence: plain text (no markup), control characters escaped."""
    return Text(visible(value))


def _finding(console: Console, finding: Finding) -> None:
    sev = finding.severity.label
    ids = " ".join([*finding.cves, *finding.attack])
    weight = f"; {finding.status}" if finding.status else "; weak alone" if finding.evidence_class == "weak" else ""
    console.print(f"  [{SEVERITY_STYLE.get(sev, '')}]{sev.upper():8}[/] [bold]{safe(finding.rule_id)}[/] "
                  f"{safe(finding.title)} [dim]({safe(finding.outcome.value)}, "
                  f"{safe(finding.confidence.value)} confidence{safe(weight)})[/]")
    window = finding.first_seen or "?"
    if finding.last_seen and finding.last_seen != finding.first_seen:
        window += f" .. {finding.last_seen}"
    console.print(f"           [dim]{safe(window)}  {safe(ids)}[/]")
    for key in ("client_ip", "written_path", "path", "tied_to"):
        values = finding.attr_values(key)
        if values:
            shown = ", ".join(values[:8]) + (f" (+{len(values) - 8})" if len(values) > 8 else "")
            console.print(f"           {key}: {safe(shown)}")
    for ref in finding.evidence[:EVIDENCE_SHOWN]:
        where = ref.path + (f":{ref.line}" if ref.line else "") + (f" record {ref.record}" if ref.record else "")
        console.print(f"           [green]{safe(where)}[/]")
        if ref.excerpt:
            console.print(f"             [dim]{safe(ref.excerpt[:200])}[/]", soft_wrap=True)
    total = max(finding.evidence_total, len(finding.evidence))
    if total > EVIDENCE_SHOWN:
        console.print(f"           [dim]… {total - EVIDENCE_SHOWN} more pieces of evidence (see --format jsonl)[/]")


def _coverage(console: Console, result: HostResult) -> None:
    found = table("Coverage", "source", "status", "files", "records", "from", "to")
    for name in sorted(result.coverage.sources):
        cov = result.coverage.sources[name]
        status = cell(cov.status.value)
        if cov.status is not SourceStatus.READ:
            status.stylize("yellow")
        found.add_row(cell(name), status, str(cov.files), str(cov.records), cell(cov.first_time or "-"),
                      cell(cov.last_time or "-"))
    console.print(found)
    for note in result.coverage.notes:
        console.print(f"  [yellow]![/] {safe(note)}")
    for warning in result.coverage.warnings[:10]:
        where = warning.path + (f":{warning.line}" if warning.line else "")
        console.print(f"  [dim]warning {safe(where)}: {safe(warning.message)}[/]")
    if len(result.coverage.warnings) > 10:
        console.print(f"  [dim]… {len(result.coverage.warnings) - 10} more warnings (see --format jsonl)[/]")


def _exposure(console: Console, exposure: dict[str, Any]) -> None:
    if not exposure:
        console.print("Exposure: [yellow]build unknown[/] (no Exchange #Version header, no ExSetup.exe; "
                      "--build tells it)")
        return
    label = exposure.get("label") or "unknown build"
    opened = exposure.get("open_cves") or []
    console.print(f"Exposure: [bold]{safe(label)}[/] ({safe(exposure.get('build'))}, from "
                  f"{safe(exposure.get('build_source'))}); {len(opened)} CVE(s) open at the latest build")
    for step in exposure.get("history") or []:
        console.print(f"  build {safe(step.get('build'))} {safe(step.get('label') or '')}: "
                      f"seen {safe(step.get('first_seen'))} .. {safe(step.get('last_seen'))}")
    for family in exposure.get("families") or []:
        if family.get("windows") or family.get("exposed_now"):
            console.print(f"  [yellow]•[/] {safe(family.get('summary'))}")
    for line in exposure.get("summary") or []:  # the answer in words: counts, what is unknown, the data's date
        style = "yellow" if str(line).startswith("incomplete") else "dim"
        console.print(f"  [{style}]{safe(line)}[/]")


def render(results: list[HostResult], console: Console, tlp_label: str = "") -> None:
    if tlp_label:
        console.print(f"[bold]{safe(tlp_label)}[/]: share according to the Traffic Light Protocol.")
    for result in results:
        console.rule(f"[bold]{safe(result.host)}[/]  [dim]{safe(result.evidence)}[/]")
        style = VERDICT_STYLE.get(result.verdict, "bold")
        console.print(f"Verdict: [{style}] {safe(result.verdict.value.upper())} [/]")
        for reason in result.verdict_reasons:
            console.print(f"  {safe(reason)}")
        if result.timeline:
            console.print("[bold]Attack chain[/]")
            for entry in result.timeline:
                when = entry.get("time") or entry.get("time_note") or "?"  # an unknown write time says so
                console.print(f"  {safe(when)}  {safe(entry.get('step') or '-'):18} "
                              f"{safe(entry.get('rule_id'))} {safe(entry.get('title'))} "
                              f"[dim]({safe(entry.get('outcome'))})[/]")
        _exposure(console, result.exposure)
        if result.findings:
            console.print(f"[bold]Findings ({len(result.findings)})[/]")
            for finding in result.findings:
                _finding(console, finding)
        _coverage(console, result)
    if len(results) > 1:
        hosts = table("Hosts", "host", "verdict", "findings")
        for result in results:
            hosts.add_row(cell(result.host), cell(result.verdict.value), str(len(result.findings)))
        console.print(hosts)


def report_console(out: TextIO) -> Console:
    """A console for a report: no colour codes, no emoji codes, no highlighting, no markup from data."""
    return Console(file=out, width=120, no_color=True, highlight=False, soft_wrap=False, emoji=False)


class ConsoleReporter(Reporter):
    name = "console"
    description = "readable report: verdict, attack chain, findings with evidence, exposure, coverage"

    def write(self, results: list[HostResult], out: TextIO) -> None:
        render(results, report_console(out), self.settings.tlp_label)
