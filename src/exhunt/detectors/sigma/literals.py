"""Required literals: text at least one piece of which must appear in an event for a rule to match.

From a condition tree: a positive string value gives its longest wildcard-free fragment; an AND takes its
most selective child; an OR needs every child constrained and takes the union; ``not``, null, numbers,
comparisons and regexes without a required literal give no constraint (None).

Fragments are cut at characters a log may write differently from the value a rule sees (whitespace,
``+`` for a space in IIS user agents, backslashes and quotes escaped in JSON/CSV, XML entities, ``?``
where IIS splits stem and query, ``,`` between CSV fields, anything non-ASCII), so a literal found in a
parsed value is also found in the raw line or record: the same set serves the parser-level prefilter and
the event scan. ``%`` is kept: no parser decodes %-escapes, and rules looking for URL-encoded payloads
(``%24%7B%28%23a%3D%40``) are made of little else.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.types import (
    SigmaExpansion,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
)

from exhunt.detectors.sigma.compiled import Literals

MIN_LITERAL = 3  # shorter literals select nearly everything; parsers/prefilter.py refuses them too
_BREAK = re.compile(r"[^\x21-\x7e]|[\\\"'&<>+?,]")
_sre: Any = importlib.import_module("re._parser")
_c: Any = importlib.import_module("re._constants")


def fragments(text: str) -> list[str]:
    return [f for f in _BREAK.split(text.lower()) if f]


def best_fragment(pieces: Iterable[str], common: frozenset[str] = frozenset()) -> str | None:
    """The longest fragment, preferring any not in ``common`` (tokens found in nearly every event)."""
    best, best_key = None, (False, 0)
    for piece in pieces:
        for frag in fragments(piece):
            if len(frag) < MIN_LITERAL:
                continue
            key = (frag not in common, len(frag))
            if best is None or key > best_key or (key == best_key and frag < best):
                best, best_key = frag, key
    return best


def string_literal(value: SigmaString, common: frozenset[str] = frozenset()) -> str | None:
    return best_fragment((p for p in value.s if isinstance(p, str)), common)


class Weak(frozenset[str]):
    """Literals from a field every record of a route shares (``Provider_Name``...) or a common token:
    valid, rarely selective."""


def _score(lits: frozenset[str]) -> tuple[int, int, int, int]:
    """Most selective first: not weak, long literals (up to a point), few alternatives, longer still."""
    shortest = min(len(x) for x in lits)
    return (0 if isinstance(lits, Weak) else 1, min(shortest, 12), -len(lits), shortest)


def reduce_set(lits: Iterable[str]) -> frozenset[str]:
    """Drop literals that contain another literal of the set (the shorter one is implied)."""
    items = sorted(set(lits), key=lambda s: (len(s), s))
    if len(items) > 300:
        return frozenset(items)
    kept: list[str] = []
    for item in items:
        if not any(k in item for k in kept):
            kept.append(item)
    return frozenset(kept)


def _best(sets: Iterable[Literals]) -> Literals:
    candidates = [s for s in sets if s]
    if not candidates:
        return None
    return max(candidates, key=lambda s: (_score(s), sorted(s)))


def _union(sets: Iterable[Literals]) -> Literals:
    out: set[str] = set()
    weak = False
    for s in sets:
        if not s:
            return None
        out |= s
        weak = weak or isinstance(s, Weak)
    if not out:
        return None
    return Weak(reduce_set(out)) if weak else reduce_set(out)


def _regex_seq(items: Any) -> Literals:
    cands: list[Literals] = []
    run: list[str] = []

    def close() -> None:
        if run:
            lit = best_fragment(["".join(run)])
            if lit:
                cands.append(frozenset([lit]))
            run.clear()

    for op, arg in items:
        if op is _c.LITERAL:
            run.append(chr(arg))
            continue
        close()
        if op is _c.SUBPATTERN:
            cands.append(_regex_seq(arg[-1]))
        elif op is _c.BRANCH:
            cands.append(_union(_regex_seq(b) for b in arg[1]))
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT) and arg[0] >= 1:
            cands.append(_regex_seq(arg[2]))
    close()
    return _best(cands)


def regex_literals(value: SigmaRegularExpression) -> Literals:
    try:
        flags = re.IGNORECASE if SigmaRegularExpressionFlag.IGNORECASE in value.flags else 0
        parsed = _sre.parse(str(value.regexp), flags)
    except (re.error, RecursionError, ValueError):
        return None
    return _regex_seq(parsed)


def regex_groups(value: SigmaRegularExpression) -> list[frozenset[str]] | None:
    """Literals a regex match always holds, each its own group (all required): every fragment of the
    literal runs of its top-level sequence (``^/ecp/[^/]+\\.js$``: ``/ecp/`` and ``.js``); None when it has
    none (``regex_literals`` may still find a choice of literals deeper in)."""
    try:
        flags = re.IGNORECASE if SigmaRegularExpressionFlag.IGNORECASE in value.flags else 0
        parsed = _sre.parse(str(value.regexp), flags)
    except (re.error, RecursionError, ValueError):
        return None
    groups: set[str] = set()
    run: list[str] = []
    for op, arg in [*parsed, (None, None)]:
        if op is _c.LITERAL:
            run.append(chr(arg))
            continue
        groups.update(f for f in fragments("".join(run)) if len(f) >= MIN_LITERAL)
        run.clear()
    return [frozenset({g}) for g in sorted(groups)] or None


def value_literals(value: Any, common: frozenset[str] = frozenset()) -> Literals:
    if isinstance(value, SigmaExpansion):
        return _union(value_literals(v, common) for v in value.values)
    if isinstance(value, SigmaString):
        if value.contains_placeholder():
            return None
        lit = string_literal(value, common)
        if not lit:
            return None
        return Weak([lit]) if lit in common else frozenset([lit])
    if isinstance(value, SigmaRegularExpression):
        return regex_literals(value)
    return None


def node_literals(node: Any, weak: frozenset[str] = frozenset(), common: frozenset[str] = frozenset()) -> Literals:
    """Required literals of a resolved condition tree (see module doc). ``weak``: lowercase field names,
    ``common``: tokens, whose literals are chosen only when nothing better is required."""
    if isinstance(node, ConditionAND):
        return _best(node_literals(a, weak, common) for a in node.args)
    if isinstance(node, ConditionOR):
        return _union(node_literals(a, weak, common) for a in node.args)
    if isinstance(node, ConditionNOT):
        return None
    if isinstance(node, ConditionFieldEqualsValueExpression):
        found = value_literals(node.value, common)
        return Weak(found) if found and node.field.lower() in weak else found
    if isinstance(node, ConditionValueExpression):
        return value_literals(node.value, common)
    return None


def _numbers(node: Any, names: frozenset[str]) -> frozenset[int] | None:
    """Integers one of the ``names`` fields must equal for the tree to match (None: no such constraint)."""
    if isinstance(node, ConditionAND):
        sets = [s for s in (_numbers(a, names) for a in node.args) if s is not None]
        if not sets:
            return None
        out = sets[0]
        for s in sets[1:]:
            out &= s
        return out
    if isinstance(node, ConditionOR):
        union: set[int] = set()
        for arg in node.args:
            got = _numbers(arg, names)
            if got is None:
                return None
            union |= got
        return frozenset(union)
    if isinstance(node, ConditionFieldEqualsValueExpression) and node.field.lower() in names:
        values = node.value.values if isinstance(node.value, SigmaExpansion) else [node.value]
        numbers = [v.number for v in values if isinstance(v, SigmaNumber) and isinstance(v.number, int)]
        if len(numbers) == len(values):
            return frozenset(int(n) for n in numbers)
    return None


def required_numbers(trees: Iterable[Any], names: frozenset[str]) -> frozenset[int] | None:
    """Event ids a rule needs (``EventID: 4688`` in every branch), so the index can route it by id."""
    union: set[int] = set()
    for tree in trees:
        got = _numbers(tree, names) if tree is not None else None
        if got is None:
            return None
        union |= got
    return frozenset(union)


def trees_literals(trees: Iterable[Any], weak: frozenset[str] = frozenset(),
                   common: frozenset[str] = frozenset()) -> Literals:
    found = _union(node_literals(t, weak, common) for t in trees if t is not None)
    return frozenset(found) if found is not None else None
