"""The shared literal scan: Hyperscan and the pure-Python path give the same answers."""

from __future__ import annotations

import pickle
import random

import pytest

from exhunt.detectors import literalscan
from exhunt.detectors.literalscan import LiteralScan

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
