"""Compiled Sigma detections as plain data (*programs*), and the matcher closures built from them.

``compile.py`` lowers pySigma's condition trees to programs: nested tuples of strings, numbers and
booleans. This module, which does not import pySigma, builds the closures evaluated per event from a
program. Programs are what cached content and other processes receive: a run that finds its rules in the
content cache never imports pySigma.

Node programs::

    ("and", (node, ...))  ("or", (node, ...))  ("not", node)  ("false",)
    ("field", names, exact, value)       one test on the first of ``names`` present in the event
    ("null", names)  ("exists", names, want)
    ("fieldref", names, other_names, starts, ends)
    ("keyword", value)                   any value of the event (full-text search)

Value programs::

    ("str", lower, ((shape, payload), ...))   shape: eq, prefix, suffix, contains, any, regex (wildcards)
    ("re", pattern, flags)  ("num", number)  ("bool", want)  ("cmp", op, bound)  ("cidr", network)
    ("ts", part, number)
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from typing import Any, Literal

from exhunt.detectors.sigma.regex import compile_test
from exhunt.detectors.sigma.view import MISSING, EventView, as_text

Program = tuple[Any, ...]
Matcher = Callable[[EventView], bool]
StrTest = Callable[[str], bool]
On = Literal["low", "text", "raw"]
MANY_SUBSTRINGS = 24

hyperscan: Any
try:  # optional accelerator for long substring lists
    import hyperscan
except ImportError:  # pragma: no cover - hyperscan is a declared dependency
    hyperscan = None


@dataclass(frozen=True, slots=True)
class ValueTest:
    """A test of one field value: on its lowercase text, its text, or the raw value (MISSING-free)."""

    on: On
    test: Callable[[Any], bool]


# -- strings ----------------------------------------------------------------------------------------------


def shapes_test(shapes: Sequence[Sequence[str]]) -> StrTest:
    """One test for OR-linked string shapes of one field: any of them matches."""
    by_shape: dict[str, set[str]] = {"eq": set(), "prefix": set(), "suffix": set(), "contains": set(), "regex": set()}
    for shape, payload in shapes:
        if shape == "any":
            return lambda text: True
        by_shape[shape].add(payload)
    eq, prefixes, suffixes, contains, regexes = by_shape.values()
    tests: list[StrTest] = []
    if eq:
        tests.append(frozenset(eq).__contains__)
    if prefixes:
        pre = tuple(sorted(prefixes))
        tests.append(lambda text: text.startswith(pre))
    if suffixes:
        suf = tuple(sorted(suffixes))
        tests.append(lambda text: text.endswith(suf))
    if contains:
        tests.append(_contains_any(tuple(sorted(contains, key=lambda s: (-len(s), s)))))
    if regexes:
        tests.append(compile_test("|".join(f"(?:{r})" for r in sorted(regexes)), re.DOTALL, full=True))
    if len(tests) == 1:
        return tests[0]
    all_tests = tuple(tests)

    def any_test(text: str) -> bool:
        for test in all_tests:  # noqa: SIM110 - a plain loop beats any(<genexpr>) on the hot path
            if test(text):
                return True
        return False
    return any_test


def _contains_any(subs: tuple[str, ...]) -> StrTest:
    if len(subs) == 1:
        sub = subs[0]
        return lambda text: sub in text
    if len(subs) > MANY_SUBSTRINGS and hyperscan is not None:
        return _many_substrings(subs)

    def contains_any(text: str) -> bool:
        for sub in subs:  # noqa: SIM110 - a plain loop beats any(<genexpr>) on the hot path
            if sub in text:
                return True
        return False
    return contains_any


def _many_substrings(subs: Sequence[str]) -> StrTest:
    """Any of many substrings (emoji lists, tool names: hundreds): one Hyperscan pass instead of a loop.

    Built with the rule (literal mode); the database is shared by threads, each with its own scratch.
    """
    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    db.compile(expressions=[sub.encode("utf-8", "surrogatepass") for sub in subs], ids=list(range(len(subs))),
               elements=len(subs), flags=[hyperscan.HS_FLAG_SINGLEMATCH] * len(subs), literal=True)
    local = threading.local()

    def stop(*_: Any) -> bool:
        return True  # first match ends the scan

    def test(text: str) -> bool:
        scratch = getattr(local, "scratch", None)
        if scratch is None:
            scratch = local.scratch = hyperscan.Scratch(db)
        try:
            db.scan(text.encode("utf-8", "surrogatepass"), match_event_handler=stop, scratch=scratch)
        except hyperscan.ScanTerminated:
            return True
        return False
    return test


# -- other values -----------------------------------------------------------------------------------------


def _to_number(value: Any) -> float | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    text = as_text(value).strip()
    if not text:
        return None
    try:
        if text[:2].lower() == "0x":
            return int(text, 16)
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return None


COMPARE: dict[str, Callable[[float, float], bool]] = {
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "neq": lambda a, b: a != b,
}

TIME_PARTS: dict[str, Callable[[datetime], int]] = {
    "minute": lambda d: d.minute,
    "hour": lambda d: d.hour,
    "day": lambda d: d.day,
    "week": lambda d: d.isocalendar().week,
    "month": lambda d: d.month,
    "year": lambda d: d.year,
}


def _parse_time(value: Any) -> datetime | None:
    text = as_text(value).strip().replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _number_test(number: float | int) -> Callable[[Any], bool]:
    text_form = str(number)

    def number_test(raw: Any) -> bool:
        if type(raw) is int or type(raw) is float:
            return bool(raw == number)
        text = as_text(raw).strip()
        if text == text_form:
            return True
        return _to_number(text) == number
    return number_test


def _bool_test(want: bool) -> Callable[[Any], bool]:
    words = ("true", "1") if want else ("false", "0")

    def bool_test(raw: Any) -> bool:
        if isinstance(raw, bool):
            return raw is want
        return as_text(raw).strip().lower() in words
    return bool_test


def _compare_test(op: str, bound: float | int) -> Callable[[Any], bool]:
    compare = COMPARE[op]

    def compare_test(raw: Any) -> bool:
        number = _to_number(raw)
        return number is not None and compare(number, bound)
    return compare_test


@lru_cache(maxsize=4096)
def _address(text: str) -> IPv4Address | IPv6Address | None:
    """An address parsed once for every cidr test that reads it (rule sets test one field against many
    networks; records repeat the same few addresses)."""
    try:
        return ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def _cidr_test(cidr: str) -> Callable[[Any], bool]:
    network = ip_network(cidr, strict=False)

    def cidr_test(raw: Any) -> bool:
        address = _address(as_text(raw))
        if address is None:
            return False
        if address in network:
            return True
        mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:10.1.2.3 written by dual-stack sockets
        return mapped is not None and mapped in network
    return cidr_test


def _stamp_test(part_name: str, want: int) -> Callable[[Any], bool]:
    part = TIME_PARTS[part_name]

    def stamp_test(raw: Any) -> bool:
        parsed = _parse_time(raw)
        return parsed is not None and part(parsed) == want
    return stamp_test


def build_value(program: Program) -> ValueTest:
    """The test a value program describes. ``re.error`` escapes for a regex Python cannot compile."""
    kind = program[0]
    if kind == "str":
        return ValueTest("low" if program[1] else "text", shapes_test(program[2]))
    if kind == "re":
        return ValueTest("text", compile_test(program[1], program[2]))
    if kind == "num":
        return ValueTest("raw", _number_test(program[1]))
    if kind == "bool":
        return ValueTest("raw", _bool_test(program[1]))
    if kind == "cmp":
        return ValueTest("raw", _compare_test(program[1], program[2]))
    if kind == "cidr":
        return ValueTest("raw", _cidr_test(program[1]))
    if kind == "ts":
        return ValueTest("raw", _stamp_test(program[1], program[2]))
    raise ValueError(f"unknown value program {kind!r}")


# -- conditions -------------------------------------------------------------------------------------------


def _and(matchers: Sequence[Matcher]) -> Matcher:
    if len(matchers) == 1:
        return matchers[0]
    if len(matchers) == 2:
        a, b = matchers
        return lambda v: a(v) and b(v)
    ms = tuple(matchers)

    def all_of(v: EventView) -> bool:
        for m in ms:  # noqa: SIM110 - a plain loop beats all(<genexpr>) on the hot path
            if not m(v):
                return False
        return True

    return all_of


def _or(matchers: Sequence[Matcher]) -> Matcher:
    if not matchers:
        return lambda v: False
    if len(matchers) == 1:
        return matchers[0]
    if len(matchers) == 2:
        a, b = matchers
        return lambda v: a(v) or b(v)
    ms = tuple(matchers)

    def any_of(v: EventView) -> bool:
        for m in ms:  # noqa: SIM110 - a plain loop beats any(<genexpr>) on the hot path
            if m(v):
                return True
        return False

    return any_of


def _field_test(names: tuple[str, ...], test: ValueTest, exact: str = "") -> Matcher:
    """``exact``: the field name as the rule writes it (unmapped fields), tried before the case-free map."""
    fn = test.test
    if len(names) == 1:
        name = names[0]
        if test.on == "low":
            def low_one(v: EventView) -> bool:
                text = v.low(name, exact)
                return text is not None and fn(text)
            return low_one
        if test.on == "text":
            def text_one(v: EventView) -> bool:
                text = v.text(name)
                return text is not None and fn(text)
            return text_one

        def raw_one(v: EventView) -> bool:
            raw = v.raw(name, exact)
            return raw is not MISSING and raw is not None and fn(raw)
        return raw_one

    # the first of ``names`` present decides; ``low`` and ``text`` give None exactly when a field is absent
    if test.on == "low":
        def many_low(v: EventView) -> bool:
            for name in names:
                text = v.low(name)
                if text is not None:
                    return fn(text)
            return False
        return many_low
    if test.on == "text":
        def many_text(v: EventView) -> bool:
            for name in names:
                text = v.text(name)
                if text is not None:
                    return fn(text)
            return False
        return many_text

    def many(v: EventView) -> bool:
        for name in names:
            raw = v.raw(name)
            if raw is not MISSING:
                return raw is not None and fn(raw)
        return False
    return many


def _null_test(names: tuple[str, ...]) -> Matcher:
    def is_null(v: EventView) -> bool:
        for name in names:
            raw = v.raw(name)
            if raw is not MISSING:
                return raw is None or v.low(name) == ""
        return True
    return is_null


def _exists_test(names: tuple[str, ...], want: bool) -> Matcher:
    return lambda v: any(v.raw(n) is not MISSING for n in names) is want


def _fieldref_test(names: tuple[str, ...], other: tuple[str, ...], starts: bool, ends: bool) -> Matcher:
    def first(v: EventView, candidates: tuple[str, ...]) -> str | None:
        for name in candidates:
            text = v.low(name)
            if text is not None:
                return text
        return None

    def compare(v: EventView) -> bool:
        mine, theirs = first(v, names), first(v, other)
        if mine is None or theirs is None:
            return False
        if starts and ends:
            return theirs in mine
        if starts:
            return mine.startswith(theirs)
        if ends:
            return mine.endswith(theirs)
        return mine == theirs
    return compare


def _keyword_test(test: ValueTest) -> Matcher:
    fn = test.test
    if test.on == "low":
        return lambda v: any(fn(t) for t in v.low_values())
    return lambda v: any(fn(t) for t in v.values())


def build(program: Program) -> Matcher:
    """The matcher a node program describes (see the module doc)."""
    kind = program[0]
    if kind == "and":
        return _and([build(p) for p in program[1]])
    if kind == "or":
        return _or([build(p) for p in program[1]])
    if kind == "not":
        inner = build(program[1])
        return lambda v: not inner(v)
    if kind == "field":
        return _field_test(tuple(program[1]), build_value(program[3]), program[2])
    if kind == "keyword":
        return _keyword_test(build_value(program[1]))
    if kind == "null":
        return _null_test(tuple(program[1]))
    if kind == "exists":
        return _exists_test(tuple(program[1]), program[2])
    if kind == "fieldref":
        return _fieldref_test(tuple(program[1]), tuple(program[2]), program[3], program[4])
    if kind == "false":
        return lambda v: False
    raise ValueError(f"unknown condition program {kind!r}")
