"""The data behind ``exhunt rules check``: what loads, what can run, what cannot and why (pure, no printing)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from exhunt.detectors.sigma.compiled import RuleProblem
from exhunt.detectors.sigma.family import SigmaContent, Source, shipped_sources


@dataclass
class RulesCheckReport:
    paths: list[str]
    files: int = 0
    documents: int = 0  # rules and correlation rules met in the files
    loaded: int = 0  # accepted by pySigma (evaluable + unsupported)
    evaluable: int = 0  # compiled: exhunt runs them
    correlations: int = 0  # of which correlation rules
    filters: int = 0  # Sigma filter documents applied to the rules
    pipeline_error: str | None = None
    errors: list[RuleProblem] = field(default_factory=list)
    unsupported: list[RuleProblem] = field(default_factory=list)
    by_kind: dict[str, int] = field(default_factory=dict)  # evaluable rules per artifact kind
    full_parse: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # kind -> (file, rule id)

    @property
    def unsupported_by_code(self) -> dict[str, int]:
        return dict(sorted(Counter(p.code for p in self.unsupported).items()))

    def reasons(self) -> list[tuple[str, str, int]]:
        """(code, reason, rules) for every distinct reason, most frequent first."""
        counts = Counter((p.code, p.message) for p in self.unsupported)
        return sorted(((c, m, n) for (c, m), n in counts.items()), key=lambda r: (-r[2], r[0], r[1]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "paths": self.paths, "files": self.files, "documents": self.documents, "loaded": self.loaded,
            "evaluable": self.evaluable, "correlations": self.correlations, "filters": self.filters,
            "pipeline_error": self.pipeline_error,
            "load_errors": [vars_of(p) for p in self.errors],
            "unsupported_by_code": self.unsupported_by_code,
            "unsupported_reasons": [{"code": c, "reason": m, "rules": n} for c, m, n in self.reasons()],
            "unsupported": [vars_of(p) for p in self.unsupported],
            "evaluable_by_kind": dict(sorted(self.by_kind.items())),
            "full_parse": {k: [{"file": f, "rule": r} for f, r in v] for k, v in sorted(self.full_parse.items())},
        }


def vars_of(problem: RuleProblem) -> dict[str, str]:
    return {"file": problem.file, "rule": problem.rule, "code": problem.code, "message": problem.message}


def check_rules(paths: Sequence[str], shipped: bool = False,
                placeholders: Mapping[str, Sequence[str]] | None = None) -> RulesCheckReport:
    """Load ``paths`` (folders or files of Sigma rules; with ``shipped``, exhunt's own rules too) and report."""
    sources: list[Source] = shipped_sources() if shipped else []
    sources.extend((p, None) for p in paths)
    content = SigmaContent(sources, placeholders)
    result = content.result
    report = RulesCheckReport(paths=[s for s, _ in sources], files=result.files, documents=result.documents,
                              pipeline_error=content.pipeline_error)
    report.errors = sorted(result.errors, key=lambda p: (p.file, p.rule, p.message))
    report.unsupported = sorted(result.unsupported, key=lambda p: (p.file, p.rule, p.code))
    report.correlations = len(content.correlations.rules) if content.correlations else 0
    report.filters = result.filters
    report.evaluable = len(result.rules) + report.correlations
    report.loaded = report.evaluable + len(result.unsupported)
    kinds: Counter[str] = Counter()
    for rule in result.rules:
        for kind in rule.logsource.kinds:
            kinds[kind.value] += 1
            if rule.literals is None:
                report.full_parse.setdefault(kind.value, []).append((rule.file, rule.rule_id))
    report.by_kind = dict(kinds)
    for rules in report.full_parse.values():
        rules.sort()
    return report
