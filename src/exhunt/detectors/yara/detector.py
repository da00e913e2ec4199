"""The per-host YARA-X detector: sweep the files a webshell can hide in, then tie hits to web requests.

The sweep runs in ``start()`` (before the logs are read), so the names of the files that matched can
be asked of the web logs through ``interest()``: a request for the same file name in IIS or HttpProxy
logs turns the finding from SUSPICIOUS into CONFIRMED, with the requests cited. ``on_file()`` scans
any artifact ``start()`` did not see.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from exhunt.detectors.base import Detector, HostContext, Interest, SeenAtStart
from exhunt.detectors.yara.compiled import compiled_maps, source_page
from exhunt.detectors.yara.compiler import CompiledRules
from exhunt.detectors.yara.findings import RequestSeen, build_finding
from exhunt.detectors.yara.parallel import picklable, scan_files, scan_one, thread_scanner
from exhunt.detectors.yara.scanner import DEFAULT_WINDOW, FileScanner, Hit, ScanResult
from exhunt.detectors.yara.sweep import FileHashes, hash_file, select
from exhunt.detectors.yara.vdirs import virtual_roots
from exhunt.model.coverage import InputWarning, SourceStatus
from exhunt.model.event import Record
from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.model.finding import Finding, clip

DEFAULT_MAX_BYTES = 16 << 30  # 16 GiB: files above are listed as skipped (code skipped-size); 0 = no limit
DEFAULT_TIMEOUT = 60
MAX_REQUESTS_KEPT = 20
COVERAGE_SOURCE = "yara_sweep"
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
        self._sweep([a for a in ctx.artifacts if a.kind == ArtifactKind.FILE], ctx)

    def on_file(self, artifact: Artifact, ctx: HostContext) -> None:
        if self.compiled is not None and self._seen.first_time(artifact, ctx) and artifact.kind == ArtifactKind.FILE:
            self._sweep([artifact], ctx)

    def _sweep(self, artifacts: list[Artifact], ctx: HostContext) -> None:
        if self.compiled is None:
            return
        chosen: list[tuple[Artifact, str]] = []
        failed = 0
        for artifact in artifacts:
            try:
                selected, location = select(artifact.path, ctx.tree, self._web_roots)
            except OSError as exc:
                self._warn(ctx, artifact.path, f"cannot read: {exc}", "unreadable")
                failed += 1
                continue
            if not selected:
                continue
            if self.max_bytes and artifact.size > self.max_bytes:
                self._warn(ctx, artifact.path, f"not scanned by YARA: {artifact.size} bytes is over "
                           f"yara_max_bytes={self.max_bytes}", "skipped-size")
                failed += 1
                continue
            chosen.append((artifact, location))
        if not chosen and not failed:
            return  # nothing to sweep on this host: no coverage line (absence is not a gap of this engine)
        cover = ctx.coverage.source(COVERAGE_SOURCE)  # files: every file chosen, read or not
        cover.files += failed
        cover.files_failed += failed
        for (artifact, location), result in zip(chosen, self._scan_all(chosen, ctx), strict=True):
            cover.files += 1
            cover.bytes += artifact.size
            self._windowed += result.windows > 1
            if result.hashes is not None:
                ctx.digests.put(artifact.path, result.hashes.as_dict())
            if result.code:
                self._warn(ctx, artifact.path, result.error, result.code)
                cover.files_failed += 1
            if result.hits:
                self._record(artifact, location, result, ctx)
        self._scanner = None  # the thread keeps it (``thread_scanner``)
        cover.status = SourceStatus.PARTIAL if cover.files_failed else SourceStatus.READ

    def _scan_all(self, chosen: list[tuple[Artifact, str]], ctx: HostContext) -> Iterator[ScanResult]:
        assert self.compiled is not None
        jobs = [(artifact.path, artifact.size) for artifact, _ in chosen]
        tree_blob = picklable(ctx.tree) if self.workers > 1 and len(chosen) > 1 else None
        if tree_blob is not None:
            yield from scan_files(self.compiled.data, tree_blob, jobs, self.workers, self.timeout, self.window,
                                  self.hash_all)
            return
        if self._scanner is None:
            self._scanner = thread_scanner(self.compiled.data, self.timeout, self.window, self.hash_all)
        for path, size in jobs:
            yield scan_one(self._scanner, ctx.tree, path, size)

    def _record(self, artifact: Artifact, location: str, result: ScanResult, ctx: HostContext) -> None:
        hashes = result.hashes
        if hashes is None:
            try:
                hashes = hash_file(ctx.tree, artifact.path)
            except OSError as exc:
                self._warn(ctx, artifact.path, f"cannot hash: {exc}", "unreadable")
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

    @staticmethod
    def _warn(ctx: HostContext, path: str, message: str, code: str) -> None:
        ctx.coverage.warn(InputWarning(path=path, message=message, code=code))

    # -- join with web requests ---------------------------------------------------------------
    def interest(self, kind: ArtifactKind) -> Interest | None:
        if kind in WEB_KINDS and self._by_name:
            return Interest(literals=frozenset(self._by_name))
        return None

    def on_record(self, record: Record, ctx: HostContext) -> None:
        stem = ""
        for name in STEM_FIELDS:
            value = record.get(name)
            if isinstance(value, str) and value:
                stem = value
                break
        if not stem:
            return
        targets = self._by_name.get(stem.rstrip("/").rsplit("/", 1)[-1].lower())
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
