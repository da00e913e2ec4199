"""Every log with a ``#Fields`` header: IIS W3C (space-separated) and Exchange's CSV logs.

Columns are bound by each file's own ``#Fields`` line and bound again whenever a new header block starts
(IIS writes one at every restart). IIS values: ``-`` becomes an empty string and ``+`` a space in the
request-header fields (``cs(User-Agent)``, ``cs(Cookie)``, ``cs(Referer)``). Exchange values are RFC 4180
CSV fields, as written. The timestamp is ``date`` + ``time`` for IIS (UTC, the date taken from ``#Date``
when the file has no ``date`` column) and ``DateTime`` for Exchange logs.
"""

from __future__ import annotations

import contextlib
import csv
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import BinaryIO

from exhunt.model.event import Record
from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.parsers.base import Parser, ParseReport, Prefilter
from exhunt.parsers.columns import ColumnGate, ColumnPlan
from exhunt.parsers.positions import placed
from exhunt.parsers.prefilter import BlockPrefilter
from exhunt.parsers.textblocks import BLOCK_SIZE, LineReader, TextLine
from exhunt.parsers.textfile import (
    HEAD_SIZE,
    DirectiveLog,
    LineDecoder,
    NulLines,
    check_head,
    needs_transcoding,
    open_text,
)
from exhunt.sources.base import HostTree

EXCHANGE_KINDS = frozenset({ArtifactKind.HTTPPROXY, ArtifactKind.ECP_SERVER, ArtifactKind.ECP_ACTIVITY,
                            ArtifactKind.RPS_HTTP, ArtifactKind.RPS_CMDLET})
_DATE = re.compile(r"\d{4}-\d\d-\d\d\Z")
_TIME = re.compile(r"\d\d:\d\d:\d\d(?:\.\d{1,7})?\Z")
_ISO = re.compile(r"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d(?:\.\d{1,7})?)(?:Z|[+-]00:?00)?\Z")
_STAMP_NAMES = ("datetime", "date-time", "timestamp")
_WEB_FIELD_PREFIXES = ("cs-", "sc-", "cs(", "sc(")


@dataclass(frozen=True, slots=True)
class Binding:
    """The columns of one header block."""

    names: tuple[str, ...]
    csv: bool
    plus: tuple[int, ...] = ()  # IIS request-header columns where '+' stands for a space
    date: int | None = None
    time: int | None = None
    stamp: int | None = None  # Exchange: the DateTime column

    @classmethod
    def parse(cls, value: str) -> Binding:
        if "," in value:
            names = tuple(n.strip() for n in value.split(","))
            lowered = [n.lower() for n in names]
            stamp = next((lowered.index(n) for n in _STAMP_NAMES if n in lowered), None)
            return cls(names, True, stamp=stamp)
        names = tuple(value.split())
        lowered = [n.lower() for n in names]
        plus = tuple(i for i, n in enumerate(lowered) if n.startswith(("cs(", "sc(")))
        return cls(names, False, plus, _index(lowered, "date"), _index(lowered, "time"))

    def fits(self, kind: ArtifactKind) -> bool:
        """Whether the columns are those of ``kind`` (a firewall log named ``.log`` is not an IIS log)."""
        if kind in EXCHANGE_KINDS:
            return self.csv and len(self.names) >= 3
        return not self.csv and any(n.lower().startswith(_WEB_FIELD_PREFIXES) for n in self.names)


def _csv_module(text: str) -> list[str]:
    """``csv.reader``'s answer for one line; a line it refuses (a bare CR in a plain field, which it takes
    for a line break) is split again with each CR kept as data: no line can stop a file."""
    try:
        return next(csv.reader([text]), [])
    except csv.Error:
        stand_in = next(chr(c) for c in range(0xE000, 0xF900) if chr(c) not in text)  # a private-use char
        fields = next(csv.reader([text.replace("\r", stand_in)]), [])
        return [field.replace(stand_in, "\r") for field in fields]


_BINDINGS: dict[str, Binding] = {}  # per #Fields layout: a host's thousands of hourly logs share a few
_BINDINGS_KEPT = 64


