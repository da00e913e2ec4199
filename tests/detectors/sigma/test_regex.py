"""Rule regexes cannot be stalled by crafted evidence (nested quantifiers, long values)."""

from __future__ import annotations

import time

import pytest

from exhunt.detectors.sigma.regex import LONG, compile_test, risky


@pytest.mark.parametrize(("pattern", "expected"), [
    (r"(a+)+$", True), (r"(a|aa)*b", True), (r"(?:x\d+)*y", True),
    (r"^cmd\.exe$", False), (r"-e(nc)?\s+[a-z0-9+/=]{20,}", False), (r"a.*b.*c", False),
])
def test_risky_patterns(pattern: str, expected: bool) -> None:
    assert risky(pattern) is expected


def test_nested_quantifier_on_crafted_value_is_fast() -> None:
    test = compile_test(r"(a+)+$")
    start = time.perf_counter()
    assert not test("a" * 40 + "!")  # exponential on a backtracking engine
    assert time.perf_counter() - start < 1.0


def test_long_values_and_flags_keep_semantics() -> None:
    search = compile_test(r"^b$", __import__("re").MULTILINE)
    assert search("a\nb\nc") and search("x" * (LONG + 10) + "\nb\n")
    full = compile_test(r"a.*b", __import__("re").DOTALL, full=True)
    assert full("a\nxb") and not full("a\nxbc")
    assert full("a" + "x" * (LONG + 10) + "b") and not full("a" + "x" * (LONG + 10) + "bc")


def test_lookaround_stays_on_python_engine() -> None:
    test = compile_test(r"foo(?!bar)")
    assert test("foobaz") and not test("foobar")
