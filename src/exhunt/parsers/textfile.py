"""What a text-log parser needs besides its lines: the head check, UTF-8 decoding, header directives."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from exhunt.parsers.base import ParseReport

if TYPE_CHECKING:
    from exhunt.parsers.textblocks import TextLine

BOM = b"\xef\xbb\xbf"
HEAD_SIZE = 64 << 10  # bytes looked at to decide whether a file is what its name says


def check_head(read_head: Callable[[], bytes], report: ParseReport) -> bytes | None:
    """The head of a file, or None when it cannot be read, is empty or is binary (reported)."""
    try:
        head = read_head()
    except OSError as exc:
        report.failed = True
        report.warn(f"cannot read: {exc}", code="unreadable")
        return None
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        report.not_understood = True
        report.warn("UTF-16 text, not a UTF-8/ASCII log", code="binary", line=1, offset=0)
        return None
    if b"\x00" in head:
        report.not_understood = True
        where = head.index(b"\x00")
        report.warn("binary data (NUL bytes) in the first bytes: not a text log", code="binary",
                    line=head.count(b"\n", 0, where) + 1, offset=where)
        return None
    body = head[len(BOM):] if head.startswith(BOM) else head
    if not body.strip():
        report.not_understood = True
        report.warn("empty file" if not body else "file holds only white space", code="empty")
        return None
    return body


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


class DirectiveLog:
    """Keeps the header directives of a file in ``ParseReport.directives``: only changes of value, bounded."""

    def __init__(self, report: ParseReport) -> None:
        self.report = report
        self.last: dict[str, str] = {}
        self.dropped = 0

    def note(self, number: int, text: str) -> tuple[str, str]:
        """Record directive line ``text`` (``#Name: value``); returns (lowercased name, value)."""
        name, _, value = text[1:].partition(":")
        name, value = name.strip(), value.strip()
        key = name.lower()
        canonical = TRACKED_DIRECTIVES.get(key)
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