def _binding(value: str) -> Binding:
    found = _BINDINGS.get(value)
    if found is None:
        found = Binding.parse(value)
        if len(_BINDINGS) >= _BINDINGS_KEPT:
            _BINDINGS.pop(next(iter(_BINDINGS)))
        _BINDINGS[value] = found
    return found


def split_csv(text: str) -> list[str]:
    """The fields of one RFC 4180 CSV line: ``csv.reader``'s answer, faster for the usual line (a few
    quoted fields among many plain ones); malformed quoting falls back to the csv module itself."""
    quote = text.find('"')
    if quote < 0:
        return text.split(",")
    out: list[str] = []
    pos, size = 0, len(text)
    while quote >= 0:
        start = text.rfind(",", pos, quote) + 1 or pos
        if start != quote:
            return _csv_module(text)  # a quote inside a plain field
        if start > pos:
            out.extend(text[pos:start - 1].split(","))
        end = text.find('"', quote + 1)
        while 0 <= end < size - 1 and text[end + 1] == '"':
            end = text.find('"', end + 2)
        if end < 0 or (end + 1 < size and text[end + 1] != ","):
            return _csv_module(text)  # unclosed, or text after the closing quote
        out.append(text[quote + 1:end].replace('""', '"'))
        pos = end + 2
        if pos > size:
            return out
        quote = text.find('"', pos)
    out.extend(text[pos:].split(","))
    return out


def _index(names: list[str], name: str) -> int | None:
    return names.index(name) if name in names else None


class _Tally:
    """A per-file count of one kind of problem, reported once with its first location."""

    def __init__(self, code: str, message: str) -> None:
        self.code, self.message, self.count = code, message, 0
        self.first: TextLine | None = None

    def add(self, line: TextLine) -> None:
        self.count += 1
        if self.first is None:
            self.first = line

    def report(self, report: ParseReport) -> None:
        if self.count and self.first is not None:
            report.warn(f"{self.count} {self.message}; first at line {self.first.number}", code=self.code,
                        line=self.first.number, offset=self.first.offset)
            self.count = 0


