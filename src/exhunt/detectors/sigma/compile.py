"""Condition tree -> program (plain data, see ``matchers.py``) -> matcher closure over an ``EventView``.

pySigma resolves the condition (``1 of sel_*``, ``all of them``, ``not``, parentheses) into a tree of
AND/OR/NOT nodes whose leaves are field/value and keyword expressions; this module lowers that tree once
into a program, from which ``matchers.build`` makes nested closures. OR-linked string values of one field
(a value list, a windash or base64offset expansion) are merged into one grouped test. Sigma field names
are mapped to event field names by the pipeline; a Sigma field may map to several event fields (Sysmon
``Image`` / Security ``NewProcessName``), the first present in the event is used.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
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

from exhunt.detectors.sigma.matchers import Matcher, Program, build
from exhunt.detectors.sigma.values import Unsupported, string_spec, value_spec


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


def _leaf_programs(field: str, values: Sequence[Any], ctx: CompileContext) -> list[Program]:
    """OR-linked values of one field -> programs (plain strings merged into one grouped test)."""
    names, exact = ctx.names(field), ctx.exact(field)
    strings = [v for v in values if _plain_string(v)]
    out: list[Program] = []
    if strings:
        out.append(("field", names, exact, string_spec(strings)))
    for value in values:
        if _plain_string(value):
            continue
        if isinstance(value, SigmaNull):
            out.append(("null", names))
        elif isinstance(value, SigmaExists):
            out.append(("exists", names, bool(value)))
        elif isinstance(value, SigmaFieldReference):
            out.append(("fieldref", names, ctx.names(value.field), bool(value.starts_with), bool(value.ends_with)))
        else:
            out.append(("field", names, exact, value_spec(value)))
    return out


def _unanchored(value: SigmaString) -> SigmaString:
    """Keywords match anywhere in a value (full-text semantics), as Sigma backends search them."""
    multi = SpecialChars.WILDCARD_MULTI
    if not value.startswith(multi):
        value = multi + value
    if not value.endswith(multi):
        value = value + multi
    return value


def _keyword_programs(values: Sequence[Any]) -> list[Program]:
    strings = [_unanchored(v) for v in values if _plain_string(v)]
    out: list[Program] = []
    if strings:
        out.append(("keyword", string_spec(strings)))
    for value in values:
        if _plain_string(value):
            continue
        if isinstance(value, SigmaNull | SigmaExists | SigmaFieldReference):
            raise Unsupported("keyword", f"keyword detection with a {type(value).__name__} value")
        if isinstance(value, SigmaCasedString):  # anywhere in a value too, case kept
            out.append(("keyword", string_spec([_unanchored(value)], lower=False)))
            continue
        out.append(("keyword", value_spec(value)))
    return out


def _any(programs: list[Program]) -> Program:
    return programs[0] if len(programs) == 1 else ("or", tuple(programs))


def lower_node(node: Any, ctx: CompileContext) -> Program:
    if isinstance(node, ConditionAND):
        parts = [lower_node(a, ctx) for a in node.args]
        return parts[0] if len(parts) == 1 else ("and", tuple(parts))
    if isinstance(node, ConditionOR):
        return _any(_lower_or_args(node.args, ctx))
    if isinstance(node, ConditionNOT):
        return ("not", lower_node(node.args[0], ctx))
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return _any(_leaf_programs(node.field, _flatten(node.value, ctx), ctx))
    if isinstance(node, ConditionValueExpression):
        return _any(_keyword_programs(_flatten(node.value, ctx)))
    raise Unsupported("condition", f"condition element {type(node).__name__} is not supported")


def _lower_or_args(args: Sequence[Any], ctx: CompileContext) -> list[Program]:
    """OR children: string leaves of the same field merged, the rest lowered one by one."""
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
    out: list[Program] = []
    for name, values in by_field.items():
        out.extend(_leaf_programs(name, values, ctx))
    if keywords:
        out.extend(_keyword_programs(keywords))
    out.extend(lower_node(a, ctx) for a in rest)
    return out


def condition_trees(detections: SigmaDetections) -> list[Any]:
    """The resolved condition trees of a detection section (several conditions are OR-linked)."""
    return [cond.parsed for cond in detections.parsed_condition]


def lower_trees(trees: Sequence[Any], ctx: CompileContext) -> Program:
    return _any([lower_node(t, ctx) for t in trees if t is not None] or [("false",)])


def regex_unsupported(exc: re.error) -> Unsupported:
    """What a regex Python cannot compile makes of its rule (raised when a program's matchers are built)."""
    return Unsupported("regex", f"regular expression not supported by Python: {exc}")


def checked(program: Program) -> Matcher:
    """The matcher of a program just lowered; a regex Python cannot compile makes the rule unsupported."""
    try:
        return build(program)
    except re.error as exc:
        raise regex_unsupported(exc) from exc


def lower_detections(detections: SigmaDetections, ctx: CompileContext) -> Program:
    return lower_trees(condition_trees(detections), ctx)


def compile_rule(rule: SigmaRule, ctx: CompileContext) -> Matcher:
    return checked(lower_detections(rule.detection, ctx))
