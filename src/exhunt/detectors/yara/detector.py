"""The per-host YARA-X detector: sweep the files a webshell can hide in, then tie hits to web requests.

The sweep runs in ``start()`` (before the logs are read), so the names of the files that matched can
be asked of the web logs through ``interest()``: a request for the same file name in IIS or HttpProxy
logs turns the finding from SUSPICIOUS into CONFIRMED, with the requests cited. ``on_file()`` scans
any artifact ``start()`` did not see.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from exhunt.detectors.base import Detector, HostContext, Interest, SeenAtStart
from exhunt.detectors.yara.compiled import compiled_maps, source_page
from exhunt.detectors.yara.compiler import CompiledRules
from exhunt.detectors.yara.findings import RequestSeen, build_finding
from exhunt.detectors.yara.parallel import ScanPool, picklable, scan_one, thread_scanner
from exhunt.detectors.yara.scanner import DEFAULT_WINDOW, FileScanner, Hit, ScanResult
from exhunt.detectors.yara.sweep import FileHashes, hash_file, select
from exhunt.detectors.yara.vdirs import virtual_roots
from exhunt.model.coverage import InputWarning, SourceStatus
from exhunt.model.event import Record
from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.model.finding import Finding, clip
from exhunt.parsers.columns import Term
from exhunt.sources.listing import of_kinds

DEFAULT_MAX_BYTES = 16 << 30  # 16 GiB: files above are listed as skipped (code skipped-size); 0 = no limit
DEFAULT_TIMEOUT = 60
MAX_REQUESTS_KEPT = 20
COVERAGE_SOURCE = "yara_sweep"
SWEEP_BATCH = 2048  # files selected, then scanned, at a time: bounds what the sweep holds
WEB_KINDS = (ArtifactKind.IIS, ArtifactKind.HTTPPROXY)
STEM_FIELDS = ("cs-uri-stem", "UrlStem")


@dataclass(slots=True)
class FileHit:
    artifact: Artifact
    location: str
    hashes: FileHashes | None
    hits: list[Hit]
    requests: list[RequestSeen] = field(default_factory=list)
    request_total: int = 0
    source_page: str | None = None  # for compiled pages: the virtual path of the page they came from


class YaraDetector(Detector):
    name = "yara"

    def __init__(self, compiled: CompiledRules | None, options: dict[str, Any]) -> None:
        self.compiled = compiled
        self.max_bytes = int(options.get("yara_max_bytes", DEFAULT_MAX_BYTES) or 0)
        self.timeout = int(options.get("yara_timeout", DEFAULT_TIMEOUT))
        self.window = int(options.get("yara_window_bytes", DEFAULT_WINDOW))
        self.workers = int(options.get("yara_workers", 1))
        # hash every swept file while it is read for the scan (shared through ctx.digests, e.g. with the
        # IOC detector's hash indicators); otherwise only the files that matched are hashed
        self.hash_all = bool(options.get("yara_hash_all", False))
        self._scanner: FileScanner | None = None
        self._seen = SeenAtStart()  # artifacts swept (in start or on_file)
        self._found: dict[str, FileHit] = {}  # path -> hits
        self._by_name: dict[str, list[FileHit]] = {}  # lowercase file name -> hits
        self._windowed = 0  # files larger than one window, scanned in overlapping windows
        self._compiled_maps: dict[str, list[str]] | None = None  # per host, built at the first hit
        self._web_roots: tuple[str, ...] = ()  # site and virtual directory folders from applicationHost.config

    # -- sweep -------------------------------------------------------------------------------
    def start(self, ctx: HostContext) -> None:
        if self.compiled is None:
            return
        self._web_roots, problems = virtual_roots(ctx.tree, ctx.artifacts)
        for problem in problems:
            ctx.coverage.warn(problem)
        self._seen.started(ctx)
        self._sweep(of_kinds(ctx.artifacts, (ArtifactKind.FILE,)), ctx)

    def on_file(self, artifact: Artifact, ctx: HostContext) -> None:
        if self.compiled is not None and self._seen.first_time(artifact, ctx) and artifact.kind == ArtifactKind.FILE:
            self._sweep([artifact], ctx)

    def _sweep(self, artifacts: Iterable[Artifact], ctx: HostContext) -> None:
        """Select and scan ``artifacts`` in batches of ``SWEEP_BATCH`` files, through one process pool for
        the whole sweep: what is held grows with the batch, not with the host. Coverage reads as if every
        file had been selected first: the selection's warnings, then the scan's, each in file order."""
        if self.compiled is None:
            return
        selection: list[InputWarning] = []  # problems met selecting (unreadable head, too large)
        scanning: list[InputWarning] = []  # problems met scanning; both are coverage lines kept anyway
        counts = [0, 0, 0]  # files chosen or failed, bytes scanned, files failed
        pool: ScanPool | None = None
        try:
            pending: tuple[list[tuple[Artifact, str]], Iterator[ScanResult]] | None = None
            for batch, last in self._batches(artifacts, ctx, selection, counts):
                if pool is None and pending is None and not (last and len(batch) <= 1):
                    pool = self._pool(ctx)
                results = pool.submit([(a.path, a.size) for a, _ in batch]) if pool else self._scan_here(batch, ctx)
                if pending is not None:  # the previous batch's results, read while this one is scanned
                    self._take(*pending, ctx, scanning, counts)
                pending = (batch, results)
            if pending is not None:
                self._take(*pending, ctx, scanning, counts)
        finally:
            if pool is not None:
                pool.close()
        self._scanner = None  # the thread keeps it (``thread_scanner``)
        if not counts[0]:
            return  # nothing to sweep on this host: no coverage line (absence is not a gap of this engine)
        ctx.coverage.warnings.extend(selection)
        ctx.coverage.warnings.extend(scanning)
        cover = ctx.coverage.source(COVERAGE_SOURCE)  # files: every file chosen, read or not
        cover.files += counts[0]
        cover.bytes += counts[1]
        cover.files_failed += counts[2]
        cover.status = SourceStatus.PARTIAL if cover.files_failed else SourceStatus.READ

    def _batches(self, artifacts: Iterable[Artifact], ctx: HostContext, warnings: list[InputWarning],
                 counts: list[int]) -> Iterator[tuple[list[tuple[Artifact, str]], bool]]:
        """The files to scan, ``SWEEP_BATCH`` at a time, each batch with whether it is the last."""
        batch: list[tuple[Artifact, str]] = []
        for artifact in artifacts:
            try:
                selected, location = select(artifact.path, ctx.tree, self._web_roots)
            except OSError as exc:
                warnings.append(InputWarning(path=artifact.path, message=f"cannot read: {exc}", code="unreadable"))
                counts[0] += 1
                counts[2] += 1
                continue
            if not selected:
                continue
            if self.max_bytes and artifact.size > self.max_bytes:
                warnings.append(InputWarning(path=artifact.path, code="skipped-size", message=(
                    f"not scanned by YARA: {artifact.size} bytes is over yara_max_bytes={self.max_bytes}")))
                counts[0] += 1
                counts[2] += 1
                continue
            if len(batch) == SWEEP_BATCH:
                yield batch, False
                batch = []
            batch.append((artifact, location))
        if batch:
            yield batch, True

    def _pool(self, ctx: HostContext) -> ScanPool | None:
        assert self.compiled is not None
        tree_blob = picklable(ctx.tree) if self.workers > 1 else None
        if tree_blob is None:
            return None
        return ScanPool(self.compiled.data, tree_blob, self.workers, self.timeout, self.window, self.hash_all)

    def _scan_here(self, batch: list[tuple[Artifact, str]], ctx: HostContext) -> Iterator[ScanResult]:
        assert self.compiled is not None
        if self._scanner is None:
            self._scanner = thread_scanner(self.compiled.data, self.timeout, self.window, self.hash_all)
        scanner = self._scanner
        return (scan_one(scanner, ctx.tree, artifact.path, artifact.size) for artifact, _ in batch)

    def _take(self, batch: list[tuple[Artifact, str]], results: Iterator[ScanResult], ctx: HostContext,
              warnings: list[InputWarning], counts: list[int]) -> None:
        for (artifact, location), result in zip(batch, results, strict=True):
            counts[0] += 1
            counts[1] += artifact.size
            self._windowed += result.windows > 1
            if result.hashes is not None:
                ctx.digests.put(artifact.path, result.hashes.as_dict())
            if result.code:
                warnings.append(InputWarning(path=artifact.path, message=result.error, code=result.code))
                counts[2] += 1
            if result.hits:
                self._record(artifact, location, result, ctx, warnings)

    def _record(self, artifact: Artifact, location: str, result: ScanResult, ctx: HostContext,
                warnings: list[InputWarning]) -> None:
        hashes = result.hashes
        if hashes is None:
            try:
                hashes = hash_file(ctx.tree, artifact.path)
            except OSError as exc:
                warnings.append(InputWarning(path=artifact.path, message=f"cannot hash: {exc}", code="unreadable"))
        found = FileHit(artifact, location, hashes, sorted(result.hits, key=lambda h: h.key),
                        source_page=source_page(ctx.tree, self._maps(ctx), artifact.path))
        self._found[artifact.path] = found
        names = {artifact.path.rsplit("/", 1)[-1].lower()}
        if found.source_page:  # a request for the page confirms its compiled trace too
            names.add(found.source_page.rstrip("/").rsplit("/", 1)[-1].lower())
        for name in sorted(names):
            self._by_name.setdefault(name, []).append(found)

    def _maps(self, ctx: HostContext) -> dict[str, list[str]]:
        if self._compiled_maps is None:
            self._compiled_maps = compiled_maps(ctx.artifacts)
        return self._compiled_maps

    # -- join with web requests ---------------------------------------------------------------
    def interest(self, kind: ArtifactKind) -> Interest | None:
        if kind in WEB_KINDS and self._by_name:
            names = frozenset(self._by_name)
            stems = frozenset(name.lower() for name in STEM_FIELDS)  # the name is in the stem
            return Interest(literals=names, record_filter=self.may_use, scoped=((Term(stems, names),),))
        return None

    def may_use(self, record: Record) -> bool:
        """Whether ``on_record`` keeps this request (stateless while logs are read: a parse worker asks it)."""
        return self._requested(record)[1] is not None

    def _requested(self, record: Record) -> tuple[str, list[FileHit] | None]:
        """(the request's stem, the files found that it names, or None)."""
        stem = ""
        for name in STEM_FIELDS:
            value = record.get(name)
            if isinstance(value, str) and value:
                stem = value
                break
        if not stem:
            return stem, None
        return stem, self._by_name.get(stem.rstrip("/").rsplit("/", 1)[-1].lower()) or None

    def on_record(self, record: Record, ctx: HostContext) -> None:
        stem, targets = self._requested(record)
        if not targets:
            return
        seen = RequestSeen.from_record(record, stem, clip(record.raw))
        for target in targets:
            target.request_total += 1
            if len(target.requests) < MAX_REQUESTS_KEPT:
                target.requests.append(seen)

    # -- findings -------------------------------------------------------------------------------
    def finish(self, ctx: HostContext) -> list[Finding]:
        shipped = self.compiled.shipped_namespaces if self.compiled else frozenset()
        if self._windowed:
            ctx.coverage.notes.append(
                f"YARA: {self._windowed} file(s) larger than {self.window} bytes were scanned whole in overlapping "
                "windows (memory stays bounded); a rule whose strings lie further apart than one window, or that "
                "tests filesize, is judged window by window for those files.")
        findings = []
        for path in sorted(self._found):
            found = self._found[path]
            for hit in found.hits:
                findings.append(build_finding(ctx.host, found.artifact, found.location, found.hashes, hit,
                                              hit.namespace in shipped, found.requests, found.request_total,
                                              found.source_page))
        return sorted(findings, key=lambda f: (f.sort_key(), f.rule_id))
