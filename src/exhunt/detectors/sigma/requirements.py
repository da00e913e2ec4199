"""Literal requirements: which combinations of literals an event's raw text must hold for a rule to match.

``literals.py`` gives one set per rule (one of them must appear). This gives the finer form the text-log
prefilter uses as its second stage: a disjunction of conjunctions of literal groups. A rule selecting
``cs-method: POST`` and ``cs-uri-stem|endswith: .js`` and ``cs-uri-stem|startswith: [/ecp/, /owa/auth/]``
requires ``{post} AND {.js} AND {/ecp/, /owa/auth/}``, so a line holding only ``/ecp/`` is never parsed.

Everything here is an over-approximation: a rule can only match where its requirement holds. Whatever
cannot be expressed (``not``, regexes without literals, numbers) simply adds no group.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.types import SigmaExpansion, SigmaRegularExpression, SigmaString

from exhunt.detectors.sigma.compiled import Requirements
from exhunt.detectors.sigma.literals import regex_groups, value_literals
from exhunt.detectors.sigma.values import Unsupported, string_shape
from exhunt.parsers.columns import Term, requirement_key, term_key

T = TypeVar("T")
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


def _conjoin(parts: Sequence[tuple[tuple[T, ...], ...]],
             normal: Callable[[Iterable[tuple[T, ...]]], tuple[tuple[T, ...], ...]],
             fold: Callable[[tuple[tuple[T, ...], ...]], tuple[T, ...]]) -> tuple[tuple[T, ...], ...] | None:
    """The AND of ``parts`` (each a disjunction of conjunctions), folded when it grows past ``MAX_ENTRIES``."""
    combined: tuple[tuple[T, ...], ...] = ((),)
    for part in parts:
        product = [left + right for left in combined for right in part]
        if len(product) > MAX_ENTRIES:
            product = [left + fold(part) for left in combined]
        combined = normal(product)
        if len(combined) > MAX_ENTRIES:
            combined = (fold(combined),)
    return combined if any(combined) else None


def _and(parts: list[tuple[Conjunction, ...]]) -> Requirements:
    return _conjoin(parts, _normal, _fold)


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


# -- the same, each group scoped to the fields it can be in --------------------------------------------------
#
# A field's literals can only be in that field (its names after the pipeline's mapping: a Sigma field may
# map to several, the first present is read); a keyword's anywhere. ``not`` of a field equal to plain values
# (``not stock`` where ``stock`` lists the pages Exchange ships), or starting with them, becomes an
# exclusion: the line cannot match when the field's whole value is one of them (or starts with one). Same
# shapes and limits as above; whatever cannot be expressed adds no term.

ScopedConjunction = tuple[Term, ...]
Scoped = tuple[ScopedConjunction, ...] | None
Names = Callable[[str], tuple[str, ...]]


def _scoped_normal(conjunctions: Iterable[ScopedConjunction]) -> tuple[ScopedConjunction, ...]:
    unique = {tuple(sorted(set(c), key=term_key)) for c in conjunctions}
    return tuple(sorted(unique, key=requirement_key))


def _scoped_fold(entries: tuple[ScopedConjunction, ...]) -> ScopedConjunction:
    """One conjunction implied by any of ``entries``: one term, the union of each entry's tightest positive
    term (literals and fields); none when an entry has no positive term."""
    literals: set[str] = set()
    fields: set[str] | None = set()
    for conjunction in entries:
        positive = [t for t in conjunction if not t.exclude]
        if not positive:
            return ()
        tightest = min(positive, key=lambda t: (len(t.literals), term_key(t)))
        literals |= tightest.literals
        fields = None if fields is None or tightest.fields is None else fields | tightest.fields
    return (Term(None if fields is None else frozenset(fields), frozenset(literals)),)


def _scoped_and(parts: list[tuple[ScopedConjunction, ...]]) -> Scoped:
    return _conjoin(parts, _scoped_normal, _scoped_fold)


def _exclusion(node: Any, names: Names) -> tuple[Term, ...]:
    """``not`` of one field equal to, or starting with, plain strings (one leaf, or an OR of leaves of the
    same field): the values it is not, the prefixes it does not start with (lowercase); none otherwise."""
    leaves: list[Any] = list(node.args) if isinstance(node, ConditionOR) else [node]
    if not leaves or not all(isinstance(leaf, ConditionFieldEqualsValueExpression) for leaf in leaves):
        return ()
    field = leaves[0].field
    shapes: dict[str, set[str]] = {"eq": set(), "prefix": set()}
    for leaf in leaves:
        if leaf.field != field:
            return ()
        flat = leaf.value.values if isinstance(leaf.value, SigmaExpansion) else [leaf.value]
        for value in flat:
            if type(value) is not SigmaString or value.contains_placeholder():
                return ()  # compared without case as plain text only (cased strings, regexes: not)
            try:
                shape, text = string_shape(value)
            except Unsupported:
                return ()
            if shape not in shapes:
                return ()
            shapes[shape].add(text)
    mapped = names(field)
    if len(mapped) != 1:
        return ()
    return tuple(Term(frozenset(mapped), frozenset(values), exclude=shape)
                 for shape, values in sorted(shapes.items()) if values)


def scoped_node(node: Any, names: Names) -> Scoped:
    if isinstance(node, ConditionAND):
        parts = [r for r in (scoped_node(a, names) for a in node.args) if r is not None]
        return _scoped_and(parts) if parts else None
    if isinstance(node, ConditionOR):
        entries: list[ScopedConjunction] = []
        for arg in node.args:
            found = scoped_node(arg, names)
            if found is None:
                return None
            entries.extend(found)
        if all(len(c) == 1 and not c[0].exclude for c in entries):  # one of several literals: one term
            terms = [c[0] for c in entries]
            fields = None if any(t.fields is None for t in terms) else \
                frozenset().union(*(t.fields or () for t in terms))
            return ((Term(fields, frozenset().union(*(t.literals for t in terms))),),)
        if any(not any(not t.exclude for t in c) for c in entries):
            return None  # an entry with exclusions only: no literal is required
        normal = _scoped_normal(entries)
        return normal if len(normal) <= MAX_ENTRIES else (_scoped_fold(normal),)
    if isinstance(node, ConditionNOT):
        excluded = _exclusion(node.args[0], names) if node.args else ()
        return (excluded,) if excluded else None
    if isinstance(node, ConditionFieldEqualsValueExpression):
        fields = frozenset(names(node.field))
        groups = regex_groups(node.value) if isinstance(node.value, SigmaRegularExpression) else None
        if groups:
            return (tuple(Term(fields, group) for group in groups),)
        literals = value_literals(node.value)
        return ((Term(fields, frozenset(literals)),),) if literals else None
    if isinstance(node, ConditionValueExpression):
        literals = value_literals(node.value)
        return ((Term(None, frozenset(literals)),),) if literals else None
    return None


def trees_scoped(trees: Iterable[Any], names: Names) -> Scoped:
    """Scoped requirements of a rule whose detection resolves to ``trees``; ``names``: a Sigma field's
    lowercase event field names (the pipeline's mapping)."""
    entries: list[ScopedConjunction] = []
    for tree in trees:
        found = scoped_node(tree, names) if tree is not None else None
        if found is None or not all(any(not t.exclude for t in c) for c in found):
            return None
        entries.extend(found)
    normal = _scoped_normal(entries)
    return normal if len(normal) <= MAX_ENTRIES else (_scoped_fold(normal),)
