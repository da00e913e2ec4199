"""`exhunt scan`: evidence in, verdicts, findings with evidence and coverage out."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from exhunt.cli.progress import ScanProgress
from exhunt.cli.status import ExitCode, exit_code_for
from exhunt.content.bundle import ContentSpec
from exhunt.content.cache import default_dir
from exhunt.fleet.local import assess_paths, compiled_content
from exhunt.report.registry import reporters
from exhunt.report.safetext import markup_safe
from exhunt.report.settings import DEFAULT_TLP, TLP_LEVELS, ReportSettings


def _content_problems(spec: ContentSpec, err: Console) -> None:
    bundle = compiled_content(spec)
    for problem in bundle.errors:
        where = problem.path + (f":{problem.line}" if problem.line else "")
        err.print(f"[yellow]content error[/] {markup_safe(where)}: {markup_safe(problem.message)}", highlight=False)
    if bundle.unsupported:
        err.print(f"[dim]{len(bundle.unsupported)} rule(s) cannot be evaluated and were not run; "
                  "`exhunt rules check` lists them with the reason.[/]", highlight=False)


def scan(
    evidence: list[Path] = typer.Argument(..., help="Host folder(s), zip(s), KAPE/Velociraptor collections, "
                                          "folders of several hosts, or loose EVTX/JSON/log files."),
    fmt: str = typer.Option("console", "--format", "-f", help="Output format: " + ", ".join(sorted(reporters()))),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the report here instead of stdout."),
    exchange_path: str | None = typer.Option(None, "--exchange-path",
                                             help="Exchange install folder inside the evidence (e.g. "
                                                  "'D/Exchange/V15'), when it cannot be found by content."),
    sigma: list[Path] = typer.Option([], "--sigma", help="Extra Sigma rule folder or file (repeatable)."),
    yara: list[Path] = typer.Option([], "--yara", help="Extra YARA rule folder or file (repeatable)."),
    iocs: list[Path] = typer.Option([], "--iocs", help="Indicator feed: STIX 2.1, MISP JSON, CSV or list."),
    build: str | None = typer.Option(None, "--build", help="The server's Exchange build, e.g. 15.2.858.5, "
                                     "when the evidence does not tell."),
    jobs: int = typer.Option(0, "--jobs", "-j", min=0, help="Processes: hosts assessed in parallel, or for one "
                             "host its logs parsed and files swept in parallel (default 0: one per CPU)."),
    dask: str | None = typer.Option(None, "--dask", help="Run on a Dask cluster: scheduler address "
                                    "(tcp://host:8786) or 'local'. Evidence paths must be readable by the workers."),
    store: Path | None = typer.Option(None, "--store", help="Also write results to this DuckDB case store."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Nothing on stderr but errors (no progress, no "
                               "'wrote' line): for scripts."),
    tlp: str = typer.Option(DEFAULT_TLP, "--tlp", help="Traffic Light Protocol marking of every output: "
                            + ", ".join(TLP_LEVELS) + " (default amber)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Compile the detection content afresh and keep "
                                  "nothing (default: compiled rules are kept between runs in $EXHUNT_CACHE_DIR, "
                                  "else ~/.cache/exhunt)."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks of internal errors."),
) -> int:
    """Assess Exchange servers' evidence: verdict per host, findings with evidence, what was not checked."""
    if tlp not in TLP_LEVELS:
        raise typer.BadParameter(f"unknown TLP level {tlp!r}; choose from {', '.join(TLP_LEVELS)}",
                                 param_hint="--tlp")
    renderers = reporters(ReportSettings(tlp=tlp, scan_time=_scan_time()))
    if fmt not in renderers:
        raise typer.BadParameter(f"unknown format {fmt!r}; choose from {', '.join(sorted(renderers))}",
                                 param_hint="--format")
    for path in [*evidence, *sigma, *yara, *iocs]:
        if not path.exists():
            raise typer.BadParameter(f"not found: {path}")
    err = Console(stderr=True)
    jobs = jobs or os.cpu_count() or 1
    spec = ContentSpec(sigma_paths=tuple(str(p) for p in sigma), yara_paths=tuple(str(p) for p in yara),
                       ioc_paths=tuple(str(p) for p in iocs), cache_dir=None if no_cache else str(default_dir()))
    options: dict[str, Any] = {"exchange_path": exchange_path, "build": build}
    live = not no_progress and err.is_terminal and not os.environ.get("CI")
    if dask:
        from exhunt.fleet.dask import assess_paths_dask

        results = assess_paths_dask(evidence, spec, options, dask)
    elif quiet or no_progress:
        results = assess_paths(evidence, spec, options, jobs=jobs)
    else:
        with ScanProgress(err, evidence, live) as shown:
            results = assess_paths(evidence, spec, options, jobs=jobs, progress=shown.on_file,
                                   on_host=shown.on_host)
    _content_problems(spec, err)  # after the scan: a single host's logs are hashed while content compiles
    if store is not None:
        from exhunt.fleet.store import write_results

        write_results(store, results)
    reporter = renderers[fmt]
    if output is None:
        reporter.write(results, sys.stdout)
    else:
        with output.open("w", encoding="utf-8", newline="\n") as handle:
            reporter.write(results, handle)
        if not quiet:
            verdicts = ", ".join(f"{r.host}: {r.verdict.value}" for r in results)
            err.print(f"wrote {markup_safe(output)} ({markup_safe(verdicts)})", highlight=False)
    return int(exit_code_for(results))


def _scan_time() -> str:
    """Now, or SOURCE_DATE_EPOCH for reproducible builds; reports use it only where the evidence has no time."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    moment = datetime.fromtimestamp(int(epoch), UTC) if epoch.isdigit() else datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def register(app: typer.Typer) -> None:
    app.command("scan")(scan)


__all__ = ["ExitCode", "register"]
