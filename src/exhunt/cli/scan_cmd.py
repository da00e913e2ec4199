"""`exhunt scan`: evidence in, verdicts, findings with evidence and coverage out.

Its heavy imports (the engine and every layer under it, rich, the chosen reporter) are made when the command
runs, not when the command line is built: ``exhunt --help`` and the other commands do not pay for them."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import typer

from exhunt.cli.status import ExitCode, exit_code_for
from exhunt.content.bundle import ContentSpec
from exhunt.content.cache import default_dir
from exhunt.report.registry import names as reporter_names
from exhunt.report.registry import reporter as make_reporter
from exhunt.report.safetext import markup_safe
from exhunt.report.settings import DEFAULT_TLP, TLP_LEVELS, ReportSettings
from exhunt.sources.base import EvidenceError, shown_name
from exhunt.sources.registry import evidence_kind

if TYPE_CHECKING:
    from rich.console import Console

    from exhunt.model.result import HostResult
    from exhunt.report.base import Reporter


class _Stderr:
    """rich's stderr console, made when something is first printed (or asked): a quiet scan never imports
    rich."""

    def __init__(self) -> None:
        self._console: Console | None = None

    def __call__(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=True)
        return self._console


def _content_problems(spec: ContentSpec, stderr: _Stderr) -> None:
    from exhunt.fleet.local import compiled_content

    bundle = compiled_content(spec)
    for problem in bundle.errors:
        where = problem.path + (f":{problem.line}" if problem.line else "")
        # a rule file's path and its parser's message may hold anything: shown as text, never as markup
        stderr().print(f"[yellow]content error[/] {markup_safe(where)}: {markup_safe(problem.message)}",
                       highlight=False)
    if bundle.unsupported:
        stderr().print(f"[dim]{len(bundle.unsupported)} rule(s) cannot be evaluated and were not run; "
                  "`exhunt rules check` lists them with the reason.[/]", highlight=False)


def scan(
    evidence: list[Path] = typer.Argument(..., help="Host folder(s), zip(s), KAPE/Velociraptor collections, "
                                          "folders of several hosts, or loose EVTX/JSON/log files."),
    fmt: str = typer.Option("console", "--format", "-f", help="Output format: " + ", ".join(sorted(reporter_names()))),
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
    store: Path | None = typer.Option(None, "--store", help="Also write results to this DuckDB case store "
                                      "(each host as soon as it is assessed)."),
    resume: bool = typer.Option(False, "--resume", help="With --store: hosts already in the store are not "
                                "assessed again; their stored results are reported (finish an interrupted scan)."),
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
    if fmt not in reporter_names():
        raise typer.BadParameter(f"unknown format {fmt!r}; choose from {', '.join(sorted(reporter_names()))}",
                                 param_hint="--format")
    chosen = make_reporter(fmt, ReportSettings(tlp=tlp, scan_time=_scan_time()))
    for path in [*sigma, *yara, *iocs]:
        if not path.exists():
            raise typer.BadParameter(f"not found: {shown_name(str(path))}")
    for path in evidence:
        try:
            evidence_kind(path)  # a FIFO or a device is refused here, before a byte is read
        except EvidenceError as exc:
            raise typer.BadParameter(str(exc)) from exc
    if resume and store is None:
        raise typer.BadParameter("--resume needs --store (the case store that holds the finished hosts)")
    if output is not None:
        _check_writable(output, "--output")
    from exhunt.fleet.local import FleetInterrupted

    stderr = _Stderr()
    jobs = jobs or os.cpu_count() or 1
    spec = ContentSpec(sigma_paths=tuple(str(p) for p in sigma), yara_paths=tuple(str(p) for p in yara),
                       ioc_paths=tuple(str(p) for p in iocs), cache_dir=None if no_cache else str(default_dir()))
    options: dict[str, Any] = {"exchange_path": exchange_path, "build": build}
    show_progress = not (quiet or no_progress)
    live = show_progress and stderr().is_terminal and not os.environ.get("CI")
    with _Store(store) as case, _HostLines(chosen, output) as lines:
        known = case.finished() if resume else {}
        if known:
            stderr().print(f"resuming: {len(known)} host(s) already in {shown_name(str(store))} are not assessed again",
                      highlight=False, markup=False)
        try:
            results = _run(evidence, spec, options, jobs, dask, show_progress, live, stderr,
                           _each(case.write, lines.write), known)
        except FleetInterrupted as stop:
            lines.close()  # the per-host file is written over and renamed: not while it is open (Windows)
            lines.path = None  # and nothing more is appended to it
            _write_report(chosen, stop.finished, output, stderr, quiet)
            kept = f"; finished hosts are in {shown_name(str(store))}: rerun with --resume to finish" \
                if store is not None else ""
            stderr().print(f"interrupted: {len(stop.finished)} of {stop.total} host(s) assessed and reported{kept}",
                      highlight=False, markup=False)
            return INTERRUPTED
    if lines.problem:
        stderr().print(f"warning: {markup_safe(lines.problem)}", highlight=False)
    _content_problems(spec, stderr)  # after the scan: a single host's logs are hashed while content compiles
    _write_report(chosen, results, output, stderr, quiet, written=lines.holds_report(results))
    return int(exit_code_for(results))


INTERRUPTED = 130  # the shell's code for a run stopped by Ctrl-C (SIGINT)


def assess_paths(*args: Any, **kwargs: Any) -> list[HostResult]:
    """``fleet.local.assess_paths``, imported at the first call (the engine and every layer under it)."""
    from exhunt.fleet.local import assess_paths as run

    return run(*args, **kwargs)


def _run(evidence: list[Path], spec: ContentSpec, options: dict[str, Any], jobs: int, dask: str | None,
         show_progress: bool, live: bool, stderr: _Stderr, on_host: Callable[[HostResult], None],
         known: dict[tuple[str, str], HostResult]) -> list[HostResult]:
    if dask:
        from exhunt.fleet.dask import assess_paths_dask

        return assess_paths_dask(evidence, spec, options, dask, on_host=on_host, known=known)
    if not show_progress:
        return assess_paths(evidence, spec, options, jobs=jobs, on_host=on_host, known=known)
    from exhunt.cli.progress import ScanProgress

    with ScanProgress(stderr(), evidence, live) as shown:

        def finished(result: HostResult) -> None:
            on_host(result)
            shown.on_host(result)

        return assess_paths(evidence, spec, options, jobs=jobs, progress=shown.on_file, on_host=finished,
                            known=known)


def _check_writable(path: Path, option: str) -> None:
    """An output that cannot be written is a usage error found before the scan, not after it."""
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise typer.BadParameter(f"{shown_name(str(path))} is a folder", param_hint=option)
    if not folder.is_dir():
        raise typer.BadParameter(f"folder does not exist: {shown_name(str(folder))}", param_hint=option)
    if (path.exists() and not os.access(path, os.W_OK)) or (not path.exists() and not os.access(folder, os.W_OK)):
        raise typer.BadParameter(f"cannot write {shown_name(str(path))}: permission denied", param_hint=option)


def _each(*calls: Callable[[HostResult], None]) -> Callable[[HostResult], None]:
    def on_host(result: HostResult) -> None:
        for call in calls:
            call(result)
    return on_host


class _HostLines:
    """With ``-f jsonl -o FILE``: each host's lines (its findings, then its summary) appended to
    ``FILE.partial`` as the host finishes, in the order hosts finish, so a run killed outright (SIGKILL, a
    power cut) leaves a valid JSONL file holding every finished host. At the end, or on Ctrl-C, the report
    is written whole in its usual order over that file and renamed to FILE (``_write_report``): the final
    bytes are those of a run never interrupted, whatever order the hosts finished in."""

    def __init__(self, reporter: Reporter, output: Path | None) -> None:
        self.reporter = reporter
        self.path = output.with_name(output.name + ".partial") if output is not None else None
        self.handle: TextIO | None = None
        self.problem = ""  # why the per-host file stopped being written, if it did
        self.written: list[HostResult] = []  # the results in the per-host file, in the order written
        streamable = reporter.name == "jsonl" and output is not None and (
            not output.exists() or output.is_file())  # /dev/null or a pipe is written to once, at the end
        if not streamable:
            self.path = None

    def __enter__(self) -> _HostLines:
        return self

    def write(self, result: HostResult) -> None:
        if self.path is not None:
            try:
                if self.handle is None:  # opened at the first finished host: a run failing before leaves nothing
                    self.handle = self.path.open("w", encoding="utf-8", newline="\n")
                self.handle.write(_rendered(self.reporter, result))  # one write: a host's lines are never split
                self.handle.flush()
                self.written.append(result)
            except OSError as exc:  # disk full...: the run goes on, the report is still written at the end
                self.problem = f"{shown_name(str(self.path))} not kept up to date: {exc.strerror or exc}"
                self.path = None

    def holds_report(self, results: list[HostResult]) -> bool:
        """Whether the per-host file already holds the whole report, byte for byte: one host, written whole (a
        report of several hosts puts every finding before every host line, so it is written again)."""
        return self.path is not None and len(results) == 1 and len(self.written) == 1 \
            and self.written[0] is results[0]

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()  # kept when the run failed: it holds the hosts that finished
            self.handle = None

    def __exit__(self, *_: object) -> None:
        self.close()


def _rendered(reporter: Reporter, result: HostResult) -> str:
    buffer = io.StringIO()
    reporter.write([result], buffer)
    return buffer.getvalue()


class _Store:
    """The case store, opened before the scan (an unusable store is a usage error) and written per host."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.con: Any = None

    def __enter__(self) -> _Store:
        if self.path is not None:
            from exhunt.fleet.store import open_store

            _check_writable(self.path, "--store")
            try:
                self.con = open_store(self.path)
            except Exception as exc:  # duckdb.Error: not a DuckDB file, locked by another process...
                raise typer.BadParameter(f"cannot open {shown_name(str(self.path))}: {exc}",
                                         param_hint="--store") from exc
        return self

    def finished(self) -> dict[tuple[str, str], HostResult]:
        from exhunt.fleet.store import stored_results

        return {} if self.path is None else stored_results(self.con)

    def write(self, result: HostResult) -> None:
        if self.con is not None:
            from exhunt.fleet.store import write_host

            write_host(self.con, result)

    def __exit__(self, *_: object) -> None:
        if self.con is not None:
            self.con.close()


