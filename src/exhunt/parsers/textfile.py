"""What a text-log parser needs besides its lines: the head check, UTF-8 decoding, header directives."""

from __future__ import annotations

import codecs
import io
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, BinaryIO, cast

from exhunt.parsers.base import ParseReport
from exhunt.sources.base import HostTree

if TYPE_CHECKING:
    from exhunt.parsers.textblocks import TextLine

BOM = b"\xef\xbb\xbf"
HEAD_SIZE = 64 << 10  # bytes looked at to decide whether a file is what its name says
_BLANK = (b"", b" ", b"\t", b"\n", b"\r", b"\x0b", b"\x0c", b"\x00")  # a first byte that may start an empty head


class TextHead(bytes):
    """A file's head as UTF-8 bytes, knowing whether the file itself is UTF-16."""

    utf16: bool = False


def check_head(read_head: Callable[[], bytes], report: ParseReport, marker: bytes | None = None) -> bytes | None:
    """The head of a file, or None when it cannot be read, is empty or is binary (reported).

    ``marker``: a lowercase string that, found in the head, makes the file's format clear (``#fields:``):
    NUL bytes then do not make the file binary; each line is judged on its own (``NulLines``). A UTF-16
    head (with its BOM) comes back transcoded to UTF-8 (``open_text`` reads the file the same way)."""
    try:
        head = read_head()
    except OSError as exc:
        report.unreadable(exc)
        return None
    utf16 = head.startswith((b"\xff\xfe", b"\xfe\xff"))
    if utf16:
        head = _utf16_head(head)
        report.warn("UTF-16 text: read transcoded to UTF-8 (line numbers exact; byte offsets count UTF-8 "
                    "bytes of the text)", code="utf-16", line=1, offset=0)
    if b"\x00" in head and (marker is None or marker not in head.replace(b"\x00", b"").lower()):
        report.not_understood = True
        where = head.index(b"\x00")
        report.warn("binary data (NUL bytes) in the first bytes: not a text log", code="binary",
                    line=head.count(b"\n", 0, where) + 1, offset=where)
        return None
    body = head[len(BOM):] if head.startswith(BOM) else head
    if utf16:  # marked as such (a copy of the head); any other head is given back as it is, not copied
        body = TextHead(body)
        body.utf16 = True
    if body[:1] in _BLANK and not body.replace(b"\x00", b"").strip():  # a log starts with '#' or a digit
        report.not_understood = True
        report.warn("empty file" if not body else "file holds only white space", code="empty")
        return None
    return body


def _utf16_head(head: bytes) -> bytes:
    decoder = codecs.getincrementaldecoder("utf-16")(errors="replace")
    return decoder.decode(head).encode("utf-8")


class _Utf16(io.RawIOBase):
    """A UTF-16 file (with BOM) read as UTF-8, in bounded pieces."""

    def __init__(self, inner: BinaryIO) -> None:
        self.inner = inner
        self.decoder = codecs.getincrementaldecoder("utf-16")(errors="replace")
        self.pending = b""
        self.done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self.pending and not self.done:
            chunk = self.inner.read(1 << 20)
            self.done = not chunk
            self.pending = self.decoder.decode(chunk, final=self.done).encode("utf-8")
        size = min(len(buffer), len(self.pending))
        buffer[:size] = self.pending[:size]
        self.pending = self.pending[size:]
        return size

    def close(self) -> None:
        self.inner.close()
        super().close()


class _CrOnly(io.RawIOBase):
    """A file whose lines end with a bare CR (old Mac style) read with LF endings: same bytes, same offsets."""

    def __init__(self, inner: BinaryIO) -> None:
        self.inner = inner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.inner.read(len(buffer))
        buffer[: len(data)] = data.replace(b"\r", b"\n")
        return len(data)

    def close(self) -> None:
        self.inner.close()
        super().close()


def needs_transcoding(head: bytes) -> bool:
    """Whether a file with this head (from ``check_head``) must be read through ``open_text``."""
    return (isinstance(head, TextHead) and head.utf16) or (b"\r" in head and b"\n" not in head)


def open_text(tree: HostTree, path: str, head: bytes, report: ParseReport) -> BinaryIO:
    """Open a text log for line reading: UTF-16 transcoded, CR-only line endings read as line ends."""
    handle = tree.open(path)
    if isinstance(head, TextHead) and head.utf16:
        return cast(BinaryIO, io.BufferedReader(_Utf16(handle), buffer_size=1 << 20))
    if b"\r" in head and b"\n" not in head:
        report.warn("lines end with a bare CR (no LF): read as line ends", code="cr-only", line=1, offset=0)
        return cast(BinaryIO, io.BufferedReader(_CrOnly(handle), buffer_size=1 << 20))
    return handle


