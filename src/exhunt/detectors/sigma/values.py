"""Value matchers: one pySigma value (after its modifiers were applied at parse time) -> a test.

pySigma has already turned ``contains``/``startswith``/``endswith``, ``base64``/``base64offset``,
``wide``/``utf16*``, ``windash`` and ``cidr`` into value types; this module turns those types into
precompiled Python tests. Strings match without case, with ``*`` and ``?`` wildcards, through the cheapest
test that fits (set membership, ``startswith``/``endswith`` on tuples, ``in``), a regex only when the
wildcards sit in the middle. Everything is compiled once; nothing is compiled per event.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from ipaddress import ip_address
from typing import Any, Literal

from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaTimestampPart,
    SpecialChars,
    TimestampPart,
)

from exhunt.detectors.sigma.regex import compile_test
from exhunt.detectors.sigma.view import MISSING, as_text

StrTest = Callable[[str], bool]
MANY_SUBSTRINGS = 24

hyperscan: Any
try:  # optional accelerator for long substring lists
    import hyperscan
except ImportError:  # pragma: no cover - hyperscan is a declared dependency
    hyperscan = None
On = Literal["low", "text", "raw"]


class Unsupported(Exception):
    """A rule (or part of one) exhunt cannot evaluate. ``code`` groups reasons in reports."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class ValueTest:
    """A test of one field value: on its lowercase text, its text, or the raw value (MISSING-free)."""

    on: On
    test: Callable[[Any], bool]


def _regex_flags(flags: set[SigmaRegularExpressionFlag]) -> int:
    out = 0
    for flag in flags:
        out |= SigmaRegularExpression.sigma_to_python_flags[flag]
    return out


def string_shape(value: SigmaString, lower: bool = True) -> tuple[str, str]:
    """Classify a Sigma string: ('eq'|'prefix'|'suffix'|'contains'|'any'|'regex', payload)."""
    parts = list(value.s)
    for part in parts:
        if isinstance(part, Placeholder):
            raise Unsupported("placeholder", f"placeholder %{part.name}% has no values (expand modifier)")

    def norm(text: str) -> str:
        return text.lower() if lower else text

    multi = SpecialChars.WILDCARD_MULTI
    inner = parts
    lead = bool(inner) and inner[0] is multi
    if lead:
        inner = inner[1:]
    trail = bool(inner) and inner[-1] is multi
    if trail:
        inner = inner[:-1]
    if not inner and (lead or trail):
        return "any", ""
    if all(isinstance(p, str) for p in inner):
        text = norm("".join(p for p in inner if isinstance(p, str)))
        if lead and trail:
            return "contains", text
        if lead:
            return "suffix", text
        if trail:
            return "prefix", text
        return "eq", text
    pattern = []
    for part in parts:
        if part is multi:
            pattern.append(".*")
        elif part is SpecialChars.WILDCARD_SINGLE:
            pattern.append(".")
        elif isinstance(part, str):
            pattern.append(re.escape(norm(part)))
    return "regex", "".join(pattern)


def string_group(values: Sequence[SigmaString], lower: bool = True) -> StrTest:
    """One test for OR-linked strings of one field: any of them matches."""
    eq: set[str] = set()
    prefixes: list[str] = []
    suffixes: list[str] = []
    contains: list[str] = []
    regexes: list[str] = []
    anything = False
    for value in values:
        shape, payload = string_shape(value, lower)
        if shape == "eq":
            eq.add(payload)
        elif shape == "prefix":
            prefixes.append(payload)
        elif shape == "suffix":
            suffixes.append(payload)
        elif shape == "contains":
            contains.append(payload)
        elif shape == "any":
            anything = True
        else:
            regexes.append(payload)
    if anything:
        return lambda text: True
    tests: list[StrTest] = []
    if eq:
        eq_set = frozenset(eq)
        tests.append(eq_set.__contains__)
    if prefixes:
        pre = tuple(sorted(set(prefixes)))
        tests.append(lambda text: text.startswith(pre))
    if suffixes:
        suf = tuple(sorted(set(suffixes)))
        tests.append(lambda text: text.endswith(suf))
    if contains:
        subs = tuple(sorted(set(contains), key=lambda s: (-len(s), s)))
        if len(subs) == 1:
            sub = subs[0]
            tests.append(lambda text: sub in text)
        elif len(subs) > MANY_SUBSTRINGS and hyperscan is not None:
            tests.append(_many_substrings(subs))
        else:
            def contains_any(text: str) -> bool:
                for sub in subs:  # noqa: SIM110 - a plain loop beats any(<genexpr>) on the hot path
                    if sub in text:
                        return True
                return False
            tests.append(contains_any)
    if regexes:
        tests.append(compile_test("|".join(f"(?:{r})" for r in sorted(set(regexes))), re.DOTALL, full=True))
    if len(tests) == 1:
        return tests[0]
    all_tests = tuple(tests)

    def any_test(text: str) -> bool:
        for test in all_tests:  # noqa: SIM110 - hot path
            if test(text):
                return True
        return False
    return any_test