def _write_report(reporter: Reporter, results: list[HostResult], output: Path | None, stderr: _Stderr,
                  quiet: bool, written: bool = False) -> None:
    """``written``: ``output``'s per-host file (``FILE.partial``, closed) already holds the whole report."""
    if output is None:
        reporter.write(results, sys.stdout)
        return
    if output.exists() and not output.is_file():  # /dev/null, /dev/stdout, a pipe: written to as it is
        with output.open("w", encoding="utf-8", newline="\n") as handle:
            reporter.write(results, handle)
    else:
        partial = output.with_name(output.name + ".partial")  # replaced in one step: never a truncated report
        try:
            if not written:
                with partial.open("w", encoding="utf-8", newline="\n") as handle:
                    reporter.write(results, handle)
            partial.replace(output)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    if not quiet:
        verdicts = ", ".join(f"{r.host}: {r.verdict.value}" for r in results)
        stderr().print(f"wrote {markup_safe(shown_name(str(output)))} ({markup_safe(verdicts)})", highlight=False)


def _scan_time() -> str:
    """Now, or SOURCE_DATE_EPOCH for reproducible builds; reports use it only where the evidence has no time."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    moment = datetime.fromtimestamp(int(epoch), UTC) if epoch.isdigit() else datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def register(app: typer.Typer) -> None:
    app.command("scan")(scan)


__all__ = ["ExitCode", "register"]