class NulLines:
    """NUL bytes inside a text log (a damaged or preallocated region): judged per line. NULs around a
    line are dropped and the rest read; a line with NULs inside is skipped. Reported once, with the
    damaged line ranges."""

    MAX_RANGES = 20

    def __init__(self, report: ParseReport) -> None:
        self.report = report
        self.ranges: list[list[int]] = []
        self.lines = 0
        self.skipped = 0
        self.first: tuple[int, int] | None = None

    def clean(self, line: TextLine) -> TextLine | None:
        """``line`` without its surrounding NULs, or None when it cannot be read (counted, reported)."""
        self.lines += 1
        if self.first is None:
            self.first = (line.number, line.offset)
        if self.ranges and self.ranges[-1][1] + 1 >= line.number:
            self.ranges[-1][1] = line.number
        elif len(self.ranges) < self.MAX_RANGES:
            self.ranges.append([line.number, line.number])
        data = line.data.lstrip(b"\x00")
        lead = len(line.data) - len(data)
        data = data.rstrip(b"\x00")
        if not data or b"\x00" in data:
            self.skipped += 1
            return None
        return replace(line, data=data, offset=line.offset + lead, directive=data[:1] == b"#")

    def finish(self) -> None:
        if not self.lines or self.first is None:
            return
        self.report.partial = self.report.partial or self.skipped > 0
        shown = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in self.ranges)
        more = " and more" if len(self.ranges) >= self.MAX_RANGES else ""
        self.report.warn(f"NUL bytes (damaged or preallocated region) in {self.lines} line(s), lines {shown}{more}: "
                         f"{self.skipped} line(s) unreadable and skipped, the others read without the NULs",
                         code="nul-bytes", line=self.first[0], offset=self.first[1])
        self.lines = 0


class LineDecoder:
    """UTF-8 decoding with replacement; one warning per file for the lines that needed it."""

    def __init__(self, report: ParseReport) -> None:
        self.report = report
        self.bad = 0
        self.first: tuple[int, int] | None = None

    def decode(self, line: TextLine) -> str:
        try:
            return line.data.decode("utf-8")
        except UnicodeDecodeError:
            self.bad += 1
            if self.first is None:
                self.first = (line.number, line.offset)
            return line.data.decode("utf-8", errors="replace")

    def finish(self) -> None:
        if self.bad and self.first is not None:
            self.report.warn(f"{self.bad} line(s) are not valid UTF-8 (decoded with replacement characters); "
                             f"first at line {self.first[0]}", code="decode", line=self.first[0],
                             offset=self.first[1])
            self.bad = 0


TRACKED_DIRECTIVES = {"version": "Version", "software": "Software", "log-type": "Log-type", "date": "Date"}
MAX_DIRECTIVES = 256  # directive changes kept per file
_PARTS: dict[bytes, tuple[str, str, str | None]] = {}  # directive line -> its parts (``DirectiveLog.note_line``)
_PARTS_KEPT = 512
_PARTS_LINE = 8 << 10  # longest line kept there: the memo holds at most 4 MiB


def directive_parts(text: str) -> tuple[str, str, str | None]:
    """A directive line ``#Name: value`` as (lowercased name, value, the name ``ParseReport.directives``
    keeps it under, or None when it is not kept)."""
    name, _, value = text[1:].partition(":")
    key = name.strip().lower()
    return key, value.strip(), TRACKED_DIRECTIVES.get(key)


class DirectiveLog:
    """Keeps the header directives of a file in ``ParseReport.directives``: only changes of value, bounded."""

    def __init__(self, report: ParseReport) -> None:
        self.report = report
        self.last: dict[str, str] = {}
        self.dropped = 0

    def note(self, number: int, text: str) -> tuple[str, str]:
        """Record directive line ``text`` (``#Name: value``); returns (lowercased name, value)."""
        return self.note_parts(number, directive_parts(text))

    def note_line(self, line: TextLine, decoder: LineDecoder) -> tuple[str, str]:
        """``note`` for a directive line as read: a host's thousands of hourly logs repeat the same few
        header lines, split once (per process) by their bytes; a line that is not valid UTF-8 goes through
        ``decoder`` each time, so that it is counted in every file it is in."""
        parts = _PARTS.get(line.data)
        if parts is None:
            bad = decoder.bad
            parts = directive_parts(decoder.decode(line))
            if decoder.bad == bad and len(line.data) <= _PARTS_LINE:
                if len(_PARTS) >= _PARTS_KEPT:
                    _PARTS.clear()
                _PARTS[line.data] = parts
        return self.note_parts(line.number, parts)

    def note_parts(self, number: int, parts: tuple[str, str, str | None]) -> tuple[str, str]:
        key, value, canonical = parts
        if canonical is not None and self.last.get(canonical) != value:
            self.last[canonical] = value
            if len(self.report.directives) < MAX_DIRECTIVES:
                self.report.directives.append((number, canonical, value))
            else:
                self.dropped += 1
        return key, value

    def finish(self) -> None:
        if self.dropped:
            self.report.warn(f"{self.dropped} further header directive changes not kept "
                             f"(limit {MAX_DIRECTIVES} per file)", code="directives")
            self.dropped = 0
