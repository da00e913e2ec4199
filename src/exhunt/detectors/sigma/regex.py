"""Regular expressions that evidence cannot stall.

Rule regexes run on attacker-influenced text (request URLs, command lines). Python's backtracking engine
is fast on ordinary patterns but can take exponential time on nested quantifiers (``(a+)+``) and
polynomial time on long values. RE2 (``google-re2``, a pySigma dependency) is linear but slower per call.
So: a pattern with a nested repeat or an alternation under a repeat always runs on RE2; any other runs on
Python's engine for values up to ``LONG`` characters and on RE2 beyond. Patterns RE2 cannot express
(look-around, back-references) stay on Python's engine.

Before either engine runs, a pattern's *required characters* are counted in the text: the characters
every match must hold (literals outside optional parts and alternatives), with how many times. A text
holding fewer cannot match, and is answered without running the pattern: SigmaHQ's obfuscation rules
(``\\w+`(?:\\w+|-|.)`...``, ``\\+.*\\+.*\\+...``) otherwise cost up to a millisecond on every command line.
Under case folding only characters without case (ASCII punctuation, digits) are counted.
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


MAX_REQUIRED = 3  # characters counted before a pattern runs (the most repeated first)


def _required_items(items: Any, counts: dict[str, int]) -> None:
    """Add to ``counts`` the literal characters any match of the sequence ``items`` must hold."""
    for op, arg in items:
        if op is _c.LITERAL:
            char = chr(arg)
            counts[char] = counts.get(char, 0) + 1
        elif op is _c.SUBPATTERN:  # a group, (?:...) or (?flags:...): required as a whole
            _required_items(arg[-1], counts)
        elif op in _REPEATS and arg[0] >= 1:  # x+ or x{n,}: its body occurs at least once
            _required_items(arg[2], counts)
        elif op is getattr(_c, "ATOMIC_GROUP", None):
            _required_items(arg, counts)
        # alternatives, classes, optional parts, look-around, anchors: nothing required that is known


def _folds(items: Any) -> bool:
    """Whether any group of the pattern turns case folding on."""
    for op, arg in items:
        if op is _c.SUBPATTERN and (arg[1] & re.IGNORECASE or _folds(arg[-1])):
            return True
        if op in _REPEATS and _folds(arg[2]):
            return True
        if op is _c.BRANCH and any(_folds(b) for b in arg[1]):
            return True
        if op in (_c.ASSERT, _c.ASSERT_NOT) and _folds(arg[1]):
            return True
        if op is getattr(_c, "ATOMIC_GROUP", None) and _folds(arg):
            return True
    return False


def required(pattern: str, flags: int = 0) -> tuple[tuple[str, int], ...]:
    """(character, least count) pairs that every match of ``pattern`` holds; () when none is known."""
    try:
        parsed = _sre.parse(pattern, flags)
        counts: dict[str, int] = {}
        _required_items(parsed, counts)
        folded = bool((flags | parsed.state.flags) & re.IGNORECASE) or _folds(parsed)
    except (re.error, RecursionError, ValueError, OverflowError):
        return ()
    if folded:  # only characters that no case folding can reach
        counts = {c: n for c, n in counts.items() if c.isascii() and c.lower() == c.upper()}
    return tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0])))[:MAX_REQUIRED]


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
    run: Test
    if linear is None:
        def run(text: str) -> bool:
            return py_run(text) is not None
    else:
        re2_run = linear.match if full else linear.search  # match + \z anchors both ends
        if risky(pattern, flags):
            def run(text: str) -> bool:
                return re2_run(text) is not None
        else:
            def run(text: str) -> bool:
                if len(text) > LONG:
                    return re2_run(text) is not None
                return py_run(text) is not None
    needs = required(pattern, flags)
    if not needs:
        return run
    if len(needs) == 1:
        (char, least), = needs
        if least == 1:
            return lambda text: char in text and run(text)
        return lambda text: text.count(char) >= least and run(text)

    def precheck(text: str) -> bool:
        for char, least in needs:
            if text.count(char) < least:
                return False
        return run(text)
    return precheck
