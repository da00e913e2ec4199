"""Literal requirements: which combinations of literals an event's raw text must hold for a rule to match.

``literals.py`` gives one set per rule (one of them must appear). This gives the finer form the text-log
prefilter uses as its second stage: a disjunction of conjunctions of literal groups. A rule selecting
``cs-method: POST`` and ``cs-uri-stem|endswith: .js`` and ``cs-uri-stem|startswith: [/ecp/, /owa/auth/]``
requires ``{post} AND {.js} AND {/ecp/, /owa/auth/}``, so a line holding only ``/ecp/`` is never parsed.

Everything here is an over-approximation: a rule can only match where its requirement holds. Whatever
cannot be expressed (``not``, regexes without literals, numbers) simply adds no group.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)

from exhunt.detectors.sigma.compiled import Requirements
from exhunt.detectors.sigma.literals import value_literals

Group = frozenset[str]
Conjunction = tuple[Group, ...]
MAX_ENTRIES = 16  # conjunctions kept per node before they are folded into one looser conjunction


def _normal(conjunctions: Iterable[Conjunction]) -> tuple[Conjunction, ...]:
    unique = {tuple(sorted(set(c), key=sorted)) for c in conjunctions}
    return tuple(sorted(unique, key=lambda c: [sorted(g) for g in c]))


def _fold(entries: tuple[Conjunction, ...]) -> Conjunction:
    """One conjunction implied by any of ``entries``: one group, the union of each entry's tightest group."""
    group: set[str] = set()
    for conjunction in entries:
        group |= min(conjunction, key=lambda g: (len(g), sorted(g)))
    return (frozenset(group),)


def _and(parts: list[tuple[Conjunction, ...]]) -> Requirements:
    combined: tuple[Conjunction, ...] = ((),)
    for part in parts:
        product = [left + right for left in combined for right in part]
        if len(product) > MAX_ENTRIES:
            product = [left + _fold(part) for left in combined]
        combined = _normal(product)
        if len(combined) > MAX_ENTRIES:
            combined = (_fold(combined),)
    return combined if any(combined) else None


def node_requirements(node: Any) -> Requirements:
    if isinstance(node, ConditionAND):
        parts = [r for r in (node_requirements(a) for a in node.args) if r is not None]
        return _and(parts) if parts else None
    if isinstance(node, ConditionOR):
        entries: list[Conjunction] = []
        for arg in node.args:
            found = node_requirements(arg)
            if found is None:
                return None
            entries.extend(found)
        if all(len(conjunction) == 1 for conjunction in entries):  # one of several literals: one group
            return ((frozenset().union(*(c[0] for c in entries)),),)
        normal = _normal(entries)
        return normal if len(normal) <= MAX_ENTRIES else (_fold(normal),)
    if isinstance(node, ConditionNOT):
        return None
    if isinstance(node, ConditionFieldEqualsValueExpression | ConditionValueExpression):
        literals = value_literals(node.value)
        return ((frozenset(literals),),) if literals else None
    return None


def trees_requirements(trees: Iterable[Any]) -> Requirements:
    """Requirements of a rule whose detection resolves to ``trees`` (one per condition, any may match)."""
    entries: list[Conjunction] = []
    for tree in trees:
        found = node_requirements(tree) if tree is not None else None
        if found is None:
            return None
        entries.extend(found)
    normal = _normal(entries)
    return normal if len(normal) <= MAX_ENTRIES else (_fold(normal),)
