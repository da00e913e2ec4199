"""Regular expressions that evidence cannot stall.

Rule regexes run on attacker-influenced text (request URLs, command lines). Python's backtracking engine
is fast on ordinary patterns but can take exponential time on nested quantifiers (``(a+)+``) and
polynomial time on long values. RE2 (``google-re2``, a pySigma dependency) is linear but slower per call.
So: a pattern with a nested repeat or an alternation under a repeat always runs on RE2; any other runs on
Python's engine for values up to ``LONG`` characters and on RE2 beyond. Patterns RE2 cannot express
(look-around, back-references) stay on Python's engine.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import Any

LONG = 4096
_sre: Any = importlib.import_module("re._parser")
_c: Any = importlib.import_module("re._constants")
_REPEATS = (_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", _c.MAX_REPEAT))

try:
    _re2: Any = importlib.import_module("re2")
except ImportError:  # pragma: no cover - google-re2 comes with pySigma
    _re2 = None

Test = Callable[[str], bool]


def _risky(items: Any, under_repeat: bool = False) -> bool:
    for op, arg in items:
        if op in _REPEATS:
            if under_repeat or _risky(arg[2], True):
                return True
        elif op is _c.SUBPATTERN:
            if _risky(arg[-1], under_repeat):
                return True
        elif op is _c.BRANCH:
            if under_repeat and len(arg[1]) > 1:
                return True
            if any(_risky(b, under_repeat) for b in arg[1]):
                return True
        elif op in (_c.ASSERT, _c.ASSERT_NOT) and _risky(arg[1], under_repeat):
            return True
    return False


def risky(pattern: str, flags: int = 0) -> bool:
    """Whether backtracking may explode: a repeat inside a repeat, or alternatives under a repeat."""
    try:
        return _risky(_sre.parse(pattern, flags))
    except (re.error, RecursionError, ValueError, OverflowError):
        return True


def _re2_for(pattern: str, flags: int) -> Any:
    if _re2 is None:
        return None
    inline = "".join(c for f, c in ((re.IGNORECASE, "i"), (re.MULTILINE, "m"), (re.DOTALL, "s")) if flags & f)
    try:
        return _re2.compile(f"(?{inline}){pattern}" if inline else pattern)
    except Exception:  # re2 raises its own error type for syntax it lacks (look-around, back-references)
        return None


def compile_test(pattern: str, flags: int = 0, full: bool = False) -> Test:
    """A test ``text -> bool``: ``search`` (or ``fullmatch`` with ``full``) of ``pattern``.

    Raises ``re.error`` when Python's engine rejects the pattern.
    """
    python = re.compile(pattern, flags)
    linear = _re2_for(f"(?:{pattern})\\z" if full else pattern, flags) if _re2 is not None else None
    py_run = python.fullmatch if full else python.search
    if linear is None:
        return lambda text: py_run(text) is not None
    re2_run = linear.match if full else linear.search  # match + \z anchors both ends
    if risky(pattern, flags):
        return lambda text: re2_run(text) is not None

    def test(text: str) -> bool:
        if len(text) > LONG:
            return re2_run(text) is not None
        return py_run(text) is not None
    return test
