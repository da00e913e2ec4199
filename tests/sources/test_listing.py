"""The packed listing and artifacts read back exactly what was put in (#14: memory per file)."""

from __future__ import annotations

import pytest

from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.sources.base import FileEntry
from exhunt.sources.listing import ArtifactList, Listing, has_kind, of_kinds, paths_of, times_of

ENTRIES = [
    FileEntry("C/b/page.aspx", 1900, "2021-03-03T01:02:03Z"),
    FileEntry("C/a/é\\xff.aspx", 0, None),  # non-ASCII, an escaped name, no time
    FileEntry("C/a.txt", 2**40, "10-01-01T00:00:00Z"),  # a far year's time is not 20 characters
    FileEntry("C/a/\udcff", 7, "2021-03-03T01:02:03Z"),  # a lone surrogate still round-trips
]


def test_listing_reads_back_what_was_put_in() -> None:
    listing = Listing(ENTRIES)
    assert len(listing) == 4
    assert list(listing) == ENTRIES
    assert listing[-1] == ENTRIES[-1]
    assert listing[1:3] == ENTRIES[1:3]
    with pytest.raises(IndexError):
        listing[4]


def test_sort_orders_as_str_does_and_find_locates() -> None:
    listing = Listing(ENTRIES)
    assert listing.find("C/a.txt") is None  # not in order yet: no bisection
    listing.sort()
    assert list(listing) == sorted(ENTRIES, key=lambda e: e.path)
    for position, entry in enumerate(listing):
        assert listing.find(entry.path) == position
        assert listing.find(entry.path, near=position) == position
        assert listing.find(entry.path, near=0) == position
    assert listing.find("C/zz") is None
    assert listing.find("") is None


def test_find_gives_the_first_of_a_name_listed_twice() -> None:
    listing = Listing([FileEntry("a", 1), FileEntry("b", 2), FileEntry("b", 3), FileEntry("c", 4)])
    assert listing.find("b") == 1
    assert listing.find("b", near=2) == 1


def test_artifact_list_makes_equal_artifacts_and_keeps_added_ones() -> None:
    listing = Listing(ENTRIES)
    artifacts = ArtifactList(listing)
    artifacts.classified(ArtifactKind.FILE)
    artifacts.classified(ArtifactKind.EVTX, (("channel", "Security"),))
    artifacts.classified(ArtifactKind.IIS, (("site", "W3SVC1"),))
    artifacts.classified(ArtifactKind.FILE)
    extra = Artifact(ArtifactKind.FILE, "C/extra", 3)
    artifacts.append(extra)
    assert len(artifacts) == 5
    made = list(artifacts)
    assert made[1] == Artifact(ArtifactKind.EVTX, ENTRIES[1].path, 0, None, (("channel", "Security"),))
    assert made[2].attr("site") == "W3SVC1" and made[2].mtime == "10-01-01T00:00:00Z"
    assert artifacts[0] == made[0] and artifacts[0] is not made[0]
    assert artifacts[4] is extra and artifacts[-1] is extra
    assert artifacts.listing is listing


def _many(count: int) -> list[FileEntry]:
    entries = [FileEntry(f"C/inetpub/wwwroot/app{n % 50}/page{n:06d}.aspx", n, "2021-03-03T01:02:03Z")
               for n in range(count)]
    entries[1500] = FileEntry("C/inetpub/wwwroot/app0/page001500-é.aspx", 1, None)  # one block not ASCII
    entries[2100] = FileEntry("C/inetpub/wwwroot/app0/page002100.aspx", 2, "10-01-01T00:00:00Z")  # odd time
    return entries


def test_passes_decode_by_block_and_read_back_every_file() -> None:
    """Passes decode a block of files at a time: across blocks, in a block that is not ASCII, with odd
    times, they give what was put in, as reading one position at a time does."""
    entries = _many(3 * 1024 + 17)
    listing = Listing(entries)
    assert list(listing) == entries
    assert list(listing.paths()) == [e.path for e in entries]
    artifacts = ArtifactList(listing)
    for _ in entries:
        artifacts.classified(ArtifactKind.FILE)
    made = list(artifacts)
    assert made == [artifacts[n] for n in range(len(entries))]
    assert made[1500].path.endswith("-é.aspx") and made[2100].mtime == "10-01-01T00:00:00Z"


