"""Sigma correlation rules (event_count, value_count, temporal) over the events of one host."""

from __future__ import annotations

from dataclasses import dataclass, field

from exhunt.detectors.base import HostContext
from exhunt.detectors.sigma.loader import CompiledRule, LoadResult
from exhunt.detectors.sigma.pipeline import Pipelines
from exhunt.detectors.sigma.view import EventView
from exhunt.model.event import Record
from exhunt.model.finding import Finding


class Correlator:
    def observe(self, rule: CompiledRule, view: EventView, record: Record) -> None:
        """Record a base-rule hit."""

    def finish(self, ctx: HostContext) -> list[Finding]:
        return []


@dataclass
class Correlations:
    rules: list[object] = field(default_factory=list)

    def correlator(self) -> Correlator:
        return Correlator()


def compile_correlations(result: LoadResult, pipelines: Pipelines) -> Correlations:
    return Correlations()
