"""The column gate: whether a candidate line of a ``#Fields`` log (IIS, Exchange's CSV logs) can satisfy some
detector's requirement, judged on the columns the requirement names, before a record is made of it.

The block scan alone is blind to columns: ``POST /owa/auth.owa`` with the sign-in page as its referer holds
``post``, ``/owa/auth/`` and ``.aspx``, though the rules want them in ``cs-method`` and ``cs-uri-stem``.
Detectors may say so (``Interest.scoped``): a requirement is a conjunction of ``Term``s, each a set of
literals one of which must be in one of the term's fields (lowercase names; None: anywhere in the line), or,
for an ``exclude`` term, values the field's whole value must not be (``eq``) or start with (``prefix``).

The block scan (``conjunctions.ConjunctionPrefilter.with_columns``) finds the same candidate lines as
without the gate, and also says, for each, which of these requirements' patterns (their literal groups,
fields left out) matched on it (``TextLine.hits``). Only those are checked, per ``#Fields`` layout
(``plan``), on the columns their terms name: which terms a column's value holds is kept per value (a host's
requests repeat a few stems and methods). A requirement naming no field and excluding nothing, whose groups
all are in a pattern of its own in the scan, is proven by that pattern's match (not by a pattern of the scan's
that it implies, which may match where it does not hold). A line no requirement can hold on gives its time
and warnings as before, and no record.

The terms are checked on the values the record would hold (CSV fields unquoted, IIS ``+`` and ``-`` read),
so quoting cannot hide a literal; a term that may be anywhere is looked for in the line as read (its literal
holds no quote or separator: ``safe_literal``). Everything here only ever lets more through than the
detectors use: a literal too short to scan drops its term (the term then always holds), a line that is not
ASCII or has more columns than its header is not gated, a field named by several columns (any case, or
with its spaces left out) is looked for in each, and an exclusion is used only where its field is one
column of the layout.

For IIS logs the same requirements are placed in the block scan itself (``positions.py``): the lines it
finds are not judged here again; a block it cannot place goes through this gate.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from exhunt.parsers.prefilter import MIN_LITERAL, safe_literal

MAX_KEPT = 1024  # column values whose terms are kept, per column and layout; answers kept per layout
MAX_KEPT_VALUE = 256  # longer values are judged each time
MAX_PLANS = 8  # layouts whose plans are kept (a host's logs have a few; odd data may bring endless ones)
# At most, with values of MAX_KEPT_VALUE characters: ~0.55 MiB per scoped column and layout, ~26 MiB for the
# six scoped columns of HttpProxy in MAX_PLANS layouts (measured with tracemalloc; a host's real logs keep a
# few hundred values per column).
MAX_GROUPS_PROVEN = 3  # a requirement naming no field is proven by its pattern when all its groups are in it


@dataclass(frozen=True, slots=True)
class Term:
    """One literal group of a requirement, scoped to the fields it can be in (see module doc)."""

    fields: frozenset[str] | None  # lowercase field names; None: anywhere in the line
    literals: frozenset[str]  # one of them is in the field (case-insensitive); exclude: values it is not
    exclude: str = ""  # "eq": the field's value is none of ``literals``; "prefix": it starts with none of them


ScopedRequirement = tuple[Term, ...]
Exclusion = tuple[frozenset[str], frozenset[str], bool]  # (fields, lowercase values, as prefixes)


def term_key(term: Term) -> tuple[str, bool, list[str], list[str]]:
    return (term.exclude, term.fields is not None, sorted(term.fields or ()), sorted(term.literals))


def requirement_key(requirement: Sequence[Term]) -> list[tuple[str, bool, list[str], list[str]]]:
    return [term_key(term) for term in requirement]


def anywhere(requirements: Sequence[Sequence[frozenset[str]]]) -> tuple[ScopedRequirement, ...]:
    """Literal requirements (groups of literals anywhere in the line) as scoped ones."""
    return tuple(tuple(Term(None, group) for group in requirement) for requirement in requirements)


Picker = Callable[[list[str]], Any]
Matched = tuple[tuple[int, ...], Picker | None]


def _getter(columns: tuple[int, ...]) -> Picker:
    return operator.itemgetter(*columns) if len(columns) > 1 else operator.itemgetter(columns[0])


def _short(values: Any) -> bool:
    """Whether values read are short enough to keep an answer under (bounded memory)."""
    if type(values) is str:
        return len(values) <= MAX_KEPT_VALUE
    return sum(len(value) for value in values) <= MAX_KEPT_VALUE


def _excluded(value: str, excluded: frozenset[str] | tuple[str, ...]) -> bool:
    return value.startswith(excluded) if type(excluded) is tuple else value in excluded


class ColumnPlan:
    """The gate for one layout: per requirement whether it may hold here, its terms' columns, its usable
    exclusions; per column the terms it may hold and what each value held."""

    __slots__ = ("answers", "columns", "exclusions", "kept", "matched", "possible", "term_columns")

    def __init__(self, gate: ColumnGate, names: tuple[str, ...]) -> None:
        at: dict[str, list[int]] = {}
        for index, name in enumerate(names):
            low = name.lower()
            at.setdefault(low, []).append(index)
            if " " in low:  # 'Source Name' is found as 'SourceName' too (``sigma/view.py``)
                at.setdefault(low.replace(" ", ""), []).append(index)
        self.term_columns: list[tuple[int, ...] | None] = []
        by_column: dict[int, list[tuple[int, tuple[str, ...]]]] = {}
        for term, (fields, literals) in enumerate(gate.terms):
            if fields is None:
                self.term_columns.append(None)
                continue
            columns = tuple(sorted({c for f in fields for c in at.get(f, ())}))
            self.term_columns.append(columns)
            for column in columns:
                by_column.setdefault(column, []).append((term, literals))
        self.columns = {column: tuple(terms) for column, terms in by_column.items()}
        self.kept: dict[int, dict[str, frozenset[int]]] = {column: {} for column in by_column}
        self.possible: list[bool] = []
        self.matched: dict[frozenset[int], Matched] = {}  # patterns matched on a line -> what they stand for
        self.answers: dict[tuple[frozenset[int], Any], bool] = {}  # (patterns, values read) -> answer
        # per requirement: (column, values it is not, or a tuple of prefixes it does not start with)
        self.exclusions: list[tuple[tuple[int, frozenset[str] | tuple[str, ...]], ...]] = []
        for positive, excluded, _ in gate.requirements:
            self.possible.append(all(self.term_columns[t] != () for t in positive))  # else a field is missing
            kept = []
            for fields, values, prefix in excluded:
                found = [c for f in fields for c in at.get(f, ())]
                if len(fields) == 1 and len(found) == 1:  # exact only where the field is one column
                    kept.append((found[0], tuple(sorted(values)) if prefix else values))
            self.exclusions.append(tuple(kept))


class ColumnGate:
    """Built once per prefilter spec and process (``ColumnGate.build``); ``plan`` per layout, ``accept`` per
    candidate line with the requirements whose patterns matched on it."""

    def __init__(self, requirements: Sequence[ScopedRequirement]) -> None:
        terms: dict[tuple[frozenset[str] | None, tuple[str, ...]], int] = {}
        # per requirement: its positive terms, its exclusions, whether its pattern alone proves it
        self.requirements: list[tuple[tuple[int, ...], tuple[Exclusion, ...], bool]] = []
        self.groups: list[list[list[bytes]]] = []  # per requirement: its literal groups as the scan holds them
        self.useful = bool(requirements)
        for requirement in requirements:
            positive: set[int] = set()
            excluded: list[Exclusion] = []
            for term in requirement:
                if term.exclude:
                    if term.fields and term.literals:
                        excluded.append((term.fields, frozenset(v.lower() for v in term.literals),
                                         term.exclude == "prefix"))
                    continue
                raw = {safe_literal(lit) for lit in term.literals}
                if not raw or any(len(lit) < MIN_LITERAL for lit in raw):
                    continue  # cannot be scanned for: the term always holds
                positive.add(terms.setdefault((term.fields, tuple(lit.decode() for lit in sorted(raw))), len(terms)))
            if not positive:
                self.useful = False  # a requirement that always holds: the gate would accept every line
            groups = sorted({tuple(lit.encode() for lit in terms_literals) for (_, terms_literals), number
                             in terms.items() if number in positive})
            fieldless = all(term.fields is None for term in requirement)  # no exclusion either
            self.groups.append([list(group) for group in groups])
            # proven by its pattern only if the scan holds a pattern of its own (``with_columns`` says)
            self.requirements.append((tuple(sorted(positive)), tuple(excluded),
                                      fieldless and len(groups) <= MAX_GROUPS_PROVEN))
        self.terms = list(terms)
        self.by_pattern: list[tuple[int, ...]] = []  # the scan's pattern id -> requirements (``with_columns``)
        self.always: tuple[int, ...] = ()  # requirements checked on every candidate line (``with_columns``)
        self._plans: dict[tuple[str, ...], ColumnPlan] = {}

    @classmethod
    def build(cls, requirements: Sequence[ScopedRequirement]) -> ColumnGate | None:
        """A gate for ``requirements``, or None when it could never turn a line away (a requirement that
        always holds)."""
        gate = cls(requirements)
        return gate if gate.useful else None

    def __getstate__(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if k != "_plans"}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._plans = {}

    def plan(self, names: tuple[str, ...]) -> ColumnPlan:
        found = self._plans.get(names)
        if found is None:
            if len(self._plans) >= MAX_PLANS:
                self._plans.clear()
            found = self._plans[names] = ColumnPlan(self, names)
        return found

    def accept(self, plan: ColumnPlan, hits: set[int], values: list[str], data: bytes) -> bool:
        """Whether a requirement whose pattern matched on the line (``hits``: the scan's pattern ids) holds
        on it: ``values`` its columns as the record would hold them, ``data`` its bytes (ASCII). The answer
        depends only on the requirements and the values of the columns they read: it is kept by both (a
        host's requests repeat), unless a term may be anywhere in the line or the values are long."""
        key = frozenset(hits)
        matched = plan.matched.get(key)
        if matched is None:
            matched = self._matched(plan, key)
        numbers, pick = matched
        if not numbers:
            return False
        if pick is None:
            return self._decide(plan, numbers, values, data)
        seen = (key, pick(values))
        answer = plan.answers.get(seen)
        if answer is None:
            answer = self._decide(plan, numbers, values, data)
            if _short(seen[1]):
                if len(plan.answers) >= MAX_KEPT:
                    plan.answers.clear()
                plan.answers[seen] = answer
        return answer

    def _matched(self, plan: ColumnPlan, key: frozenset[int]) -> Matched:
        """The requirements the patterns ``key`` stand for that may hold on this layout, and a getter of the
        values they read (None when a term may be anywhere in the line): kept per set of patterns."""
        stand_for = {n for pattern in key for n in self.by_pattern[pattern]}.union(self.always)
        numbers = tuple(sorted(n for n in stand_for if plan.possible[n]))
        columns: set[int] = set()
        anywhere = False
        for number in numbers:
            for term in self.requirements[number][0]:
                found = plan.term_columns[term]
                if found is None:
                    anywhere = True
                else:
                    columns.update(found)
            columns.update(c for c, _ in plan.exclusions[number])
        pick = None if anywhere or not columns else _getter(tuple(sorted(columns)))
        matched = (numbers, pick)
        if len(plan.matched) >= MAX_KEPT:
            plan.matched.clear()
        plan.matched[key] = matched
        return matched

    def _decide(self, plan: ColumnPlan, numbers: tuple[int, ...], values: list[str], data: bytes) -> bool:
        held: dict[int, frozenset[int]] = {}  # per column looked at: the terms its value holds
        line: str | None = None
        requirements, terms = self.requirements, self.terms
        for number in numbers:
            positive, _, proven = requirements[number]
            if proven:
                return True
            for term in positive:
                columns = plan.term_columns[term]
                if columns is None:  # anywhere in the line
                    if line is None:
                        line = data.decode("ascii").lower()
                    if not any(lit in line for lit in terms[term][1]):
                        break
                    continue
                for column in columns:
                    found = held.get(column)
                    if found is None:
                        found = held[column] = self._column(plan, column, values[column])
                    if term in found:
                        break
                else:
                    break
            else:
                if not any(_excluded(values[c].lower(), excluded) for c, excluded in plan.exclusions[number]):
                    return True
        return False

    @staticmethod
    def _column(plan: ColumnPlan, column: int, value: str) -> frozenset[int]:
        """The terms ``value`` holds of those that may be in ``column`` (kept per value)."""
        kept = plan.kept[column]
        found = kept.get(value)
        if found is None:
            low = value.lower()
            found = frozenset(term for term, literals in plan.columns[column] if any(lit in low for lit in literals))
            if len(value) <= MAX_KEPT_VALUE:
                if len(kept) >= MAX_KEPT:
                    kept.clear()
                kept[value] = found
        return found
