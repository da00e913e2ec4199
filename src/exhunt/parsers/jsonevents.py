"""Windows events exported as JSON (OTRF, Velociraptor, Splunk, Winlogbeat, evtx_dump, PowerShell...).

Reading is streamed line by line, which covers JSON lines, arrays written one element per line
(``[`` / ``{...},`` / ``]``) and pretty-printed objects, alone, concatenated (``evtx_dump``'s default
output) or in an array (``ConvertTo-Json``): an object opened by a line holding only ``{`` is gathered
until the ``}`` line at its indentation. Anything else that starts like JSON (an array on one line, a
UTF-16 file) is loaded whole when it is at most ``MAX_WHOLE`` bytes, with a warning; larger ones are
refused with a warning. Lines (and gathered objects) longer than ``MAX_LINE`` are skipped with a
warning. The shape of each object is recognised by :mod:`exhunt.parsers.jsonshapes`, and its fields
come out under the EVTX parser's names.

A file whose first ``PROBE`` objects are none of the known shapes (or not JSON at all) is reported
``not_understood``; later lines that fail are warned about (line, byte offset) and skipped.
The prefilter is not used: JSON escapes backslashes, so literal matches on the raw line would miss.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

import orjson

from exhunt.model.event import Record
from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.parsers.base import Parser, ParseReport, Prefilter
from exhunt.parsers.jsonshapes import shape_of, unwrap
from exhunt.sources.base import HostTree

MAX_LINE = 16 << 20
MAX_WHOLE = 256 << 20
PROBE = 20
_BOMS_UTF16 = (b"\xff\xfe", b"\xfe\xff")
_BOM_UTF8 = b"\xef\xbb\xbf"


class _Probe:
    """Counts what the first objects were, to tell a file not understood from a bad line."""

    def __init__(self) -> None:
        self.understood = 0
        self.failed = 0

    @property
    def given_up(self) -> bool:
        return self.understood == 0 and self.failed >= PROBE


class JsonEventsParser(Parser):
    name = "json_events"
    kinds = frozenset({ArtifactKind.JSON_EVENTS})

    def parse(self, tree: HostTree, artifact: Artifact, report: ParseReport,
              prefilter: Prefilter | None = None) -> Iterator[Record]:
        try:
            handle = tree.open(artifact.path)
        except OSError as exc:
            report.unreadable(exc)
            return
        probe = _Probe()
        whole = False
        try:
            with handle:
                for item in self._lines(handle, artifact, report, probe, allow_whole=True):
                    if item is None:  # the file is JSON but not one object per line
                        whole = True
                        break
                    yield item
                    if probe.given_up:
                        break
        except OSError as exc:
            _read_error(report, exc)
            return
        if whole:
            invalid: list[str] = []
            yield from self._whole(tree, artifact, report, probe, invalid)
            if invalid:  # not one JSON document either: one bad line (the first) must not cost the file
                yield from self._lines_again(tree, artifact, report, probe)
        if probe.understood == 0 and not report.failed and not report.not_understood:
            report.not_understood = True
            if report.bytes_read == 0:
                report.warn("empty file", code="not-understood")
                return
            report.warn("no Windows event of a known JSON shape (evtx_dump, Velociraptor, Winlogbeat, "
                        "Splunk, PowerShell, flat EventID/Channel) in this file", code="not-understood")

    def _lines_again(self, tree: HostTree, artifact: Artifact, report: ParseReport,
                     probe: _Probe) -> Iterator[Record]:
        report.warn("not valid JSON as a whole: read line by line, invalid lines skipped", code="bad-json")
        try:
            with tree.open(artifact.path) as handle:
                for item in self._lines(handle, artifact, report, probe, allow_whole=False):
                    if item is not None:
                        yield item
                    if probe.given_up:
                        break
        except OSError as exc:
            _read_error(report, exc)

    def _lines(self, handle: IO[bytes], artifact: Artifact, report: ParseReport,
               probe: _Probe, allow_whole: bool) -> Iterator[Record | None]:
        """Records of a file read line by line; yields None when it must be read whole instead.

        An object opened by a line holding only ``{`` (pretty-printed: ``evtx_dump``'s default output,
        ``ConvertTo-Json``, ``json.dumps(indent=...)``) is gathered until the ``}`` line at its own
        indentation, so concatenated or arrayed pretty objects stream too.
        """
        offset = 0
        number = 0
        started = False
        pending: _Pending | None = None
        while True:
            line = handle.readline(MAX_LINE + 1)
            if not line:
                break
            number += 1
            start = offset
            offset += len(line)
            if len(line) > MAX_LINE and not line.endswith(b"\n"):
                report.warn(f"line longer than {MAX_LINE} bytes skipped", code="too-long", line=number,
                            offset=start)
                while (rest := handle.readline(MAX_LINE)) and not rest.endswith(b"\n"):
                    offset += len(rest)
                offset += len(rest)
                report.bytes_read = offset
                pending = None
                continue
            report.bytes_read = offset
            if pending is not None:
                obj = pending.add(line)
                if obj is _INCOMPLETE:
                    if pending.size > MAX_LINE:
                        report.warn(f"object longer than {MAX_LINE} bytes skipped", code="too-long",
                                    line=pending.line, offset=pending.offset)
                        pending = None
                    continue
                record = _record(obj, artifact, report, probe, pending.line, pending.offset, orjson.dumps(obj))
                pending = None
                if record is not None:
                    yield record
                if probe.given_up:
                    return
                continue
            body = line.strip()
            if not started:
                if number == 1 and body.startswith(_BOMS_UTF16) and allow_whole:
                    yield None
                    return
                body = body.removeprefix(_BOM_UTF8).lstrip()
                if not body:
                    continue
                started = True
                if body[:1] not in (b"{", b"["):
                    report.not_understood = True
                    report.warn("not JSON: the file does not start with an object or an array",
                                code="not-understood", line=number, offset=start)
                    return
            element = _element(body)
            if not element:
                continue
            if element == b"{":
                pending = _Pending(line, number, start)
                continue
            try:
                obj = orjson.loads(element)
            except orjson.JSONDecodeError as exc:
                if allow_whole and probe.understood == 0 and probe.failed == 0 and (
                        body[:1] == b"[" or not body.endswith(b"}")):
                    yield None  # an array on one line, or an unusual layout: read the file whole
                    return
                probe.failed += 1
                report.warn(f"invalid JSON skipped: {exc}", code="bad-json", line=number, offset=start)
                if probe.given_up:
                    return
                continue
            record = _record(obj, artifact, report, probe, number, start, line)
            if record is not None:
                yield record
            if probe.given_up:
                return
        if pending is not None:
            probe.failed += 1
            report.warn("object not closed at the end of the file", code="truncated", line=pending.line,
                        offset=pending.offset)

    def _whole(self, tree: HostTree, artifact: Artifact, report: ParseReport,
               probe: _Probe, invalid: list[str]) -> Iterator[Record]:
        """The file as one JSON document; when it is not one, ``invalid`` gets the reason (and the file is
        read line by line instead, unless it is UTF-16)."""
        if artifact.size > MAX_WHOLE:
            report.failed = True
            report.warn(f"JSON that is not one event per line is read whole, up to {MAX_WHOLE} bytes; "
                        f"this file has {artifact.size}: not read", code="too-large")
            return
        try:
            with tree.open(artifact.path) as handle:
                data = handle.read(MAX_WHOLE + 1)
        except OSError as exc:
            report.unreadable(exc)
            return
        report.bytes_read = len(data)
        try:
            if data.startswith(_BOMS_UTF16):
                data = data.decode("utf-16").encode("utf-8")
            parsed = orjson.loads(data.removeprefix(_BOM_UTF8))
        except (UnicodeDecodeError, orjson.JSONDecodeError) as exc:
            if data.startswith(_BOMS_UTF16):
                report.not_understood = True
                report.warn(f"not valid JSON: {exc}", code="not-understood")
            else:
                invalid.append(str(exc))
            return
        report.warn("JSON not written one event per line: read whole into memory", code="read-whole")
        items = parsed if isinstance(parsed, list) else [parsed]
        for index, obj in enumerate(items, start=1):
            record = _record(obj, artifact, report, probe, None, None, orjson.dumps(obj), index)
            if record is not None:
                yield record
            if probe.given_up:
                return


_INCOMPLETE: Any = object()


class _Pending:
    """A pretty-printed object being gathered line by line."""

    def __init__(self, first: bytes, line: int, offset: int) -> None:
        self.line, self.offset = line, offset
        stripped = first.lstrip(b" \t[")
        self.indent = len(first) - len(first.lstrip(b" \t"))
        self.parts = [stripped]
        self.size = len(first)

    def add(self, line: bytes) -> Any:
        """The object once ``line`` closes it, else ``_INCOMPLETE``."""
        self.parts.append(line)
        self.size += len(line)
        content = line.lstrip(b" \t")
        if content[:1] != b"}" or len(line) - len(content) > self.indent:
            return _INCOMPLETE
        text = b"".join(self.parts).rstrip().removesuffix(b"]").rstrip().removesuffix(b",")
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            return _INCOMPLETE


def _element(body: bytes) -> bytes:
    """One array element written on its own line: without the array's brackets and comma."""
    if body[:1] == b"[":
        body = body[1:].lstrip()
    if body[-1:] == b"]" and not body.startswith(b"{"):
        body = body[:-1].rstrip()
    elif body.endswith(b"}]"):
        body = body[:-1]
    return body.removesuffix(b",").rstrip()


