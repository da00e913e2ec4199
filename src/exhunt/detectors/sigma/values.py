"""Value programs: one pySigma value (after its modifiers were applied at parse time) -> plain data.

pySigma has already turned ``contains``/``startswith``/``endswith``, ``base64``/``base64offset``,
``wide``/``utf16*``, ``windash`` and ``cidr`` into value types; this module describes those types as value
programs (see ``matchers.py``), from which precompiled Python tests are built once. Strings match without
case, with ``*`` and ``?`` wildcards, through the cheapest test that fits (set membership,
``startswith``/``endswith`` on tuples, ``in``), a regex only when the wildcards sit in the middle.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sigma.types import (
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
)

from exhunt.detectors.sigma.matchers import Program


class Unsupported(Exception):
    """A rule (or part of one) exhunt cannot evaluate. ``code`` groups reasons in reports."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


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


def string_spec(values: Sequence[SigmaString], lower: bool = True) -> Program:
    """The value program of OR-linked strings of one field (any of them matches)."""
    return ("str", lower, tuple(string_shape(value, lower) for value in values))


def value_spec(value: Any) -> Program:
    """The value program of one non-string value (strings go through ``string_spec``)."""
    if isinstance(value, SigmaCasedString):
        return string_spec([value], lower=False)
    if isinstance(value, SigmaString):
        return string_spec([value])
    if isinstance(value, SigmaRegularExpression):
        if value.regexp.contains_placeholder():
            raise Unsupported("placeholder", "regular expression with a placeholder (expand modifier)")
        return ("re", str(value.regexp), _regex_flags(value.flags))
    if isinstance(value, SigmaTimestampPart):
        return ("ts", value.timestamp_part.name.lower(), value.number)
    if isinstance(value, SigmaNumber):
        return ("num", value.number)
    if isinstance(value, SigmaBool):
        return ("bool", bool(value))
    if isinstance(value, SigmaCompareExpression):
        return ("cmp", value.op.name.lower(), value.number.number)
    if isinstance(value, SigmaCIDRExpression):
        return ("cidr", str(value.network))
    raise Unsupported("value-type", f"value type {type(value).__name__} is not supported")
