"""Rule files -> compiled rules, with every problem collected (file, rule, reason); nothing is skipped silently.

A rule that pySigma rejects is a load error; a rule pySigma accepts but exhunt cannot evaluate (its
logsource is not one exhunt reads, a placeholder without values, a regex Python does not support...) is
*unsupported* with a reason code. Neither stops the load.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.filters import SigmaFilter
from sigma.rule import SigmaRule, SigmaYAMLLoader

from exhunt.content.yamlio import rule_files
from exhunt.detectors.sigma.compile import CompileContext, checked, condition_trees, lower_trees, regex_unsupported
from exhunt.detectors.sigma.compiled import CompiledRule, LoadResult, RuleProblem
from exhunt.detectors.sigma.extension import Extension, ExtensionError, parse_extension
from exhunt.detectors.sigma.literals import required_numbers, trees_literals
from exhunt.detectors.sigma.pipeline import Pipelines
from exhunt.detectors.sigma.requirements import trees_requirements, trees_scoped
from exhunt.detectors.sigma.values import Unsupported
from exhunt.model.finding import Confidence, Severity

_CVE = re.compile(r"^cve\.(\d{4})[.-](\d{4,})$", re.IGNORECASE)
_ATTACK = re.compile(r"^attack\.t(\d{4})(?:\.(\d{3}))?$", re.IGNORECASE)
_LEVELS = {"informational": Severity.INFO, "low": Severity.LOW, "medium": Severity.MEDIUM,
           "high": Severity.HIGH, "critical": Severity.CRITICAL}


def tag_ids(tags: Iterable[Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """CVE ids (``CVE-2021-26855``) and ATT&CK technique ids (``T1505.003``) from Sigma tags."""
    cves: set[str] = set()
    attack: set[str] = set()
    for tag in tags:
        text = str(tag)
        if m := _CVE.match(text):
            cves.add(f"CVE-{m.group(1)}-{m.group(2)}")
        elif m := _ATTACK.match(text):
            attack.add(f"T{m.group(1)}" + (f".{m.group(2)}" if m.group(2) else ""))
    return tuple(sorted(cves)), tuple(sorted(attack))


def _label(rule: SigmaRule | SigmaCorrelationRule | SigmaFilter) -> str:
    return str(rule.id) if rule.id else (rule.title or "")


def _confidence(rule: SigmaRule, ext: Extension) -> Confidence:
    if ext.confidence is not None:
        return ext.confidence
    status = str(rule.status.name).lower() if rule.status else ""
    return Confidence.LOW if status in ("experimental", "unsupported", "deprecated") else Confidence.MEDIUM


class RuleLoader:
    def __init__(self, pipelines: Pipelines, placeholders: Mapping[str, Sequence[str]] | None = None) -> None:
        self.pipelines = pipelines
        self.placeholders = dict(placeholders or {})
        self._result = LoadResult()
        self.pending: list[tuple[str, SigmaRule]] = []  # parsed, compiled in ``finish`` (after all filters)
        self.filters: list[tuple[str, SigmaFilter]] = []
        self.seen: dict[str, str] = {}  # rule id -> file that defined it first

    def load_tree(self, root: Path, base: Path | None = None) -> None:
        base = base or (root.parent if root.is_file() else root)
        for path in rule_files(root):
            try:
                display = path.relative_to(base).as_posix()
            except ValueError:
                display = path.name
            self.load_file(path, display)

    def load_file(self, path: Path, display: str) -> None:
        self._result.files += 1
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self._result.errors.append(RuleProblem(display, "", "read", str(exc)))
            return
        self.load_text(text, display, path)

    def load_text(self, text: str, display: str, path: Path | None = None) -> None:
        try:  # libyaml (C) with pySigma's duplicate-key check: ~10x faster than pySigma's pure-Python load
            documents = list(yaml.load_all(text, Loader=SigmaYAMLLoader))
        except yaml.YAMLError as exc:  # the message carries line and column
            self._result.errors.append(RuleProblem(display, "", "yaml", str(exc).replace("\n", " ")))
            return
        try:
            collection = SigmaCollection.from_dicts(documents, collect_errors=True, resolve_references=False,
                                                    source=SigmaRuleLocation(path or Path(display)),
                                                    collect_filters=True)
        except Exception as exc:  # pySigma raises many types on odd documents: report with the file, go on
            self._result.errors.append(RuleProblem(display, "", "sigma", f"{type(exc).__name__}: {exc}"))
            return
        for error in collection.errors:
            if not isinstance(error, SigmaError) or not _owned_by_rule(error, collection):
                self._result.errors.append(RuleProblem(display, "", "sigma", str(error)))
        for rule in collection.rules:
            self._result.documents += 1
            if isinstance(rule, SigmaCorrelationRule):
                if rule.errors:
                    self._error(display, rule, rule.errors)
                else:
                    self._result.correlations.append((display, rule))
            elif isinstance(rule, SigmaRule):
                self.pending.append((display, rule))
        for sigma_filter in collection.filters:
            self._result.filters += 1
            if sigma_filter.errors:
                self._error(display, sigma_filter, sigma_filter.errors)
            else:
                self.filters.append((display, sigma_filter))

    def finish(self) -> LoadResult:
        """Apply the Sigma filters met in any file to the rules of every file, then compile the rules."""
        for display, rule in self.pending:
            for filter_file, sigma_filter in self.filters:
                try:
                    filtered = sigma_filter.apply_on_rule(rule)  # the rule as is when it does not apply
                except (SigmaError, ValueError, TypeError, KeyError) as exc:
                    self._result.errors.append(RuleProblem(filter_file, _label(sigma_filter), "filter",
                                                          f"cannot apply to {display}: {exc}"))
                    continue
                if isinstance(filtered, SigmaRule):
                    rule = filtered
            self._add_rule(rule, display)
        self.pending.clear()
        return self._result

    def problem(self, problem: RuleProblem) -> None:
        """Record a load error met outside the files (a path that does not exist)."""
        self._result.errors.append(problem)

    @property
    def result(self) -> LoadResult:
        """Everything loaded so far, compiled (filters met so far applied to the rules not yet compiled)."""
        return self.finish()

    def _error(self, display: str, rule: SigmaRule | SigmaCorrelationRule | SigmaFilter,
               errors: Sequence[Any]) -> None:
        message = "; ".join(sorted({str(e) for e in errors}))
        self._result.errors.append(RuleProblem(display, _label(rule), "sigma", message))

    def _add_rule(self, rule: SigmaRule, display: str) -> None:
        if rule.errors:
            self._error(display, rule, rule.errors)
            return
        logsource = {k: getattr(rule.logsource, k) for k in ("product", "category", "service")}
        mapping = self.pipelines.resolve(logsource)
        if mapping is None:
            shown = ", ".join(f"{k}={v}" for k, v in logsource.items() if v) or "none"
            self._result.unsupported.append(RuleProblem(
                display, _label(rule), "logsource", f"logsource not read by exhunt ({shown})"))
            return
        ctx = CompileContext(mapping.fields, self.placeholders)
        try:
            trees = condition_trees(rule.detection)
            program = lower_trees(trees, ctx)
            matcher = checked(program)
            ext = parse_extension(rule.custom_attributes.get("exhunt"), ctx)
        except Unsupported as exc:
            self._result.unsupported.append(RuleProblem(display, _label(rule), exc.code, exc.message))
            return
        except re.error as exc:  # an outcome block's regex (its matchers are built with the extension)
            problem = regex_unsupported(exc)
            self._result.unsupported.append(RuleProblem(display, _label(rule), problem.code, problem.message))
            return
        except ExtensionError as exc:
            self._result.errors.append(RuleProblem(display, _label(rule), "exhunt", str(exc)))
            return
        except (SigmaError, RecursionError, ValueError, TypeError) as exc:
            self._result.errors.append(RuleProblem(display, _label(rule), "sigma", f"{type(exc).__name__}: {exc}"))
            return
        if "exhunt" in rule.custom_attributes and not ext.rule_id:
            self._result.errors.append(RuleProblem(display, _label(rule), "exhunt", "exhunt.rule_id is required"))
            return
        key = ext.rule_id or (str(rule.id) if rule.id else "")
        if key and key in self.seen:
            self._result.errors.append(RuleProblem(display, _label(rule), "duplicate",
                                                  f"rule id {key} already loaded from {self.seen[key]}"))
            return
        if key:
            self.seen[key] = display
        cves, attack = tag_ids(rule.tags)
        id_fields = frozenset(n.lower() for kind in mapping.kinds for n in self.pipelines.route_id_fields(kind))
        sigma_id_fields = frozenset(k for k in ("eventid",) if set(ctx.names(k)) & id_fields)
        level = _LEVELS.get(str(rule.level.name).lower(), Severity.MEDIUM) if rule.level else Severity.MEDIUM
        self._result.rules.append(CompiledRule(
            index=len(self._result.rules), sigma_id=str(rule.id) if rule.id else "", name=rule.name,
            title=rule.title, description=rule.description or "", file=display, level=level,
            confidence=_confidence(rule, ext), cves=cves, attack=attack, logsource=mapping,
            program=program, built=matcher, literals=trees_literals(trees, mapping.weak, mapping.common), ext=ext,
            event_ids=required_numbers(trees, sigma_id_fields) if sigma_id_fields else None,
            requirements=trees_requirements(trees), scoped=trees_scoped(trees, ctx.names)))


def _owned_by_rule(error: SigmaError, collection: SigmaCollection) -> bool:
    """Rule errors are propagated into the collection's errors too; report them once, with the rule."""
    return any(error in getattr(rule, "errors", ()) for rule in collection.rules)