def _record(obj: Any, artifact: Artifact, report: ParseReport, probe: _Probe, line: int | None,
            offset: int | None, raw: bytes, index: int | None = None) -> Record | None:
    where = line if line is not None else index
    shape = shape_of(obj)
    if shape is None:
        probe.failed += 1
        report.warn("not a Windows event of a known shape: skipped", code="not-understood", line=line,
                    offset=offset)
        return None
    try:
        fields = shape[1](unwrap(obj))
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        probe.failed += 1
        report.warn(f"event of shape {shape[0]} could not be read: {exc!r}", code="bad-event", line=line,
                    offset=offset)
        return None
    probe.understood += 1
    report.records += 1
    stamp = fields.get("TimeCreated")
    report.see_time(stamp, line, offset)
    channel = fields.get("Channel") or artifact.attr("channel")
    return Record(kind=ArtifactKind.JSON_EVENTS, path=artifact.path, fields=fields,
                  raw=raw.decode("utf-8", "replace").rstrip("\r\n"), line=line, record=where, offset=offset,
                  timestamp=stamp, attrs={"channel": channel} if channel else {})


def _read_error(report: ParseReport, exc: OSError) -> None:
    report.failed = True
    report.warn(f"read error after {report.bytes_read} bytes: {exc}", code="unreadable", offset=report.bytes_read)
