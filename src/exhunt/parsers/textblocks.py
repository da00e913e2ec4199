"""Reading a text log in large blocks: exact line numbers and byte offsets, with or without a prefilter.

``LineReader.lines`` reads a file into one reusable buffer (``BLOCK_SIZE`` bytes), cuts each block at its
last newline and carries the rest over. Without a prefilter it yields every non-blank line. With one it
yields only the lines a parser must look at:

* directive lines (``#...``), so that columns can be bound again when a new header block starts;
* candidate lines, that hold a match of the prefilter (its literals; for IIS, its literals in the columns the
  detectors name: ``positions.py``);
* edge data lines: the first and last data line of each block and the data lines next to a directive,
  so that the first and last timestamps of the file are known without parsing the rest.

Every data line is counted in ``ParseReport.records`` whether it is yielded or not. Memory stays bounded:
a line longer than ``max_line`` is reported (``too-long``) and skipped, even when it is longer than the
buffer itself.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import BinaryIO, cast

from exhunt.parsers.base import ParseReport, Prefilter
from exhunt.parsers.conjunctions import ConjunctionPrefilter
from exhunt.parsers.positions import PlacedPrefilter
from exhunt.parsers.prefilter import BlockMarks, BlockPrefilter, PythonPrefilter
from exhunt.parsers.textfile import BOM

BLOCK_SIZE = 16 << 20  # bytes read at once
FIRST_BLOCK = 64 << 10  # the buffer a file of unknown size starts with; it doubles while blocks fill it
MAX_LINE = 1 << 20  # longest line parsed; longer ones are reported and skipped
_EDGE_STEPS = 64  # lines stepped over (blank or directive) when looking for an edge data line
_HASH, _LF, _CR = 0x23, 0x0A, 0x0D
_STRUCTURE = PythonPrefilter([])
Buffer = bytes | bytearray  # a block: the reusable read buffer, or a small file read whole


@dataclass(slots=True)
class TextLine:
    number: int  # 1-based line number in the file
    offset: int  # byte offset of the line's first byte in the file
    data: bytes  # the line without its line ending
    directive: bool  # starts with '#'
    candidate: bool  # holds a prefilter match (always True without a prefilter)
    terminated: bool = True  # False for a last line with no newline
    hits: set[int] | None = None  # a candidate's matched patterns, when a column gate asks (``columns.py``)


class LineReader:
    """Yields the lines of one file that a parser must see (all of them without a prefilter)."""

    def __init__(self, report: ParseReport, prefilter: Prefilter | None = None, *,
                 block_size: int = BLOCK_SIZE, max_line: int = MAX_LINE, odd_lines: bool = False) -> None:
        self.report = report
        self.odd_lines = odd_lines  # also yield lines not starting with a digit (records start with a date)
        self.prefilter = prefilter
        self.block_size = max(block_size, 16)
        self.max_line = max_line

    def lines(self, handle: BinaryIO, size_hint: int | None = None, prefix: bytes = b"") -> Iterator[TextLine]:
        """``size_hint``: the file's size when known (a small log then does not pay for a 16 MiB buffer);
        ``prefix``: the bytes the caller already read from the start of ``handle`` (its head check)."""
        buf = bytearray(self._first_size(size_hint))  # grown (doubled) while blocks fill it, up to block_size
        view = memoryview(buf)
        readinto = _readinto(handle) if not prefix else _Prefixed(prefix, _readinto(handle)).readinto
        head_buf = bytearray(len(BOM))
        head = bytes(head_buf[: readinto(memoryview(head_buf))])
        base_offset, base_line, carry = 0, 1, 0
        self.report.bytes_read += len(head)
        if head == BOM:
            base_offset = len(BOM)
        else:
            buf[: len(head)] = head
            carry = len(head)
        skipping = False  # inside a line longer than the buffer
        while True:
            got = readinto(view[carry:]) if carry < len(buf) else 0
            total = carry + got
            self.report.bytes_read += got
            if got == 0:
                if total and not skipping:
                    yield from self._block(buf, view, total, base_offset, base_line,
                                           terminated=buf[total - 1] == _LF)
                return
            if skipping:
                newline = buf.find(b"\n", 0, total)
                if newline < 0:
                    base_offset += total
                    carry = 0
                    continue
                skipping = False
                start = newline + 1
                base_offset += start
                base_line += 1
                carry = self._keep(buf, view, start, total)
                continue
            last = buf.rfind(b"\n", 0, total)
            if last < 0:
                if total < len(buf):
                    carry = total
                    continue
                if len(buf) < self.block_size:
                    buf, view = self._grow(buf, total)
                    carry = total
                    continue
                self.report.records += 1
                self.report.warn(f"line longer than the {len(buf)}-byte read buffer: skipped", code="too-long",
                                 line=base_line, offset=base_offset)
                skipping = True
                base_offset += total
                carry = 0
                continue
            end = last + 1
            newlines = yield from self._block(buf, view, end, base_offset, base_line, terminated=True)
            base_line += newlines
            base_offset += end
            carry = self._keep(buf, view, end, total)
            if total == len(buf) and len(buf) < self.block_size:
                buf, view = self._grow(buf, carry)

    def whole(self, data: bytes) -> Iterator[TextLine]:
        """The lines ``lines`` gives for a file whose every byte is ``data`` (read at once by the caller, who
        checked that it is shorter than ``block_size``, so that ``lines`` too would hold it in one block):
        the same lines, numbers, offsets, counts and warnings, without a buffer to fill and carry over."""
        self.report.bytes_read += len(data)
        base_offset = 0
        if data[:len(BOM)] == BOM:
            data = data[len(BOM):]
            base_offset = len(BOM)
        total = len(data)
        if not total:
            return
        last = data.rfind(b"\n")
        view = memoryview(data)
        if last < 0:  # no newline at all: one unterminated line
            yield from self._block(data, view, total, base_offset, 1, terminated=False)
            return
        end = last + 1
        newlines = yield from self._block(data, view, end, base_offset, 1, terminated=True)
        if end < total:  # the last line has no line ending: a block of its own, as ``lines`` reads it
            tail = data[end:]
            yield from self._block(tail, memoryview(tail), len(tail), base_offset + end, 1 + newlines,
                                   terminated=False)

    def _first_size(self, size_hint: int | None) -> int:
        """The whole file in one block when its size is known; a size that is wrong only costs a regrowth."""
        size = FIRST_BLOCK if size_hint is None or size_hint < 0 else size_hint + 1
        return min(self.block_size, max(FIRST_BLOCK, size))

    def _grow(self, buf: bytearray, keep: int) -> tuple[bytearray, memoryview]:
        bigger = bytearray(min(self.block_size, 2 * len(buf)))
        bigger[:keep] = buf[:keep]
        return bigger, memoryview(bigger)

    @staticmethod
    def _keep(buf: bytearray, view: memoryview, start: int, total: int) -> int:
        rest = total - start
        if rest:
            buf[:rest] = bytes(view[start:total])
        return rest

    def _too_long(self, number: int, offset: int, length: int) -> None:
        self.report.warn(f"line of {length} bytes is longer than {self.max_line}: skipped", code="too-long",
                         line=number, offset=offset)

    def _block(self, buf: Buffer, view: memoryview, end: int, base_offset: int, base_line: int,
               terminated: bool) -> Generator[TextLine, None, int]:
        if self.prefilter is None:
            return (yield from self._all_lines(view, end, base_offset, base_line, terminated))
        return (yield from self._some_lines(buf, view, end, base_offset, base_line, terminated))

    def _all_lines(self, view: memoryview, end: int, base_offset: int, base_line: int,
                   terminated: bool) -> Generator[TextLine, None, int]:
        pieces = bytes(view[:end]).split(b"\n")
        if terminated:
            pieces.pop()  # the block ends with a newline
        last = len(pieces) - 1
        position, number = 0, base_line
        for index, piece in enumerate(pieces):
            body = piece[:-1] if piece.endswith(b"\r") else piece
            if body:
                directive = body[0] == _HASH
                if not directive:
                    self.report.records += 1
                if len(body) > self.max_line:
                    self._too_long(number, base_offset + position, len(body))
                else:
                    yield TextLine(number, base_offset + position, body, directive, True,
                                   terminated or index != last)
            position += len(piece) + 1
            number += 1
        return len(pieces) if terminated else len(pieces) - 1

    def _marks(self, buf: Buffer, view: memoryview, end: int) -> tuple[BlockMarks, Prefilter]:
        """The block's marks, and the prefilter that made them: a scan placed in one layout's columns goes back
        to the scan it stands for in a block with another layout (``positions.py``)."""
        prefilter = self.prefilter
        assert prefilter is not None
        if isinstance(prefilter, PlacedPrefilter):
            marks = prefilter.marks(view[:end])
            if prefilter.fits(buf, [0, *marks.directives] if buf[0] == _HASH else marks.directives, end):
                return marks, prefilter
            prefilter = self.prefilter = prefilter.former  # for this block and the rest of the file
        if isinstance(prefilter, BlockPrefilter):
            return prefilter.marks(view[:end]), prefilter
        marks = _STRUCTURE.marks(view[:end])
        marks.matches = sorted(prefilter.scan(view[:end]))
        marks.idents = [0] * len(marks.matches)
        return marks, prefilter

    def _some_lines(self, buf: Buffer, view: memoryview, end: int, base_offset: int, base_line: int,
                    terminated: bool) -> Generator[TextLine, None, int]:
        marks, prefilter = self._marks(buf, view, end)
        directives = marks.directives
        if buf[0] == _HASH:
            directives.insert(0, 0)
        blank = marks.blank_lines + _is_blank(buf, 0, end)
        if not terminated:
            final = buf.rfind(b"\n", 0, end) + 1
            if final > 0:
                blank += _is_blank(buf, final, end)
        not_data = len(directives) + blank - (0 if terminated else 1)

        candidates: dict[int, int] = {}  # line start -> line end (the newline or the block end)
        gate = prefilter.gate if isinstance(prefilter, BlockPrefilter) else None
        # with a column gate: the patterns matched on each candidate line; those from ``gating`` on only inform
        gating = prefilter.gating if isinstance(prefilter, ConjunctionPrefilter) else None
        hits: dict[int, set[int]] | None = {} if gating is not None else None
        if gating is not None and gating >= len(cast("ConjunctionPrefilter", prefilter).literals):
            gating = None  # every pattern makes a candidate
        line_end, line_start = -1, -1
        found: set[int] = set()
        for pos, ident in zip(marks.matches, marks.idents, strict=True):
            if pos < line_end:
                found.add(ident)  # another match on the same line
                continue
            if line_start >= 0 and (gate is None or gate.accept(found, view[line_start:line_end])) and \
                    (gating is None or min(found) < gating):
                candidates[line_start] = line_end
                if hits is not None:
                    hits[line_start] = found
            line_end = buf.find(b"\n", pos, end)
            if line_end < 0:
                line_end = end
            line_start = buf.rfind(b"\n", 0, pos) + 1
            found = {ident}
        if line_start >= 0 and (gate is None or gate.accept(found, view[line_start:line_end])) and \
                (gating is None or min(found) < gating):
            candidates[line_start] = line_end
            if hits is not None:
                hits[line_start] = found
        for start in marks.odd if self.odd_lines else ():  # lines that do not look like records: checked
            if start < end and start not in candidates:
                stop = buf.find(b"\n", start, end)
                candidates[start] = end if stop < 0 else stop
        if self.odd_lines:  # a line holding a NUL byte (a damaged region) is odd too, wherever the NUL is
            nul = buf.find(b"\x00", 0, end)
            while nul >= 0:
                start = buf.rfind(b"\n", 0, nul) + 1
                stop = buf.find(b"\n", nul, end)
                stop = end if stop < 0 else stop
                candidates.setdefault(start, stop)
                nul = buf.find(b"\x00", stop, end) if stop < end else -1
        wanted = set(candidates).union(directives, self._edges(buf, end, directives))

        previous, number = 0, base_line
        try:  # newlines are counted once, between the wanted lines, then to the end of the block
            for start in sorted(wanted):
                number += buf.count(b"\n", previous, start) if start - previous <= 4096 else \
                    _newlines(buf, previous, start)  # (the first: no call for the short ranges of a header)
                previous = start
                stop = candidates.get(start, -1)
                if stop < 0:
                    stop = buf.find(b"\n", start, end)
                    if stop < 0:
                        stop = end
                body_end = stop - 1 if stop > start and buf[stop - 1] == _CR else stop
                if body_end == start:
                    continue
                if body_end - start > self.max_line:
                    self._too_long(number, base_offset + start, body_end - start)
                    continue
                yield TextLine(number, base_offset + start, bytes(view[start:body_end]), buf[start] == _HASH,
                               start in candidates, terminated or stop < end, hits.get(start) if hits else None)
        finally:
            newlines = number - base_line + _newlines(buf, previous, end)
            self.report.records += newlines - not_data
        return newlines

    def _edges(self, buf: Buffer, end: int, directives: list[int]) -> set[int]:
        """The data lines next to the block's edges and to each directive (for first/last timestamps)."""
        edges: set[int] = set()
        found = _next_data(buf, 0, end) if not directives or directives[0] != 0 else None  # else: found below,
        if found is not None:  # by the search after the header block that starts the block
            edges.add(found)
        final = buf.rfind(b"\n", 0, end - 1) + 1 if buf[end - 1] == _LF else buf.rfind(b"\n", 0, end) + 1
        found = _prev_data(buf, final, end)
        if found is not None:
            edges.add(found)
        marked = set(directives)  # a header block's directives share their neighbours: looked for once
        for start in directives:
            stop = buf.find(b"\n", start, end)
            if stop >= 0 and stop + 1 not in marked:  # else the next directive's search goes as far, and further
                found = _next_data(buf, stop + 1, end)
                if found is not None:
                    edges.add(found)
            if start > 0:
                before = buf.rfind(b"\n", 0, start - 1) + 1
                if before in marked and before < start:  # the previous directive's search goes further
                    continue
                found = _prev_data(buf, before, end)
                if found is not None:
                    edges.add(found)
        return edges


