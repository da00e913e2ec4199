"""Compiled Sigma rules: what evaluating a rule needs, free of pySigma.

A compiled rule keeps its detection as a program (plain data, ``matchers.py``) next to the matcher built
from it. Pickled, it travels as the program and builds the matcher again on arrival: compiled content can
be cached between runs (``cache.py``) and sent to worker processes without importing pySigma.

A rule that arrives as its program builds its matcher (compiling its regular expressions) when it is first
evaluated, not when it is loaded: a host that reads no EVTX never builds the EVTX rules, and loading the
compiled content from the cache costs the unpickling of plain tuples only. The matcher is the same either
way: ``build`` is a pure function of the program.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import InitVar, dataclass, field
from typing import TYPE_CHECKING, Any

from exhunt.detectors.sigma.matchers import Matcher, Program, build
from exhunt.detectors.sigma.pipeline import LogsourceMap
from exhunt.detectors.sigma.view import EventView, first_present
from exhunt.model.finding import Confidence, Outcome, Severity
from exhunt.parsers.columns import Term

if TYPE_CHECKING:
    from sigma.correlations import SigmaCorrelationRule

Literals = frozenset[str] | None
Requirements = tuple[tuple[frozenset[str], ...], ...] | None  # any one conjunction must hold; None: no constraint
ScopedRequirements = tuple[tuple[Term, ...], ...] | None  # the same with each group's fields


@dataclass(frozen=True, slots=True)
class RuleProblem:
    file: str  # display path (relative to the rule folder it came from)
    rule: str  # Sigma id, else title, else '' (whole file)
    code: str  # load: yaml, sigma, exhunt; unsupported: logsource, placeholder, regex, value-type...
    message: str


@dataclass(frozen=True)
class Capture:
    name: str
    fields: tuple[str, ...]  # lowercase event field names (mapped), first present wins
    regex: re.Pattern[str] | None = None

    def value(self, view: EventView) -> str | None:
        name = first_present(view, self.fields)
        if name is None:
            return None
        text = view.text(name) or ""
        if self.regex is not None:
            found = self.regex.search(text)
            if found is None:
                return None
            text = found.group(1) if found.groups() else found.group(0)
        return text or None


@dataclass(frozen=True)
class Extension:
    """The ``exhunt:`` block of a rule, compiled. Outcome detections are kept as programs too."""

    rule_id: str | None = None
    family: str = ""
    step: str = ""
    outcome_programs: tuple[tuple[Outcome, Program], ...] = ()
    default: Outcome | None = None
    severity: Mapping[Outcome, Severity] = field(default_factory=dict)
    confidence: Confidence | None = None
    captures: tuple[Capture, ...] = ()
    samples: Mapping[str, tuple[dict[str, Any], ...]] = field(default_factory=dict)
    outcomes: tuple[tuple[Outcome, Matcher], ...] = field(init=False, repr=False, compare=False)  # built when asked

    def __getattr__(self, name: str) -> Any:
        """``outcomes``, built from the programs at first use (then an ordinary attribute)."""
        if name != "outcomes":
            raise AttributeError(name)
        built = tuple((o, build(p)) for o, p in self.outcome_programs)
        object.__setattr__(self, "outcomes", built)
        return built

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "outcomes"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def outcome(self, view: EventView, fallback: Outcome) -> Outcome:
        for outcome, matcher in self.outcomes:
            if matcher(view):
                return outcome
        return self.default or fallback


@dataclass
class CompiledRule:
    index: int
    sigma_id: str
    name: str | None
    title: str
    description: str
    file: str
    level: Severity
    confidence: Confidence
    cves: tuple[str, ...]
    attack: tuple[str, ...]
    logsource: LogsourceMap
    program: Program  # the detection, as plain data
    literals: Literals
    ext: Extension
    event_ids: frozenset[int] | None = None  # ids the rule requires (route by id), None: any
    requirements: Requirements = None  # finer literal combinations for the text-log prefilter
    scoped: ScopedRequirements = None  # the same, each group scoped to its fields (``parsers/columns.py``)
    emit: bool = True  # False: only feeds a correlation rule (Sigma ``generate: false``)
    built: InitVar[Matcher | None] = None  # the matcher when the caller already built it from ``program``
    matcher: Matcher = field(init=False, repr=False, compare=False)  # built from ``program`` at first use

    def __post_init__(self, built: Matcher | None) -> None:
        if built is not None:
            self.matcher = built

    def __getattr__(self, name: str) -> Any:
        """``matcher``, built from the program at first use (then an ordinary attribute: no cost per call)."""
        if name != "matcher":
            raise AttributeError(name)
        self.matcher = built = build(self.program)
        return built

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "matcher"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    @property
    def rule_id(self) -> str:
        return self.ext.rule_id or self.sigma_id or self.title


@dataclass
class LoadResult:
    rules: list[CompiledRule] = field(default_factory=list)
    correlations: list[tuple[str, SigmaCorrelationRule]] = field(default_factory=list)  # (file, rule)
    errors: list[RuleProblem] = field(default_factory=list)
    unsupported: list[RuleProblem] = field(default_factory=list)
    files: int = 0
    documents: int = 0  # rules and correlations met in the files, loadable or not
    filters: int = 0  # Sigma filter documents (applied to the rules of their logsource)
