"""One YARA-X scanner over compiled rules, scanning whole files or large files in windows.

yara-x scans bytes held in memory. Files up to ``window`` bytes (default 64 MiB) are read and scanned
whole. Larger files are never skipped: they are read and scanned in windows of ``window`` bytes
overlapping by ``overlap`` bytes (default 1 MiB), so memory stays bounded whatever the file's size.
Each later window is scanned with the file's first 4 KiB put in front of it, so header checks
(``uint32(0) == ...``, the ``filetype``) hold in every window; matches inside that copied head are not
reported again. What windows cannot give: a rule whose strings lie further apart than one window, or
whose condition uses ``filesize`` or absolute offsets past the first window, is judged per window.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, BinaryIO

import yara_x

from exhunt.detectors.yara.sweep import HEAD_BYTES, FileFacts, FileHashes, Hasher, facts_for

DEFAULT_WINDOW = 64 << 20
DEFAULT_OVERLAP = 1 << 20
EXCERPT_CONTEXT = 32
EXCERPT_MATCH_MAX = 256


@dataclass(frozen=True, slots=True)
class Hit:
    namespace: str
    rule: str
    meta: tuple[tuple[str, str], ...]
    tags: tuple[str, ...]
    pattern: str  # the pattern cited: the longest first match ('' for condition-only rules)
    offset: int  # file offset of that match
    length: int
    excerpt: str  # printable-escaped bytes around the match

    @property
    def key(self) -> str:
        return f"{self.namespace}:{self.rule}"

    def meta_value(self, name: str, default: str = "") -> str:
        for key, value in self.meta:
            if key == name:
                return value
        return default


@dataclass(slots=True)
class ScanResult:
    hits: list[Hit] = field(default_factory=list)
    error: str = ""
    code: str = ""  # scan-timeout, scan-error
    windows: int = 1
    hashes: FileHashes | None = None  # filled for files that matched (where the file was read)


def escape_bytes(data: bytes) -> str:
    """Printable ASCII kept (backslash doubled), every other byte as \\xNN: safe to show anywhere."""
    out: list[str] = []
    for byte in data:
        if byte == 0x5C:
            out.append("\\\\")
        elif 0x20 <= byte < 0x7F:
            out.append(chr(byte))
        else:
            out.append(f"\\x{byte:02x}")
    return "".join(out)


def excerpt_of(data: bytes | memoryview, offset: int, length: int) -> str:
    start = max(0, offset - EXCERPT_CONTEXT)
    end = offset + min(length, EXCERPT_MATCH_MAX) + EXCERPT_CONTEXT
    text = escape_bytes(bytes(data[start:end]))
    return text if length <= EXCERPT_MATCH_MAX else text + f"…[match {length} bytes]"


@lru_cache(maxsize=4)
def _rules(data: bytes) -> Any:
    import io

    return yara_x.Rules.deserialize_from(io.BytesIO(data))


class FileScanner:
    """One scanner per process (or per host). Not thread-safe; not picklable: build it where it runs."""

    def __init__(self, rules_data: bytes, timeout: int = 60, window: int = DEFAULT_WINDOW,
                 overlap: int = DEFAULT_OVERLAP, hash_all: bool = False) -> None:
        self.hash_all = hash_all  # MD5/SHA-1/SHA-256 of every file scanned, from the bytes read for the scan
        self.scanner = yara_x.Scanner(_rules(rules_data))
        self.scanner.set_timeout(max(1, int(timeout)))
        self._globals: dict[str, str] = {}  # the external variables as last set
        self.window = max(window, 2 * HEAD_BYTES)
        self.overlap = min(max(overlap, 0), self.window // 2)

    def _set(self, facts: FileFacts) -> None:
        """Set the external variables that differ from the previous file's (a call per variable per file
        adds up over a sweep of tens of thousands of files)."""
        for name, value in facts.externals().items():
            if self._globals.get(name) != value:
                self.scanner.set_global(name, value)
                self._globals[name] = value

    def _hits(self, results: Any, excerpt: Callable[[int, int], str], shift: int = 0,
              skip_below: int = 0) -> list[Hit]:
        """Hits of one scan. ``skip_below``: matches before this offset lie in the copied head."""
        hits: list[Hit] = []
        for rule in results.matching_rules:
            pattern, offset, length = "", -1, 0
            for pat in rule.patterns:
                for match in pat.matches:
                    if match.offset < skip_below:
                        continue
                    # cite the longest first match: the most specific pattern, not the page marker
                    if offset < 0 or (match.length, -match.offset) > (length, -offset):
                        pattern, offset, length = pat.identifier, match.offset, match.length
                    break
            if offset < 0:
                if skip_below:
                    continue  # nothing of its own in this window: the first window judged it
                offset = 0
            meta = tuple((str(k), str(v)) for k, v in rule.metadata)
            hits.append(Hit(rule.namespace, rule.identifier, meta, tuple(rule.tags), pattern,
                            offset - skip_below + shift, length, excerpt(offset, length)))
        return hits

    def scan_bytes(self, data: bytes, facts: FileFacts) -> ScanResult:
        self._set(facts)
        return self._guarded(lambda: self._hits(self.scanner.scan(data), _excerpter(data)))

    def scan_handle(self, handle: BinaryIO, path: str, size: int | None = None) -> ScanResult:
        """Scan an open file whose host-relative path is ``path``: whole when it fits one window, else in
        windows. The external variables come from the path and the first bytes. ``size`` (as listed) only
        sizes the first read: asking for a whole window costs a window-sized allocation per file."""
        want = self.window if size is None else min(self.window, size + 1)
        first = handle.read(want)
        if len(first) == want < self.window:  # bigger than listed: read on up to one window
            first += handle.read(self.window - want)
        facts = facts_for(path, first[:HEAD_BYTES])
        hasher = Hasher() if self.hash_all else None
        if len(first) < self.window:
            result = self.scan_bytes(first, facts)
            if hasher is not None:
                hasher.update(first)
        else:
            result = self.scan_stream(handle, facts, first, hasher)
        if hasher is not None and not result.code:
            result.hashes = hasher.hashes()
        return result

    def scan_stream(self, handle: BinaryIO, facts: FileFacts, first: bytes | None = None,
                    hasher: Hasher | None = None) -> ScanResult:
        """Scan a file of any size from a stream, in bounded windows (``first``: the first window, if read;
        ``hasher``: fed every byte once; it is complete only when the result has no error code)."""
        self._set(facts)
        if first is None:
            first = handle.read(self.window)
        if hasher is not None:
            hasher.update(first)
        result = self._scan_window(first, 0, 0)
        if len(first) < self.window or result.code:
            return result
        seen = {hit.key for hit in result.hits}
        prefix = first[:HEAD_BYTES]
        carry = first[-self.overlap:] if self.overlap else b""
        position = len(first)  # file offset just past what was read
        first = b""
        while chunk := handle.read(self.window - self.overlap):
            if hasher is not None:
                hasher.update(chunk)
            data = prefix + carry + chunk
            shift = position - len(carry)
            part = self._scan_window(data, shift, len(prefix))
            result.windows += 1
            if part.code:
                result.error, result.code = part.error, part.code
                break
            for hit in part.hits:
                if hit.key not in seen:
                    seen.add(hit.key)
                    result.hits.append(hit)
            position += len(chunk)
            carry = data[-self.overlap:] if self.overlap else b""
        return result

    def _scan_window(self, data: bytes, shift: int, skip_below: int) -> ScanResult:
        return self._guarded(lambda: self._hits(self.scanner.scan(data), _excerpter(data), shift, skip_below))

    @staticmethod
    def _guarded(run: Callable[[], list[Hit]]) -> ScanResult:
        try:
            return ScanResult(hits=run())
        except yara_x.TimeoutError:
            return ScanResult(error="scan timed out", code="scan-timeout")
        except yara_x.ScanError as exc:
            return ScanResult(error=f"scan failed: {exc}", code="scan-error")


def _excerpter(data: bytes) -> Callable[[int, int], str]:
    return lambda offset, length: excerpt_of(data, offset, length)
