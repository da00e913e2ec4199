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


@pytest.mark.parametrize(("pattern", "flags", "expected"), [
    (r"\w+`(?:\w+|-|.)`[\w+|\s]", 0, (("`", 2),)),
    (r"\+.*\+.*\+", 0, (("+", 3),)),
    (r"(?i)\$\{`?e`?n", 0, (("$", 1), ("{", 1))),  # letters fold: not counted
    (r"abc", __import__("re").IGNORECASE, ()),
    (r"a(?i:b)c", 0, ()),  # folding turned on in a group: letters not counted anywhere
    (r"(?:ab)+c", 0, (("a", 1), ("b", 1), ("c", 1))),
    (r"x?y*z{0,3}(?:p|q)[rs](?=t)", 0, ()),  # optional parts, alternatives, classes, look-ahead: nothing
])
def test_required_characters(pattern: str, flags: int, expected: tuple[tuple[str, int], ...]) -> None:
    from exhunt.detectors.sigma.regex import required
    assert required(pattern, flags) == expected


@pytest.mark.parametrize("pattern", [
    r"\w+`(?:\w+|-|.)`[\w+|\s]", r'"(?:\{\d\})+"\s*-f', r"(?i)\$\{`?e`?n`?v`?:`?p`?a`?t`?h`?\}",
    r"\+.*\+.*\+.*\+", r"\^.*\^.*\^", r"(?i)ab+c", r"(a|b)c\1", r"x(?:yz){2,}",
])
def test_required_characters_never_change_an_answer(pattern: str) -> None:
    import re
    texts = ["", "a`b`c", "iex`x`y ", '"{0}{1}" -f', '"{0}"-f', "${e`Nv:pATh}", "${env:path}", "+a+b+c+",
             "+++", "^a^b^", "^^", "ABBC", "abc", "aca", "acaa", "bcb", "xyzyz", "xyz", "x" * (LONG + 5) + "`a`b"]
    for full in (False, True):
        test = compile_test(pattern, re.DOTALL, full=full)
        python = re.compile(pattern, re.DOTALL)
        for text in texts:
            expected = (python.fullmatch if full else python.search)(text) is not None
            assert test(text) is expected, (pattern, full, text)
