"""Hyperscan databases kept between runs: the same answers from a cached database, a damaged entry compiled
again and noted, and the text prefilters using the folder the engine names."""

from __future__ import annotations

from pathlib import Path

import pytest

from exhunt.content import hyperscan_db
from exhunt.content.cache import BlobCache, take_problems

hs = pytest.importorskip("hyperscan")


def _matches(database: object, text: bytes) -> list[int]:
    found: list[int] = []
    database.scan(text, match_event_handler=lambda i, _s, _e, _f, _c: found.append(i),  # type: ignore[attr-defined]
                  scratch=hs.Scratch(database))
    return found


def test_a_cached_database_gives_the_same_answers_and_a_damaged_one_is_rebuilt(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path, "hyperscan")
    expressions, flags = [b"proxylogon", b"autodiscover"], [hs.HS_FLAG_CASELESS] * 2
    first = hyperscan_db.compile_database(hs, expressions, flags, tag="t", literal=True, cache=cache)
    [entry] = list((tmp_path / "hyperscan").glob("*.blob"))
    second = hyperscan_db.compile_database(hs, expressions, flags, tag="t", literal=True, cache=cache)
    text = b"GET /AutoDiscover/x ProxyLogon"
    assert _matches(first, text) == _matches(second, text) == [1, 0]
    take_problems()
    entry.write_bytes(entry.read_bytes()[:-3] + b"XYZ")
    third = hyperscan_db.compile_database(hs, expressions, flags, tag="t", literal=True, cache=cache)
    assert _matches(third, text) == [1, 0]
    [(path, message)] = take_problems()
    assert path == str(entry) and "checksum" in message and "compiled again" in message


def test_the_key_changes_with_expressions_flags_and_kind() -> None:
    base = hyperscan_db.database_key("t", [b"a"], [0], True, hs)
    assert base != hyperscan_db.database_key("t", [b"b"], [0], True, hs)
    assert base != hyperscan_db.database_key("t", [b"a"], [1], True, hs)
    assert base != hyperscan_db.database_key("t", [b"a"], [0], False, hs)
    assert base != hyperscan_db.database_key("u", [b"a"], [0], True, hs)


def test_text_prefilters_keep_their_databases_in_the_named_folder(tmp_path: Path) -> None:
    from exhunt.parsers.prefilter import HyperscanPrefilter

    hyperscan_db.use_folder(str(tmp_path))
    try:
        prefilter = HyperscanPrefilter([b"/ecp/", b"x-anonbackend"])
    finally:
        hyperscan_db.use_folder(None)
    assert list((tmp_path / "hyperscan").glob("*.blob"))
    assert prefilter.scan(b"POST /ecp/y.js\n") == [5]


class _NoCompile:
    """The hyperscan module, except that building a database fails: what is returned came from bytes."""

    def __init__(self) -> None:
        self.__version__ = hs.__version__
        self.HS_MODE_BLOCK = hs.HS_MODE_BLOCK
        self.loadb, self.dumpb = hs.loadb, hs.dumpb

    def Database(self, **_: object) -> object:  # named as the module names it
        raise AssertionError("compiled although the database was handed")


def test_a_handed_database_is_used_under_its_own_key_without_compiling() -> None:
    expressions, flags = [b"proxylogon", b"autodiscover"], [hs.HS_FLAG_CASELESS] * 2
    blobs = hyperscan_db.recorded(lambda: hyperscan_db.compile_database(hs, expressions, flags, tag="t", literal=True))
    assert list(blobs) == [hyperscan_db.database_key("t", expressions, flags, True, hs)]
    hyperscan_db.hand(blobs)
    try:
        database = hyperscan_db.compile_database(_NoCompile(), expressions, flags, tag="t", literal=True)
        assert _matches(database, b"GET /AutoDiscover/x ProxyLogon") == [1, 0]
        with pytest.raises(AssertionError):  # other expressions: not what was handed
            hyperscan_db.compile_database(_NoCompile(), [b"proxyshell"], [0], tag="t", literal=True)
    finally:
        hyperscan_db.take_back(blobs)
    with pytest.raises(AssertionError):  # taken back
        hyperscan_db.compile_database(_NoCompile(), expressions, flags, tag="t", literal=True)



def test_a_database_two_hand_overs_hold_stays_until_both_are_taken_back() -> None:
    """Two runs' plugins on one worker may hand the same database: the first taken back leaves it (review)."""
    expressions, flags = [b"ecp/default.flt"], [hs.HS_FLAG_CASELESS]
    blobs = hyperscan_db.recorded(lambda: hyperscan_db.compile_database(hs, expressions, flags, tag="t", literal=True))
    hyperscan_db.hand(blobs)
    hyperscan_db.hand(dict(blobs))
    try:
        hyperscan_db.take_back(blobs)
        hyperscan_db.compile_database(_NoCompile(), expressions, flags, tag="t", literal=True)  # still handed
    finally:
        hyperscan_db.take_back(blobs)
    with pytest.raises(AssertionError):  # both taken back
        hyperscan_db.compile_database(_NoCompile(), expressions, flags, tag="t", literal=True)

def test_a_handed_database_the_library_refuses_is_compiled_quietly() -> None:
    expressions, flags = [b"x-anonresource"], [hs.HS_FLAG_CASELESS]
    key = hyperscan_db.database_key("t", expressions, flags, True, hs)
    take_problems()
    hyperscan_db.hand({key: b"not a database"})
    try:
        database = hyperscan_db.compile_database(hs, expressions, flags, tag="t", literal=True)
    finally:
        hyperscan_db.take_back({key: b""})
    assert _matches(database, b"X-AnonResource: true") == [0]
    assert take_problems() == []  # not the user's cache folder: nothing to report


def test_recorded_gives_the_databases_loaded_from_the_folder_as_well_as_the_compiled(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path, "hyperscan")
    expressions, flags = [b"/owa/auth/"], [hs.HS_FLAG_CASELESS]
    compiled = hyperscan_db.recorded(lambda: hyperscan_db.compile_database(hs, expressions, flags, tag="t",
                                                                            cache=cache))
    loaded = hyperscan_db.recorded(lambda: hyperscan_db.compile_database(hs, expressions, flags, tag="t",
                                                                          cache=cache))
    assert compiled == loaded and len(compiled) == 1
    assert hyperscan_db.recorded(lambda: None) == {}
    with pytest.raises(ValueError):
        hyperscan_db.recorded(lambda: int("x"))