class _W3CFile:
    """The reading state of one file: current columns, header date, per-file tallies."""

    def __init__(self, artifact: Artifact, report: ParseReport, columns: ColumnGate | None = None) -> None:
        self.artifact = artifact
        self.report = report
        self.attrs = dict(artifact.attrs)
        self.binding: Binding | None = None
        self.columns = columns  # judges a candidate line on its columns (``parsers/columns.py``)
        self.plan: ColumnPlan | None = None  # ... with the current header's columns
        self.header_date: str | None = None
        self.good_day: str | None = None  # the last date column value that was a date
        self.decoder = LineDecoder(report)
        self.directives = DirectiveLog(report)
        self.missing = _Tally("missing-columns", "line(s) with fewer columns than the #Fields header "
                              "(missing values read as empty)")
        self.bad_time = _Tally("bad-time", "line(s) without a readable timestamp")
        self.nul = NulLines(report)

    def directive(self, line: TextLine) -> bool:
        """Handle a '#' line; False when the file turns out not to be of its kind."""
        name, value = self.directives.note_line(line, self.decoder)
        if name == "date":
            day = value[:10]
            self.header_date = day if _DATE.match(day) else None
        elif name == "fields":
            if value[:1] in ("[", "(", "'", '"') or "'" in value:
                self.report.warn(f"malformed #Fields header (quotes or brackets around the names): "
                                 f"{value[:200]!r}; read with them removed", code="bad-header",
                                 line=line.number, offset=line.offset)
                value = value.strip("[]()").replace("'", "").replace('"', "")
            binding = _binding(value)
            if self.binding is None and not binding.fits(self.artifact.kind):
                self.report.not_understood = True
                self.report.records = 0
                self.report.warn(f"#Fields header does not describe a {self.artifact.kind.value} log: "
                                 f"{value[:200]!r}", code="wrong-format", line=line.number, offset=line.offset)
                return False
            self.binding = binding
            self.plan = self.columns.plan(binding.names) if self.columns is not None else None
        return True

    def data(self, line: TextLine) -> Record | None:
        """The record of a data line; None when it is skipped, or when it is no candidate (only its time
        and its warnings count)."""
        binding = self.binding
        if binding is None:
            self.report.warn("data line before any #Fields header: skipped", code="no-header",
                             line=line.number, offset=line.offset)
            self.report.records -= 1  # not a record read
            return None
        text = self.decoder.decode(line)
        if binding.csv:
            values = split_csv(text)
        else:
            values = text.split(" ")
            if "" in values:  # IIS never writes an empty field: runs of spaces are one separator
                values = [v for v in values if v]
        width, count = len(binding.names), len(values)
        extra: list[str] = []
        if count < width:
            if not line.terminated:
                self.report.warn(f"last line has no line ending and {count} of {width} columns (truncated)",
                                 code="truncated", line=line.number, offset=line.offset)
            elif count * 2 < width:
                self.report.warn(f"{count} columns where the #Fields header has {width}: skipped",
                                 code="bad-line", line=line.number, offset=line.offset)
                self.report.records -= 1  # garbled: not a record read
                return None
            else:
                self.missing.add(line)
            values.extend([""] * (width - count))
        elif count > width:
            if count > 2 * width + 2:
                self.report.warn(f"{count} columns where the #Fields header has {width}: skipped",
                                 code="bad-line", line=line.number, offset=line.offset)
                self.report.records -= 1  # garbled: not a record read
                return None
            extra = values[width:]
            del values[width:]
            self.report.warn(f"{count - width} column(s) more than the #Fields header: kept under _extra",
                             code="extra-columns", line=line.number, offset=line.offset)
        stamp = self._csv_time(binding, values) if binding.csv else self._iis_values(binding, values)
        if stamp is None:
            self.bad_time.add(line)
        else:
            self.report.see_time(stamp, line.number, line.offset)
        if not line.candidate:
            return None  # an edge line, read for its time and its warnings only: no record is made of it
        plan = self.plan
        if plan is not None and line.hits is not None and not extra and line.data.isascii():
            assert self.columns is not None
            if not self.columns.accept(plan, line.hits, values, line.data):
                return None  # no requirement can hold on its columns: read for its time and warnings only
        fields: dict[str, object] = dict(zip(binding.names, values))  # noqa: B905 - same length by construction
        if extra:
            fields["_extra"] = extra
        return Record(kind=self.artifact.kind, path=self.artifact.path, fields=fields, raw=text,
                      line=line.number, offset=line.offset, timestamp=stamp, attrs=dict(self.attrs))

    def _iis_values(self, binding: Binding, values: list[str]) -> str | None:
        """Turn W3C encodings into values (in place); return the timestamp."""
        dashes = values.count("-")
        if dashes:  # each found from the last (a line has a few of them)
            at = -1
            for _ in range(dashes):
                at = values.index("-", at + 1)
                values[at] = ""
        for index in binding.plus:
            values[index] = values[index].replace("+", " ")
        day = values[binding.date] if binding.date is not None else self.header_date
        if not day or day != self.good_day:  # a file's lines share a few days: each checked once in a row
            if not day or not _DATE.match(day):
                return None
            self.good_day = day
        if binding.time is None:
            return day
        clock = values[binding.time]
        return f"{day}T{clock}Z" if _TIME.match(clock) else None

    @staticmethod
    def _csv_time(binding: Binding, values: list[str]) -> str | None:
        if binding.stamp is not None:
            value = values[binding.stamp]
            if len(value) == 24 and value[10] == "T" and value[23] == "Z" and value[19] == ".":
                return value  # Exchange's own form, 2021-03-02T00:00:00.123Z (checked loosely)
            candidates = [value]
        else:
            candidates = values[:4]
        for value in candidates:
            found = _ISO.match(value)
            if found:
                return f"{found.group(1)}T{found.group(2)}Z"
        return None

    def finish(self) -> None:
        self.nul.finish()
        self.missing.report(self.report)
        self.bad_time.report(self.report)
        self.decoder.finish()
        self.directives.finish()


# the fields IIS logs by default (IIS 8.5 and later, so every supported Exchange server left as installed)
IIS_DEFAULT_HEAD = (b"#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
                    b"cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken\r\n")


