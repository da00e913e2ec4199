"""A host's file listing and its classified artifacts, kept compact: a host may hold hundreds of thousands
of files, so what is kept per file is a few packed bytes, not Python objects (#14: memory must not grow
with the number of files more than it must).

``Listing`` holds every path in one UTF-8 buffer with an array of end offsets, sizes in an ``array`` and
modification times as fixed 20-byte text; ``FileEntry`` objects are made when asked for. ``ArtifactList``
adds one byte per file (the kind) and the few kind-specific attributes, and makes ``Artifact`` objects on
the fly. Both read back exactly what was put in.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Collection, Iterable, Iterator, Sequence
from itertools import repeat
from typing import overload

from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.sources.base import FileEntry

_STAMP = 20  # "YYYY-MM-DDTHH:MM:SSZ"
_NO_STAMP = bytes(_STAMP)  # no time recorded (None)
_KINDS = tuple(ArtifactKind)
_KIND_NUMBER = {kind: number for number, kind in enumerate(_KINDS)}
_BLOCK = 1024  # files decoded at a time by a pass over the listing
_new = tuple.__new__  # an Artifact (a named tuple) made without its Python __new__: the hot path


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")  # any str round-trips, escaped names or not


def _decode(raw: bytes | bytearray | memoryview) -> str:
    return str(raw, "utf-8", "surrogatepass")


class Listing(Sequence[FileEntry]):
    """Files of a host (path, size, time), packed. Appended in any order; ``sort()`` orders by path."""

    __slots__ = ("_ends", "_last", "_odd", "_ordered", "_paths", "_sizes", "_stamps", "_twice")

    def __init__(self, entries: Iterable[FileEntry] = ()) -> None:
        self._paths = bytearray()  # every path, UTF-8, one after the other
        self._ends = array("q")  # where each path ends in _paths
        self._sizes = array("q")
        self._stamps = bytearray()  # _STAMP bytes per file: its time as text, or zeros for None
        self._odd: dict[int, str] = {}  # times that are not _STAMP ASCII characters (forged, far years)
        self._last: str | None = None  # the path appended last
        self._ordered = True  # paths appended in order so far: ``find`` may bisect
        self._twice = False  # a path appended right after the same path (``find`` then checks for the first)
        for entry in entries:
            self.append(entry.path, entry.size, entry.mtime)

    def append(self, path: str, size: int, mtime: str | None) -> None:
        if self._last is not None and path <= self._last:
            if path == self._last:
                self._twice = True
            else:
                self._ordered = False
        self._last = path
        self._paths += _encode(path)
        self._ends.append(len(self._paths))
        self._sizes.append(size)
        if mtime is None:
            self._stamps += _NO_STAMP
        elif len(mtime) == _STAMP and mtime.isascii() and "\0" not in mtime:
            self._stamps += mtime.encode("ascii")
        else:
            self._odd[len(self._sizes) - 1] = mtime
            self._stamps += _NO_STAMP

    def __len__(self) -> int:
        return len(self._sizes)

    @property
    def ordered(self) -> bool:
        """Whether the paths are in order (``find`` may then bisect)."""
        return self._ordered

    def path(self, index: int) -> str:
        ends = self._ends
        return self._paths[ends[index - 1] if index else 0:ends[index]].decode("utf-8", "surrogatepass")

    def size(self, index: int) -> int:
        return self._sizes[index]

    def sizes(self, first: int, last: int) -> array[int]:
        return self._sizes[first:last]

    def mtime(self, index: int) -> str | None:
        start = index * _STAMP
        raw = self._stamps[start:start + _STAMP]
        if raw[0]:  # a stored time never starts with a zero byte
            return raw.decode("ascii")
        return self._odd.get(index)

    @overload
    def __getitem__(self, index: int) -> FileEntry: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[FileEntry]: ...

    def __getitem__(self, index: int | slice) -> FileEntry | Sequence[FileEntry]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("listing index out of range")
        return FileEntry(self.path(index), self._sizes[index], self.mtime(index))

    def __iter__(self) -> Iterator[FileEntry]:
        sizes = self._sizes
        for index, path, mtime in self.rows(len(self)):
            yield FileEntry(path, sizes[index], mtime)

    def block(self, first: int, last: int) -> tuple[list[str], list[str | None]]:
        """The paths and times of files ``first`` to ``last`` (one block): one decode for the block, then
        slices made by ``map`` (no Python step per file; a block that is not ASCII is decoded file by file)."""
        paths, ends = self._paths, self._ends
        base = ends[first - 1] if first else 0
        stops = [end - base for end in ends[first:last]]
        starts = [0, *stops[:-1]]
        chunk = paths[base:ends[last - 1]] if last > first else b""
        if chunk.isascii():
            names = list(map(chunk.decode("ascii").__getitem__, map(slice, starts, stops)))
        else:
            names = [_decode(chunk[start:stop]) for start, stop in zip(starts, stops, strict=True)]
        times = self._stamps[first * _STAMP:last * _STAMP].decode("latin-1")  # ASCII times, or zeros
        offsets = range(0, len(times), _STAMP)
        stamps: list[str | None] = list(map(times.__getitem__, map(slice, offsets, range(_STAMP, len(times) + 1,
                                                                                      _STAMP))))
        if "\0" in times:  # a file without a time, or with one kept aside (``_odd``)
            odd = self._odd
            for at, stamp in enumerate(stamps):
                if stamp is not None and stamp[0] == "\0":
                    stamps[at] = odd.get(first + at)
        return names, stamps

    def rows(self, count: int) -> Iterator[tuple[int, str, str | None]]:
        """(position, path, time) of the first ``count`` files, in order: the passes over a whole host go
        through here, a block (``_BLOCK`` files) decoded at a time, so a pass holds one block."""
        for first in range(0, count, _BLOCK):
            last = min(first + _BLOCK, count)
            names, stamps = self.block(first, last)
            yield from zip(range(first, last), names, stamps, strict=True)

    def paths(self, count: int | None = None) -> Iterator[str]:
        """The paths of the first ``count`` files (all by default), in order, a block at a time."""
        count = len(self) if count is None else count
        for first in range(0, count, _BLOCK):
            yield from self.block(first, min(first + _BLOCK, count))[0]

    def find(self, path: str, near: int = -1) -> int | None:
        """The position of ``path`` (the first, when a name is listed twice), None when it is not listed or
        the listing is not in order. ``near``: a position to try first (a sweep asks in listing order)."""
        count, raw, ends, paths = len(self._sizes), path.encode("utf-8", "surrogatepass"), self._ends, self._paths
        for guess in (near + 1, near):  # compared as bytes: no decode on the common path (the next file)
            if 0 <= guess < count and paths[ends[guess - 1] if guess else 0:ends[guess]] == raw and (
                    (self._ordered and not self._twice) or guess == 0
                    or paths[ends[guess - 2] if guess > 1 else 0:ends[guess - 1]] != raw):
                return guess
        if not self._ordered:
            return None
        found = bisect_left(range(count), path, key=self.path)
        return found if found < count and self.path(found) == path else None

    def sort(self) -> list[int] | None:
        """Order by path (as ``str`` compares), stably; a listing already in order is left as it is (None).
        Gives the order: the old position of each file, in the new order."""
        count = len(self)
        if self._ordered:
            return None
        keys = list(self.paths())  # decoded by block; transient, one sort's worth (as the sort's own keys)
        order = sorted(range(count), key=keys.__getitem__)
        paths, ends, stamps, odd = self._paths, self._ends, self._stamps, self._odd
        moved, moved_ends, moved_stamps, moved_odd = bytearray(), array("q"), bytearray(), {}
        twice, previous = False, None
        for new, old in enumerate(order):  # the packed bytes moved as they are: no decode or encode per file
            moved += paths[ends[old - 1] if old else 0:ends[old]]
            moved_ends.append(len(moved))
            moved_stamps += stamps[old * _STAMP:(old + 1) * _STAMP]
            if old in odd:
                moved_odd[new] = odd[old]
            key = keys[old]
            twice = twice or key == previous
            previous = key
        self._paths, self._ends, self._stamps, self._odd = moved, moved_ends, moved_stamps, moved_odd
        self._sizes = array("q", (self._sizes[old] for old in order))
        self._last, self._ordered, self._twice = previous, True, twice
        return order


class ArtifactList(Sequence[Artifact]):
    """The classified files of a host: one byte (the kind) per file of a ``Listing``, the rare attributes
    aside, and any artifact added later (a detector may add one) at the end. ``Artifact`` objects are made
    when read: two reads of the same position give equal artifacts, not the same object."""

    __slots__ = ("_added", "_attrs", "_block", "_kinds", "_listing")

    def __init__(self, listing: Listing) -> None:
        self._listing = listing
        self._kinds = bytearray()
        self._attrs: dict[int, tuple[tuple[str, str], ...]] = {}
        self._added: list[Artifact] = []
        self._block: tuple[int, list[Artifact]] | None = None  # the block a pass hands out: its first position

    @property
    def listing(self) -> Listing:
        return self._listing

    def classified(self, kind: ArtifactKind, attrs: tuple[tuple[str, str], ...] = ()) -> None:
        """The kind of the next file of the listing, in order."""
        if attrs:
            self._attrs[len(self._kinds)] = attrs
        self._kinds.append(_KIND_NUMBER[kind])

    def append(self, artifact: Artifact) -> None:
        self._added.append(artifact)

    def __len__(self) -> int:
        return len(self._kinds) + len(self._added)

    def _make(self, index: int) -> Artifact:
        listing = self._listing
        return _new(Artifact, (_KINDS[self._kinds[index]], listing.path(index), listing.size(index),
                               listing.mtime(index), self._attrs.get(index, ())))

    @overload
    def __getitem__(self, index: int) -> Artifact: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Artifact]: ...

    def __getitem__(self, index: int | slice) -> Artifact | Sequence[Artifact]:
        classified = len(self._kinds)
        if type(index) is int and 0 <= index < classified:  # the common case, first
            block = self._block
            if block is not None and 0 <= index - block[0] < len(block[1]):
                return block[1][index - block[0]]
            return self._make(index)
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("artifact index out of range")
        return self._make(index) if index < classified else self._added[index - classified]

    def __iter__(self) -> Iterator[Artifact]:
        return self._pass(None)

    def _pass(self, wanted: bytes | None) -> Iterator[Artifact]:
        """Every artifact (or those whose kind number is in ``wanted``), in order: the hot path. A block's
        artifacts are made together by ``map`` (no Python step per file) and kept while it is handed out,
        so that asking one back by position (``SeenAtStart``) makes no second object."""
        kinds, attrs, names, none = self._kinds, self._attrs, _KINDS, ()
        listing, count = self._listing, len(kinds)
        for first in range(0, count, _BLOCK):
            last = min(first + _BLOCK, count)
            if wanted is not None and not any(kinds.find(number, first, last) >= 0 for number in wanted):
                continue  # no file of these kinds in the block: nothing decoded
            paths, stamps = listing.block(first, last)
            extras = [attrs.get(index, none) for index in range(first, last)] if attrs else repeat(none, last - first)
            made = list(map(_new, repeat(Artifact), zip(map(names.__getitem__, kinds[first:last]), paths,
                                                          listing.sizes(first, last), stamps, extras, strict=True)))
            self._block = (first, made)
            if wanted is None:
                yield from made
            else:
                yield from (artifact for artifact, number in zip(made, kinds[first:last], strict=True)
                            if number in wanted)
        self._block = None
        if wanted is None:
            yield from self._added
        else:
            yield from (artifact for artifact in self._added if _KIND_NUMBER[artifact.kind] in wanted)

    # -- passes that need less than whole artifacts: no Artifact made per file ----------------------------
    def _numbers(self, kinds: Collection[ArtifactKind]) -> bytes:
        return bytes(sorted({_KIND_NUMBER[kind] for kind in kinds}))

    def has(self, kind: ArtifactKind) -> bool:
        """Whether any artifact is of ``kind``."""
        return _KIND_NUMBER[kind] in self._kinds or any(a.kind is kind for a in self._added)

    def of_kinds(self, kinds: Collection[ArtifactKind]) -> Iterator[Artifact]:
        """The artifacts of these kinds, in the order of a whole pass; only those are made."""
        return self._pass(self._numbers(kinds))

    def paths(self, kinds: Collection[ArtifactKind] | None = None) -> Iterator[str]:
        """The paths of every artifact (or of those of ``kinds``), in the order of a whole pass."""
        if kinds is None:
            yield from self._listing.paths(len(self._kinds))
            yield from (artifact.path for artifact in self._added)
            return
        wanted, codes = self._numbers(kinds), self._kinds
        yield from (path for index, path, _ in self._listing.rows(len(codes)) if codes[index] in wanted)
        yield from (artifact.path for artifact in self._added if artifact.kind in kinds)

    def times(self) -> Iterator[tuple[ArtifactKind, str, str | None]]:
        """(kind, path, time) of every artifact, in the order of a whole pass."""
        kinds, names = self._kinds, _KINDS
        yield from ((names[kinds[index]], path, mtime) for index, path, mtime in self._listing.rows(len(kinds)))
        yield from ((artifact.kind, artifact.path, artifact.mtime) for artifact in self._added)


def paths_of(artifacts: Sequence[Artifact], kinds: Collection[ArtifactKind] | None = None) -> Iterator[str]:
    """The paths of ``artifacts`` (of ``kinds`` only, when given), without making an artifact per file when
    they are a packed ``ArtifactList``."""
    if isinstance(artifacts, ArtifactList):
        return artifacts.paths(kinds)
    return (a.path for a in artifacts if kinds is None or a.kind in kinds)


def of_kinds(artifacts: Sequence[Artifact], kinds: Collection[ArtifactKind]) -> Iterator[Artifact]:
    """The artifacts of ``kinds``, in order; with a packed ``ArtifactList`` only those are made."""
    if isinstance(artifacts, ArtifactList):
        return artifacts.of_kinds(kinds)
    return (a for a in artifacts if a.kind in kinds)


def has_kind(artifacts: Sequence[Artifact], kind: ArtifactKind) -> bool:
    """Whether any of ``artifacts`` is of ``kind``."""
    if isinstance(artifacts, ArtifactList):
        return artifacts.has(kind)
    return any(a.kind is kind for a in artifacts)


def times_of(artifacts: Sequence[Artifact]) -> Iterator[tuple[ArtifactKind, str, str | None]]:
    """(kind, path, time) of each of ``artifacts``, in order, without making artifacts when packed."""
    if isinstance(artifacts, ArtifactList):
        return artifacts.times()
    return ((a.kind, a.path, a.mtime) for a in artifacts)
