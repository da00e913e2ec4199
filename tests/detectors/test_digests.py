"""Digests kept by position in the host's packed listing, or by name for other paths (#14)."""

from __future__ import annotations

from exhunt.detectors.base import Digests
from exhunt.sources.base import FileEntry
from exhunt.sources.listing import Listing

ENTRIES = [FileEntry("C/a.txt", 1), FileEntry("C/a/x.aspx", 2), FileEntry("C/b/page.aspx", 3)]


def test_digests_by_position_and_by_name() -> None:
    listing = Listing(ENTRIES)
    digests = Digests(listing)
    sha = "ab" * 32
    digests.put("C/b/page.aspx", {"sha256": sha.upper()})
    digests.put("C/b/page.aspx", {"md5": "cd" * 16})  # merged with what was known
    digests.put("not/listed", {"sha1": "ef" * 20})
    assert digests.get("C/b/page.aspx") == {"md5": "cd" * 16, "sha256": sha}
    assert digests.get("not/listed") == {"sha1": "ef" * 20}
    assert digests.get("C/a.txt") == {}
    assert "C/b/page.aspx" in digests and "C/a.txt" not in digests
    assert len(digests) == 2
    assert sorted(digests) == ["C/b/page.aspx", "not/listed"]
    unlisted = Digests()
    unlisted.put("x", {"sha256": sha})
    assert unlisted.get("x") == {"sha256": sha} and list(unlisted) == ["x"]