_COUNT_PIECE = 256 << 10  # bytes copied at once by ``_newlines``


def _newlines(buf: Buffer, start: int, end: int) -> int:
    """The newlines in ``buf[start:end]``. ``bytearray.count`` of one byte goes byte by byte, where
    ``replace`` finds each newline with memchr: for a long range, a piece's length less its length without
    newlines is about twice as fast, even with the copies (bounded: one piece at a time)."""
    if end - start <= 4096:
        return buf.count(b"\n", start, end)
    total = 0
    for piece_start in range(start, end, _COUNT_PIECE):
        piece = buf[piece_start:min(end, piece_start + _COUNT_PIECE)]
        total += len(piece) - len(piece.replace(b"\n", b""))
    return total


def _is_blank(buf: Buffer, start: int, end: int) -> int:
    """1 when the line at ``start`` is empty or a lone CR, else 0."""
    if start >= end:
        return 0
    first = buf[start]
    if first == _LF:
        return 1
    if first == _CR and (start + 1 == end or buf[start + 1] == _LF):
        return 1
    return 0


def _is_data(buf: Buffer, start: int, end: int) -> bool:
    return start < end and buf[start] != _HASH and not _is_blank(buf, start, end)


def _next_data(buf: Buffer, start: int, end: int) -> int | None:
    for _ in range(_EDGE_STEPS):
        if start >= end:
            return None
        if _is_data(buf, start, end):
            return start
        stop = buf.find(b"\n", start, end)
        if stop < 0:
            return None
        start = stop + 1
    return None


def _prev_data(buf: Buffer, start: int, end: int) -> int | None:
    for _ in range(_EDGE_STEPS):
        if _is_data(buf, start, end):
            return start
        if start == 0:
            return None
        start = buf.rfind(b"\n", 0, start - 1) + 1
    return None


class _Prefixed:
    """Reads ``prefix`` (bytes already read from the handle) and then the handle, as one stream."""

    def __init__(self, prefix: bytes, read_into: Callable[[memoryview], int]) -> None:
        self.rest = memoryview(prefix)
        self.read_into = read_into

    def readinto(self, target: memoryview) -> int:
        served = min(len(target), len(self.rest))
        if served:
            target[:served] = self.rest[:served]
            self.rest = self.rest[served:]
            if served == len(target):
                return served
        return served + self.read_into(target[served:])


def _readinto(handle: BinaryIO) -> Callable[[memoryview], int]:
    method = getattr(handle, "readinto", None)
    if method is not None:
        def read_into(target: memoryview) -> int:
            return int(method(target) or 0)
        return read_into

    def copy_into(target: memoryview) -> int:
        data = handle.read(len(target))
        target[: len(data)] = data
        return len(data)
    return copy_into

