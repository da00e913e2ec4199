"""Condition tree -> matcher closure over an ``EventView``.

pySigma resolves the condition (``1 of sel_*``, ``all of them``, ``not``, parentheses) into a tree of
AND/OR/NOT nodes whose leaves are field/value and keyword expressions; this module compiles that tree
once into nested closures. OR-linked string values of one field (a value list, a windash or base64offset
expansion) are merged into one grouped test. Sigma field names are mapped to event field names by the
pipeline; a Sigma field may map to several event fields (Sysmon ``Image`` / Security ``NewProcessName``),
the first present in the event is used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.rule import SigmaDetections, SigmaRule
from sigma.types import (
    Placeholder,
    SigmaCasedString,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaQueryExpression,
    SigmaString,
    SpecialChars,
)

from exhunt.detectors.sigma.values import StrTest, Unsupported, ValueTest, string_group, value_test
from exhunt.detectors.sigma.view import MISSING, EventView

Matcher = Callable[[EventView], bool]


@dataclass(frozen=True)
class CompileContext:
    """How a rule's field names map to event fields, and the values of ``%placeholders%``."""

    fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # lowercase sigma -> event names
    placeholders: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def names(self, name: str) -> tuple[str, ...]:
        low = name.lower()
        return self.fields.get(low, (low,))

    def exact(self, name: str) -> str:
        """The name as written when the pipeline does not map it (events mostly use the same case)."""
        return "" if name.lower() in self.fields else name


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


def _expand_placeholders(value: Any, ctx: CompileContext) -> list[Any]:
    if not isinstance(value, SigmaString) or not value.contains_placeholder():
        return [value]
    missing = [p.name for p in value.s if isinstance(p, Placeholder) and p.name not in ctx.placeholders]
    if missing:
        raise Unsupported("placeholder", f"placeholder %{missing[0]}% has no values (expand modifier)")

    def callback(p: Placeholder) -> Iterator[str | SpecialChars | Placeholder | SigmaString]:
        return iter(ctx.placeholders[p.name])

    return list(value.replace_placeholders(callback))


def _flatten(value: Any, ctx: CompileContext) -> list[Any]:
    """Values OR-linked by one leaf: expansions opened, placeholders replaced."""
    if isinstance(value, SigmaExpansion):
        return [v for inner in value.values for v in _flatten(inner, ctx)]
    if isinstance(value, SigmaQueryExpression):
        raise Unsupported("placeholder", "query expression placeholders are backend-specific")
    return _expand_placeholders(value, ctx)


def _plain_string(value: Any) -> bool:
    return isinstance(value, SigmaString) and not isinstance(value, SigmaCasedString)


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

    def many(v: EventView) -> bool:
        for name in names:
            raw = v.raw(name)
            if raw is MISSING:
                continue
            if test.on == "low":
                return fn(v.low(name))
            if test.on == "text":
                return fn(v.text(name))
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


def _fieldref_test(names: tuple[str, ...], ref: SigmaFieldReference, ctx: CompileContext) -> Matcher:
    other = ctx.names(ref.field)
    starts, ends = ref.starts_with, ref.ends_with

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


def _leaf_matchers(field: str, values: Sequence[Any], ctx: CompileContext) -> list[Matcher]:
    """OR-linked values of one field -> matchers (plain strings merged into one grouped test)."""
    names, exact = ctx.names(field), ctx.exact(field)
    strings = [v for v in values if _plain_string(v)]
    out: list[Matcher] = []
    if strings:
        out.append(_field_test(names, ValueTest("low", string_group(strings)), exact))
    for value in values:
        if _plain_string(value):
            continue
        if isinstance(value, SigmaNull):
            out.append(_null_test(names))
        elif isinstance(value, SigmaExists):
            out.append(_exists_test(names, bool(value)))
        elif isinstance(value, SigmaFieldReference):
            out.append(_fieldref_test(names, value, ctx))
        else:
            out.append(_field_test(names, value_test(value), exact))
    return out


def _unanchored(value: SigmaString) -> SigmaString:
    """Keywords match anywhere in a value (full-text semantics), as Sigma backends search them."""
    multi = SpecialChars.WILDCARD_MULTI
    if not value.startswith(multi):
        value = multi + value
    if not value.endswith(multi):
        value = value + multi
    return value


def _keyword_matchers(values: Sequence[Any]) -> list[Matcher]:
    strings = [_unanchored(v) for v in values if _plain_string(v)]
    out: list[Matcher] = []
    if strings:
        test: StrTest = string_group(strings)
        out.append(lambda v: any(test(t) for t in v.low_values()))
    for value in values:
        if _plain_string(value):
            continue
        if isinstance(value, SigmaNull | SigmaExists | SigmaFieldReference):
            raise Unsupported("keyword", f"keyword detection with a {type(value).__name__} value")
        if isinstance(value, SigmaCasedString):  # anywhere in a value too, case kept
            out.append(_keyword_test(ValueTest("text", string_group([_unanchored(value)], lower=False))))
            continue
        out.append(_keyword_test(value_test(value)))
    return out


def _keyword_test(test: ValueTest) -> Matcher:
    fn = test.test
    if test.on == "low":
        return lambda v: any(fn(t) for t in v.low_values())
    return lambda v: any(fn(t) for t in v.values())


def compile_node(node: Any, ctx: CompileContext) -> Matcher:
    if isinstance(node, ConditionAND):
        return _and([compile_node(a, ctx) for a in node.args])
    if isinstance(node, ConditionOR):
        return _or(_compile_or_args(node.args, ctx))
    if isinstance(node, ConditionNOT):
        inner = compile_node(node.args[0], ctx)
        return lambda v: not inner(v)
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return _or(_leaf_matchers(node.field, _flatten(node.value, ctx), ctx))
    if isinstance(node, ConditionValueExpression):
        return _or(_keyword_matchers(_flatten(node.value, ctx)))
    raise Unsupported("condition", f"condition element {type(node).__name__} is not supported")


def _compile_or_args(args: Sequence[Any], ctx: CompileContext) -> list[Matcher]:
    """OR children: string leaves of the same field merged, the rest compiled one by one."""
    by_field: dict[str, list[Any]] = {}
    keywords: list[Any] = []
    rest: list[Any] = []
    for arg in args:
        if isinstance(arg, ConditionFieldEqualsValueExpression):
            by_field.setdefault(arg.field, []).extend(_flatten(arg.value, ctx))
        elif isinstance(arg, ConditionValueExpression):
            keywords.extend(_flatten(arg.value, ctx))
        else:
            rest.append(arg)
    out: list[Matcher] = []
    for name, values in by_field.items():
        out.extend(_leaf_matchers(name, values, ctx))
    if keywords:
        out.extend(_keyword_matchers(keywords))
    out.extend(compile_node(a, ctx) for a in rest)
    return out


def condition_trees(detections: SigmaDetections) -> list[Any]:
    """The resolved condition trees of a detection section (several conditions are OR-linked)."""
    return [cond.parsed for cond in detections.parsed_condition]


def compile_trees(trees: Sequence[Any], ctx: CompileContext) -> Matcher:
    return _or([compile_node(t, ctx) for t in trees if t is not None] or [lambda v: False])


def compile_detections(detections: SigmaDetections, ctx: CompileContext) -> Matcher:
    return compile_trees(condition_trees(detections), ctx)


def compile_rule(rule: SigmaRule, ctx: CompileContext) -> Matcher:
    return compile_detections(rule.detection, ctx)