class W3CParser(Parser):
    name = "w3c"
    kinds = frozenset({ArtifactKind.IIS, *EXCHANGE_KINDS})
    parallel = True
    columns = True
    usual_heads: Mapping[ArtifactKind, tuple[bytes, ...]] = {ArtifactKind.IIS: (IIS_DEFAULT_HEAD,)}

    def __init__(self, *, block_size: int | None = None, place: bool = True) -> None:
        self.block_size = block_size
        self.place = place  # IIS: the column gate placed in the block scan (``positions.py``)

    def scan_for(self, prefilter: Prefilter, head: bytes) -> Prefilter:
        if self.place and isinstance(prefilter, BlockPrefilter) and prefilter.columns is not None and \
                not needs_transcoding(head):
            return placed(prefilter, head)  # IIS: the column gate in the scan itself (``positions.py``)
        return prefilter

    def parse(self, tree: HostTree, artifact: Artifact, report: ParseReport,
              prefilter: Prefilter | None = None) -> Iterator[Record]:
        try:  # one handle for the head check and the lines (a host holds thousands of small hourly logs)
            handle = tree.open(artifact.path)
        except OSError as exc:
            report.unreadable(exc)
            return
        with handle:
            yield from self._parse_open(tree, handle, artifact, report, prefilter)

    def _parse_open(self, tree: HostTree, handle: BinaryIO, artifact: Artifact, report: ParseReport,
                    prefilter: Prefilter | None) -> Iterator[Record]:
        raw_head = b""
        size = artifact.size
        limit = BLOCK_SIZE if self.block_size is None else self.block_size
        whole = size is not None and 0 <= size < limit  # a small file: read at once, its lines found in place

        def read_head() -> bytes:
            nonlocal raw_head, whole
            if not whole:
                raw_head = handle.read(HEAD_SIZE)
                return raw_head
            raw_head = handle.read(size + 1)
            more = b"" if len(raw_head) > size else handle.read(1)  # the end found (a hashing reader sees it)
            if len(raw_head) > size or more:  # the file grew: read on from the handle, as a big file is
                whole = False
                raw_head += more
            return raw_head[:HEAD_SIZE] if len(raw_head) > HEAD_SIZE else raw_head

        head = check_head(read_head, report, marker=b"#fields:")
        if head is None:
            return
        if b"#Fields:" not in head and b"#fields:" not in head.replace(b"\x00", b"").lower():
            report.not_understood = True
            report.warn(f"no '#Fields' header in the first {HEAD_SIZE} bytes: not a W3C extended-format log",
                        code="no-header", line=1, offset=0)
            return
        state = _W3CFile(artifact, report, prefilter.columns if prefilter is not None else None)
        if prefilter is not None:
            prefilter = self.scan_for(prefilter, head)
        reader = LineReader(report, prefilter, odd_lines=True) if self.block_size is None else \
            LineReader(report, prefilter, block_size=self.block_size, odd_lines=True)
        try:
            with contextlib.ExitStack() as stack:
                if needs_transcoding(head):  # UTF-16 or CR-only: read again from the start, transcoded
                    lines = reader.lines(stack.enter_context(open_text(tree, artifact.path, head, report)))
                elif whole:
                    lines = reader.whole(raw_head)
                else:
                    lines = reader.lines(handle, artifact.size, raw_head)
                for line in lines:
                    if b"\x00" in line.data:
                        cleaned = state.nul.clean(line)
                        if cleaned is None:
                            if not line.directive:
                                report.records -= 1  # unreadable: not a record read
                            continue
                        if line.directive and not cleaned.directive:
                            report.records += 1
                        elif cleaned.directive and not line.directive:
                            report.records -= 1
                        line = cleaned
                    if line.directive:
                        if not state.directive(line):
                            return
                        continue
                    record = state.data(line)
                    if record is not None:  # None for an edge line read for its time only
                        yield record
        except OSError as exc:
            report.failed = report.bytes_read == 0
            report.warn(f"read error: {exc}", code="unreadable", offset=report.bytes_read)
        finally:
            state.finish()