def test_memory_held_per_file_is_a_few_packed_bytes() -> None:
    """#14: what a host's listing and classified artifacts hold per file is packed bytes (the path's UTF-8,
    an offset, a size, the time as text, the kind), not Python objects per file."""
    import tracemalloc

    entries = _many(20_000)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        listing = Listing(entries)
        artifacts = ArtifactList(listing)
        for _ in entries:
            artifacts.classified(ArtifactKind.FILE)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    path_bytes = sum(len(e.path.encode()) for e in entries) / len(entries)
    assert held / len(entries) < path_bytes + 8 + 8 + 20 + 1 + 16  # growth slack of the buffers


def _mixed(count: int) -> tuple[ArtifactList, list[Artifact]]:
    """A packed list over several blocks (kinds in runs and alone, odd times, a non-ASCII name), and the
    artifacts it should give, an added one at the end."""
    kinds = (ArtifactKind.FILE, ArtifactKind.IIS, ArtifactKind.EVTX)
    entries = [FileEntry(f"C/d{n:05d}/{'é' if n == 1500 else ''}f", n,
                         None if n % 7 == 0 else ("1-01-01T00:00:00Z" if n % 11 == 0 else "2021-03-03T01:02:03Z"))
               for n in range(count)]
    listing = Listing(entries)
    artifacts = ArtifactList(listing)
    expected: list[Artifact] = []
    for n, entry in enumerate(entries):
        kind = kinds[0] if n < 2100 else kinds[n % 3] if n < 2500 else kinds[1] if n == 2999 else kinds[0]
        attrs = (("site", "W3SVC1"),) if kind is ArtifactKind.IIS else ()
        artifacts.classified(kind, attrs)
        expected.append(Artifact(kind, entry.path, entry.size, entry.mtime, attrs))
    added = Artifact(ArtifactKind.EVTX, "C/added.evtx", 1)
    artifacts.append(added)
    expected.append(added)
    return artifacts, expected


@pytest.mark.parametrize("kinds", [(ArtifactKind.FILE,), (ArtifactKind.IIS,), (ArtifactKind.EVTX,),
                                   (ArtifactKind.IIS, ArtifactKind.EVTX), (ArtifactKind.MFT,), tuple(ArtifactKind)])
def test_passes_by_kind_give_what_a_whole_pass_filtered_gives(kinds: tuple[ArtifactKind, ...]) -> None:
    artifacts, expected = _mixed(3000)
    wanted = [a for a in expected if a.kind in kinds]
    assert list(artifacts.of_kinds(kinds)) == wanted
    assert list(of_kinds(artifacts, kinds)) == list(of_kinds(expected, kinds)) == wanted
    assert list(artifacts.paths(kinds)) == list(paths_of(expected, kinds)) == [a.path for a in wanted]
    assert [has_kind(artifacts, kind) for kind in kinds] == [any(a.kind is kind for a in expected) for kind in kinds]


def test_paths_and_times_of_a_whole_pass() -> None:
    artifacts, expected = _mixed(3000)
    assert list(paths_of(artifacts)) == [a.path for a in expected]
    assert list(times_of(artifacts)) == list(times_of(expected)) == [(a.kind, a.path, a.mtime) for a in expected]


def test_sort_moves_packed_bytes_and_keeps_times_and_duplicates() -> None:
    entries = [FileEntry("b", 1, "2021-03-03T01:02:03Z"), FileEntry("a/é", 2, "1-01-01T00:00:00Z"),
               FileEntry("b", 3, None), FileEntry("a", 4, "2021-03-03T01:02:04Z")]
    listing = Listing(entries)
    assert listing.sort() == [3, 1, 0, 2]
    assert list(listing) == [entries[3], entries[1], entries[0], entries[2]]
    assert listing.ordered and listing.find("b", near=2) == 2 and listing.find("b") == 2
    assert listing.find("a/é") == 1 and listing.find("a/é", near=0) == 1