def _many_substrings(subs: Sequence[str]) -> StrTest:
    """Any of many substrings (emoji lists, tool names: hundreds): one Hyperscan pass instead of a loop.

    Compiled with the rule (literal mode); the database is shared by threads, each with its own scratch.
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


_COMPARE: dict[CompareOperators, Callable[[float, float], bool]] = {
    CompareOperators.LT: lambda a, b: a < b,
    CompareOperators.LTE: lambda a, b: a <= b,
    CompareOperators.GT: lambda a, b: a > b,
    CompareOperators.GTE: lambda a, b: a >= b,
    CompareOperators.NEQ: lambda a, b: a != b,
}

_PARTS: dict[TimestampPart, Callable[[datetime], int]] = {
    TimestampPart.MINUTE: lambda d: d.minute,
    TimestampPart.HOUR: lambda d: d.hour,
    TimestampPart.DAY: lambda d: d.day,
    TimestampPart.WEEK: lambda d: d.isocalendar().week,
    TimestampPart.MONTH: lambda d: d.month,
    TimestampPart.YEAR: lambda d: d.year,
}


def _parse_time(value: Any) -> datetime | None:
    text = as_text(value).strip().replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def value_test(value: Any) -> ValueTest:
    """A test for one non-string value (strings go through ``string_group``)."""
    if isinstance(value, SigmaCasedString):
        return ValueTest("text", string_group([value], lower=False))
    if isinstance(value, SigmaString):
        return ValueTest("low", string_group([value]))
    if isinstance(value, SigmaRegularExpression):
        if value.regexp.contains_placeholder():
            raise Unsupported("placeholder", "regular expression with a placeholder (expand modifier)")
        try:
            return ValueTest("text", compile_test(str(value.regexp), _regex_flags(value.flags)))
        except re.error as exc:
            raise Unsupported("regex", f"regular expression not supported by Python: {exc}") from exc
    if isinstance(value, SigmaTimestampPart):
        part, want = _PARTS[value.timestamp_part], value.number

        def stamp_test(raw: Any) -> bool:
            parsed = _parse_time(raw)
            return parsed is not None and part(parsed) == want

        return ValueTest("raw", stamp_test)
    if isinstance(value, SigmaNumber):
        number = value.number
        text_form = str(number)

        def number_test(raw: Any) -> bool:
            if type(raw) is int or type(raw) is float:
                return bool(raw == number)
            text = as_text(raw).strip()
            if text == text_form:
                return True
            return _to_number(text) == number

        return ValueTest("raw", number_test)
    if isinstance(value, SigmaBool):
        want_bool = bool(value)
        words = ("true", "1") if want_bool else ("false", "0")

        def bool_test(raw: Any) -> bool:
            if isinstance(raw, bool):
                return raw is want_bool
            return as_text(raw).strip().lower() in words

        return ValueTest("raw", bool_test)
    if isinstance(value, SigmaCompareExpression):
        op, bound = _COMPARE[value.op], value.number.number

        def compare_test(raw: Any) -> bool:
            number = _to_number(raw)
            return number is not None and op(number, bound)

        return ValueTest("raw", compare_test)
    if isinstance(value, SigmaCIDRExpression):
        network = value.network

        def cidr_test(raw: Any) -> bool:
            try:
                address = ip_address(as_text(raw).strip().strip("[]"))
            except ValueError:
                return False
            if address in network:
                return True
            mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:10.1.2.3 written by dual-stack sockets
            return mapped is not None and mapped in network

        return ValueTest("raw", cidr_test)
    raise Unsupported("value-type", f"value type {type(value).__name__} is not supported")


def raw_present(raw: Any) -> bool:
    return raw is not MISSING
