"""The shared literal scan: Hyperscan and the pure-Python path give the same answers."""

from __future__ import annotations

import pickle
import random
from pathlib import Path

import pytest

from exhunt.content.cache import BlobCache, take_problems
from exhunt.detectors import literalscan
from exhunt.detectors.literalscan import LiteralScan
from exhunt.parsers.base import LiteralTest, RecordGate

LITERALS = ["serverinfo~", "/ecp/", "python-requests/2.25.1", "lsass.exe", "5.254.43.18"]


def test_finds_every_literal_present_case_insensitively() -> None:
    scan = LiteralScan(LITERALS)
    text = '{"Image":"C:\\\\Windows\\\\System32\\\\LSASS.EXE","UA":"Python-Requests/2.25.1"}'
    assert sorted(scan.found(text)) == [2, 3]
    assert scan.any(text)
    assert not scan.any("nothing of interest here")
    assert scan.found("") == []


@pytest.mark.skipif(literalscan.hyperscan is None, reason="hyperscan not installed")
def test_hyperscan_and_python_agree_on_random_texts() -> None:
    rng = random.Random(20261129)
    alphabet = "abcdeABCDE.-/~ 0123"
    for _ in range(300):
        literals = sorted({"".join(rng.choice(alphabet) for _ in range(rng.randint(3, 5))).lower()
                           for _ in range(rng.randint(4, 12))})
        fast, slow = LiteralScan(literals), LiteralScan(literals, force_python=True)
        for _ in range(5):
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
            assert sorted(fast.found(text)) == sorted(slow.found(text)), (literals, text)
            assert fast.any(text) == slow.any(text), (literals, text)


def test_non_ascii_literals_are_matched_like_python_lowercasing() -> None:
    """Hyperscan folds ASCII case only: a set with another literal is tested with ``in`` instead."""
    scan = LiteralScan(["ÄRGER.aspx", "/ecp/", "abc", "xyz1"])
    assert scan.any("c:\\inetpub\\Ärger.ASPX")


def test_lone_surrogates_do_not_break_the_scan() -> None:
    scan = LiteralScan(LITERALS)
    assert scan.any("bad \udcff byte then /ECP/ path")


def test_survives_pickling_for_worker_processes() -> None:
    scan = pickle.loads(pickle.dumps(LiteralScan(LITERALS)))
    assert sorted(scan.found("GET /ecp/ from 5.254.43.18")) == [1, 4]


@pytest.mark.skipif(literalscan.hyperscan is None, reason="hyperscan not installed")
def test_cached_database_is_loaded_not_compiled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = BlobCache(tmp_path, "hyperscan")
    first = LiteralScan(LITERALS, cache=cache)
    assert len(list((tmp_path / "hyperscan").glob("*.blob"))) == 1

    class NoCompile:
        def __init__(self, *_: object, **__: object) -> None:
            raise AssertionError("compiled although cached")
    monkeypatch.setattr(literalscan.hyperscan, "Database", NoCompile)
    second = LiteralScan(LITERALS, cache=cache)
    text = "GET /ecp/x.js python-requests/2.25.1 LSASS.EXE"
    assert second._db is not None and sorted(second.found(text)) == sorted(first.found(text)) == [1, 2, 3]
    assert not take_problems()


@pytest.mark.skipif(literalscan.hyperscan is None, reason="hyperscan not installed")
def test_damaged_cached_database_is_rebuilt_and_said(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path, "hyperscan")
    LiteralScan(LITERALS, cache=cache)
    (entry,) = (tmp_path / "hyperscan").glob("*.blob")
    data = bytearray(entry.read_bytes())
    data[-40] ^= 0xFF
    entry.write_bytes(bytes(data))
    take_problems()
    scan = LiteralScan(LITERALS, cache=cache)
    assert scan.found("lsass.exe") == [3]
    problems = take_problems()
    assert len(problems) == 1 and problems[0][0] == str(entry) and "compiled again" in problems[0][1]
    assert cache.load(entry.stem)[1] is None  # overwritten with a sound entry
    # a payload with a sound checksum that Hyperscan refuses is rebuilt too
    cache.store(entry.stem, b"not a database")
    assert LiteralScan(LITERALS, cache=cache).found("/ECP/") == [1]
    assert "Hyperscan refused" in take_problems()[0][1]


@pytest.mark.skipif(literalscan.hyperscan is None, reason="hyperscan not installed")
def test_a_gate_carries_its_literals_and_its_union_answers_as_the_tests_ored() -> None:
    rng = random.Random(20261203)
    alphabet = "abcdeABCDE.-/~ 0123"
    for _ in range(100):
        parts = [sorted({"".join(rng.choice(alphabet) for _ in range(rng.randint(3, 5))).lower()
                         for _ in range(rng.randint(4, 10))}) for _ in range(2)]
        gates = [LiteralScan(part).gate() for part in parts]
        assert all(isinstance(gate, LiteralTest) for gate in gates)
        tests = [gate for gate in gates if isinstance(gate, LiteralTest)]
        merged = tests[0].union(tests[0].literals | tests[1].literals)
        assert merged is not None
        for _ in range(10):
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
            assert merged(text) == (tests[0](text) or tests[1](text)), (parts, text)


@pytest.mark.skipif(literalscan.hyperscan is None, reason="hyperscan not installed")
def test_a_record_with_one_detectors_literal_passes_the_merged_gate() -> None:
    sigma = LiteralScan(["mimikatz", "sekurlsa::", "procdump", "lsass.exe"]).gate()
    ioc = LiteralScan(["5.254.43.18", "python-requests/2.25.1", "serverinfo~", "/ecp/y.js"]).gate()
    route = RecordGate([lambda _c, _e: sigma, lambda _c, _e: ioc]).for_route("security", 4688)
    assert isinstance(sigma, LiteralTest) and isinstance(ioc, LiteralTest) and route not in (sigma, ioc)
    assert callable(route)
    assert route('{"CommandLine":"C:\\\\t\\\\ProcDump64.exe -ma lsass"}')  # the Sigma side only
    assert route('{"IpAddress":"5.254.43.18"}')  # the IOC side only
    assert not route('{"CommandLine":"notepad.exe"}')


def test_few_literals_scanned_with_in_give_a_plain_test_never_merged() -> None:
    gate = LiteralScan(["mimikatz", "lsass"]).gate()  # below MIN_FOR_HYPERSCAN: Python's case folding
    assert not isinstance(gate, LiteralTest) and callable(gate)
    assert gate("MIMIKATZ") and not gate("notepad")


@pytest.mark.skipif(literalscan.hyperscan is None, reason="hyperscan not installed")
def test_a_union_is_built_once_per_process_for_every_gate_that_asks() -> None:
    literals = ["mimikatz", "sekurlsa::", "procdump", "lsass.exe"]
    first, second = LiteralScan(literals).gate(), LiteralScan(literals).gate()  # two hosts' detectors
    assert isinstance(first, LiteralTest) and isinstance(second, LiteralTest)
    union = first.literals | {"5.254.43.18"}
    merged = first.union(union)
    assert merged is not None and second.union(union) is merged
    assert merged("x 5.254.43.18 y") and merged("LSASS.EXE") and not merged("notepad")
