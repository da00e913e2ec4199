"""assess_host(): one host's evidence + compiled content + options -> HostResult (plain data).

A pure function of its inputs so it runs the same in the CLI, a worker process or a Dask worker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from typing import Any, BinaryIO

from exhunt.content.bundle import ContentBundle
from exhunt.content.hyperscan_db import use_folder
from exhunt.correlate.coverage import summarise_coverage
from exhunt.correlate.exposure import (
    build_observations,
    config_checks,
    exsetup_observations,
    grade_by_exposure,
    host_exposure,
)
from exhunt.correlate.filetimes import true_times
from exhunt.correlate.verdict import conclude
from exhunt.detectors.base import Detector, Digests, HostContext, Interest
from exhunt.detectors.registry import create_detectors
from exhunt.exposure import BuildObservation
from exhunt.model.coverage import HostCoverage, InputWarning, SourceCoverage, SourceStatus
from exhunt.model.event import Record
from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.model.finding import Finding
from exhunt.model.result import HostResult, Verdict
from exhunt.model.timefmt import canonical
from exhunt.parsers.base import Parser, ParseReport, Prefilter, RecordGate
from exhunt.parsers.columns import ScopedRequirement, anywhere, requirement_key
from exhunt.parsers.evtx import EvtxParser
from exhunt.parsers.pool import ParsePool, PrefilterSpec, RangePool, parse_all
from exhunt.parsers.registry import all_parsers
from exhunt.sources.base import FileEntry, HostTree
from exhunt.sources.classify import Layout, classify

Progress = Callable[[str, int], None]  # (artifact path, bytes done) for progress bars


def _prefilter_spec(interests: list[Interest], columns: bool = False) -> PrefilterSpec:
    """What the parser of a kind of log is to look for; ``columns``: its lines have named columns that a
    column gate can judge (``parsers/columns.py``: IIS and Exchange's CSV logs)."""
    if not interests:
        return PrefilterSpec("nothing")
    literals: set[str] = set()
    requirements: set[tuple[frozenset[str], ...]] = set()
    scoped: set[ScopedRequirement] = set()
    for interest in interests:
        if interest.literals is None:
            return PrefilterSpec("all")
        literals |= interest.literals
        own = tuple((frozenset({literal}),) for literal in interest.literals) if interest.requirements is None \
            else interest.requirements
        requirements.update(own)
        scoped.update(interest.scoped if interest.scoped is not None else anywhere(own))
    if not literals:
        return PrefilterSpec("nothing")
    if not columns or not any(term.fields is not None or term.exclude for req in scoped for term in req):
        scoped.clear()  # nothing scoped to a field: no column gate
    return PrefilterSpec("literals", tuple(sorted(literals)), tuple(sorted(requirements, key=_requirement_key)),
                         tuple(sorted(scoped, key=requirement_key)))


def _record_gate(interests: list[Interest]) -> RecordGate | None:
    """A gate for event records when every interested detector can judge a record before it is decoded."""
    if not interests:
        return RecordGate([])  # nobody wants the records: count them, decode none
    if any(i.record_gate is None for i in interests):
        return None
    return RecordGate([i.record_gate for i in interests if i.record_gate is not None], _record_filter(interests))


def _record_filter(interests: list[Interest]) -> Callable[[Record], bool] | None:
    """For records parsed in workers (text logs, EVTX ranges): whether a record may be of use to one of the
    interested detectors, when each says so (``Interest.record_filter``); None: every record that passes the
    literal gate."""
    filters = [i.record_filter for i in interests]
    if not filters or any(f is None for f in filters):
        return None
    chosen = [f for f in filters if f is not None]
    if len(chosen) == 1:
        return chosen[0]

    def keep(record: Record) -> bool:
        return any(f(record) for f in chosen)
    return keep


def usual_prefilters(content: ContentBundle, options: dict[str, Any]) -> list[PrefilterSpec]:
    """The prefilters the logs of a host holding no file that a detector picks out ask for (most hosts: the
    detectors that look at a host's files ask for the log lines naming the files they found), one per kind
    of log that is read through literals; EVTX is gated per route instead. Worked out on a host with no
    files: nothing of any evidence is read. A process that starts workers can build their databases once
    and hand them over (``fleet/dask.py``); a host that asks for others builds those itself."""
    return list(dict.fromkeys(spec for _, _, spec in _usual(content, options)))


def usual_scans(content: ContentBundle, options: dict[str, Any]) -> list[Prefilter]:
    """The usual prefilters built, and fitted to the layouts most logs of their kind have (``usual_heads``:
    IIS logs' default fields, whose scan is placed in its columns), as a host's parser fits them to a file:
    what a process that starts workers builds once to hand over."""
    scans: list[Prefilter] = []
    for parser, kind, spec in _usual(content, options):
        built = spec.build()
        if built is None:
            continue
        scans.append(built)
        scans.extend(parser.scan_for(built, head) for head in parser.usual_heads.get(kind, ()))
    return list(dict.fromkeys(scans))


def _usual(content: ContentBundle, options: dict[str, Any]) -> Iterator[tuple[Parser, ArtifactKind, PrefilterSpec]]:
    """Each text-log parser and kind with the literal prefilter a host without files asks for."""
    ctx = HostContext(host="", tree=_NoFiles(), artifacts=[], coverage=HostCoverage(), options=options)
    detectors = create_detectors(content, options)
    for detector in detectors:
        detector.start(ctx)
    for parser in all_parsers():
        if isinstance(parser, EvtxParser):
            continue
        for kind in sorted(parser.kinds, key=lambda k: k.value):
            spec = _prefilter_spec([i for d in detectors if (i := d.interest(kind)) is not None], parser.columns)
            if spec.mode == "literals":
                yield parser, kind, spec


class _NoFiles(HostTree):
    """A host without a single file (``usual_prefilters``)."""

    def __init__(self) -> None:
        super().__init__("", "")

    def walk(self) -> Iterator[FileEntry]:
        return iter(())

    def open(self, path: str) -> BinaryIO:
        raise FileNotFoundError(path)


def _requirement_key(requirement: Sequence[frozenset[str]]) -> list[list[str]]:
    return [sorted(group) for group in requirement]


def _account(coverage: SourceCoverage, report: ParseReport, artifact: Artifact, partial: set[str]) -> None:
    if report.partial:
        partial.add(coverage.source)
    coverage.files += 1
    coverage.bytes += artifact.size
    coverage.records += report.records
    if report.failed or report.not_understood:
        coverage.files_failed += 1
    for stamp in (report.first_time, report.last_time):
        if stamp:
            coverage.first_time = min(coverage.first_time or stamp, stamp)
            coverage.last_time = max(coverage.last_time or stamp, stamp)


def _hashes_filled(finding: Finding, known: set[str], ctx: HostContext) -> Finding:
    """Every reference to an evidence file carries the file's SHA-256, whichever detector made it."""
    if all(ref.sha256 or ref.path not in known for ref in finding.evidence):
        return finding
    evidence = tuple(ref if ref.sha256 or ref.path not in known else replace(ref, sha256=ctx.sha256(ref.path))
                     for ref in finding.evidence)
    return replace(finding, evidence=evidence)


def _detector_failed(coverage: HostCoverage, detector: Detector, exc: Exception, path: str) -> None:
    coverage.warn(InputWarning(path=path, code="internal-error", message=(
        f"the {type(detector).__name__} stopped on an internal error and gave no findings for this host: "
        f"{type(exc).__name__}: {exc}")))
    coverage.notes.append(f"{type(detector).__name__} failed: its detections were not checked on this host.")


def _status(coverage: SourceCoverage, partial: set[str]) -> SourceStatus:
    if coverage.files == 0:
        return SourceStatus.MISSING
    if coverage.files_failed == coverage.files:
        return SourceStatus.UNREADABLE
    if coverage.files_failed or coverage.source in partial:
        return SourceStatus.PARTIAL
    return SourceStatus.READ


ContentSource = ContentBundle | Callable[[], ContentBundle]  # compiled content, or how to get it


def could_not_assess(host: str, origin: str, message: str, code: str = "host-failed") -> HostResult:
    """The result for a host whose assessment failed as a whole: said in the verdict and in coverage, so a
    fleet goes on and the failure is never read as clean."""
    coverage = HostCoverage()
    coverage.warn(InputWarning(path=origin, code=code, message=message))
    coverage.notes.append(f"This host could not be assessed ({message}): nothing about it is known.")
    return HostResult(host=host, evidence=origin, verdict=Verdict.COULD_NOT_ASSESS,
                      verdict_reasons=[f"The assessment of this host failed: {message}"], coverage=coverage)


def assess_host(tree: HostTree, content: ContentSource, options: dict[str, Any] | None = None,
                progress: Progress | None = None) -> HostResult:
    """Assess one host. ``content`` may be given as a function that compiles it (called once the host is
    classified). A cited log is hashed in the pass that parses it."""
    options = dict(options or {})
    layout = classify(tree, options.get("exchange_path"))
    pool = ParsePool(int(options.get("parse_workers", 1)), tree)
    try:
        if not isinstance(content, ContentBundle):
            content = content()
        return _assess(tree, layout, content, options, progress, pool)
    finally:
        pool.close()


def _assess(tree: HostTree, layout: Layout, content: ContentBundle, options: dict[str, Any],
            progress: Progress | None, pool: ParsePool) -> HostResult:
    use_folder(content.spec.cache_dir)  # the text prefilters' Hyperscan databases kept with the content
    coverage = HostCoverage()
    coverage.warnings.extend(tree.warnings)
    if len(layout.exchange_roots) > 1:
        coverage.warn(InputWarning(path=layout.exchange_roots[1], code="several-installs", message=(
            f"several Exchange install folders found; using {layout.exchange_root}")))
    ctx = HostContext(host=tree.name, tree=tree, artifacts=layout.artifacts, coverage=coverage,
                      digests=Digests(layout.artifacts.listing),
                      options=options, exchange_root=layout.exchange_root)
    detectors = create_detectors(content, options)
    for detector in detectors:
        detector.start(ctx)

    parsers = {kind: parser for parser in all_parsers() for kind in parser.kinds}
    plan: list[tuple[Artifact, Parser, list[Detector], PrefilterSpec, RecordGate | None]] = []
    per_kind: dict[ArtifactKind, tuple[list[Detector], PrefilterSpec, RecordGate | None]] = {}
    keep: dict[ArtifactKind, Callable[[Record], bool]] = {}  # text logs: which parsed records may be of use
    for artifact in layout.artifacts.of_kinds(parsers):  # the kinds without a parser are not made
        parser = parsers[artifact.kind]
        wanted = per_kind.get(artifact.kind)
        if wanted is None:  # interests depend on the kind only: asked once per kind, not per file
            interested: list[tuple[Detector, Interest]] = []
            for detector in detectors:
                interest = detector.interest(artifact.kind)
                if interest is not None:
                    interested.append((detector, interest))
            interests = [i for _, i in interested]
            wanted = per_kind[artifact.kind] = ([d for d, _ in interested],
                                                _prefilter_spec(interests, parser.columns),
                                                _record_gate(interests))
            found = _record_filter(interests) if parser.parallel and not isinstance(parser, EvtxParser) else None
            if found is not None:
                keep[artifact.kind] = found
        plan.append((artifact, parser, *wanted))

    evtx = [(artifact, parser, gate) for artifact, parser, _, _, gate in plan if isinstance(parser, EvtxParser)]
    ranges = RangePool(pool.workers, tree, evtx[0][1], evtx[0][2], [a for a, _, _ in evtx]) if evtx else None
    try:
        return _run(tree, layout, plan, detectors, ctx, coverage, progress, pool, ranges, keep)
    finally:
        if ranges is not None:
            ranges.close()


def _run(tree: HostTree, layout: Layout, plan: list[tuple[Artifact, Parser, list[Detector], PrefilterSpec,
                                                           RecordGate | None]],
         detectors: list[Detector], ctx: HostContext, coverage: HostCoverage, progress: Progress | None,
         pool: ParsePool, ranges: RangePool | None, keep: dict[ArtifactKind, Callable[[Record], bool]]
         ) -> HostResult:
    options = ctx.options
    observations: list[BuildObservation] = []
    partial: set[str] = set()  # sources with a file read only in part
    # a log every line of which a detector reads goes to the workers only when they keep back the records no
    # detector uses (else each record would cross back): e.g. a user's Sigma rule with no literal to scan for
    parallel = [(position, parser, artifact, spec) for position, (artifact, parser, _, spec, _) in enumerate(plan)
                if parser.parallel and (spec.mode != "all" or (pool.filters and artifact.kind in keep))]
    pool.plan(parallel, keep)
    for position, (artifact, parser, wanting, spec, gate) in enumerate(plan):
        try:
            done = pool.take(position)
        except Exception:  # a worker's fault: the file is parsed again here, where it is contained
            done = None
        if done is not None and done[0] is not None:
            records: Iterable[Record] = done[0]
            report = done[1]
        elif ranges is not None and artifact.path in ranges.paths:
            report = ParseReport(path=artifact.path)
            records = ranges.records(artifact, report)
        else:
            report = ParseReport(path=artifact.path)
            records = parse_all(parser, tree, artifact, report, spec, gate)
        try:
            for record in records:
                record.timestamp = canonical(record.timestamp)
                for detector in wanting:
                    detector.on_record(record, ctx)
        except Exception as exc:  # one file's fault costs that file, never the host
            report.failed = report.records == 0
            report.partial = True
            report.warn(f"reading stopped by an internal error; the rest of this file was not read: "
                        f"{type(exc).__name__}: {exc}", code="internal-error")
        if report.sha256:
            ctx.digests.put(artifact.path, {"sha256": report.sha256})
        report.bytes_read = artifact.size
        report.first_time, report.last_time = canonical(report.first_time), canonical(report.last_time)
        _account(coverage.source(artifact.kind.value), report, artifact, partial)
        coverage.warnings.extend(report.warnings)
        if report.warnings_dropped:
            coverage.warn(InputWarning(path=artifact.path, code="more-warnings", message=(
                f"{report.warnings_dropped} further warnings in this file not listed")))
        observations.extend(build_observations(artifact, report))
        if progress is not None:
            progress(artifact.path, artifact.size)

    failed: set[int] = set()  # detectors stopped by an internal error: the others go on
    for artifact in layout.artifacts:
        for number, detector in enumerate(detectors):
            if number not in failed:
                try:
                    detector.on_file(artifact, ctx)
                except Exception as exc:  # contained, reported in coverage
                    failed.add(number)
                    _detector_failed(coverage, detector, exc, artifact.path)
    findings: list[Finding] = []
    for number, detector in enumerate(detectors):
        if number not in failed:
            try:
                findings.extend(detector.finish(ctx))
            except Exception as exc:  # contained, reported in coverage
                _detector_failed(coverage, detector, exc, tree.origin)
    unhashed = {ref.path for finding in findings for ref in finding.evidence if not ref.sha256}
    known = {path for path in layout.artifacts.paths() if path in unhashed} if unhashed else set()
    findings = [_hashes_filled(finding, known, ctx) for finding in findings]
    findings = true_times(findings, layout.artifacts, ctx.file_times, coverage)

    for source in coverage.sources.values():
        source.status = _status(source, partial)
    observations.extend(exsetup_observations(tree, layout.artifacts, layout.exchange_root, coverage))
    exposure = host_exposure(observations, options.get("build"), config_checks(tree, layout.artifacts, coverage))
    findings = grade_by_exposure(findings, observations)
    summarise_coverage(ctx, layout.exchange_root)
    return conclude(tree.name, tree.origin, findings, coverage, exposure)
