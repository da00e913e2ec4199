"""Turn per-source coverage into plain-language consequences: what could not be checked, and why."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from exhunt.content.bundle import RULES_DIR
from exhunt.content.yamlio import load_yaml
from exhunt.detectors.base import HostContext
from exhunt.model.coverage import HostCoverage, SourceCoverage, SourceStatus
from exhunt.model.evidence import ArtifactKind
from exhunt.sources.listing import has_kind

EXPECTATIONS = RULES_DIR / "coverage" / "expectations.yaml"


@dataclass(frozen=True, slots=True)
class Campaign:
    name: str
    start: str
    sources: tuple[str, ...]


@cache
def expectations() -> tuple[dict[str, dict[str, Any]], tuple[Campaign, ...]]:
    data = load_yaml(EXPECTATIONS.read_text(encoding="utf-8"))
    campaigns = tuple(Campaign(c["name"], str(c["start"]), tuple(c["sources"])) for c in data["campaigns"])
    return data["sources"], campaigns


def _usable(cov: SourceCoverage | None) -> bool:
    return cov is not None and cov.status in (SourceStatus.READ, SourceStatus.PARTIAL) and cov.records > 0


def key_sources_read(coverage: HostCoverage) -> bool:
    sources, _ = expectations()
    return any(_usable(coverage.sources.get(name)) for name, spec in sources.items() if spec.get("key"))


def _ntfs_notes(ctx: HostContext, sources: dict[str, dict[str, Any]], exchange_root: str | None) -> None:
    """Sources that are not logs (the $MFT, the USN journal): a note on what their absence costs, on a host
    whose files were collected (an Exchange install or web files), and on how far back they reach."""
    coverage = ctx.coverage
    has_files = exchange_root is not None or has_kind(ctx.artifacts, ArtifactKind.FILE)
    for name, spec in sources.items():
        if "absent_note" not in spec:
            continue
        cov = coverage.sources.get(name)
        if not _usable(cov):
            if has_files:
                state = "not in the evidence" if cov is None or cov.files == 0 else cov.status.value
                coverage.notes.append(f"{spec['label']} {state}: {spec['absent_note']}.")
        elif cov is not None and cov.first_time and spec.get("window_note"):
            coverage.notes.append(f"{spec['label']} starts {cov.first_time[:19].replace('T', ' ')}: "
                                  f"{spec['window_note']}.")


def summarise_coverage(ctx: HostContext, exchange_root: str | None) -> None:
    """Add the expected-but-missing sources and the notes on time windows to ``ctx.coverage``."""
    coverage = ctx.coverage
    sources, campaigns = expectations()
    if exchange_root is None and not any(k in coverage.sources for k in ("httpproxy", "ecp_server")):
        coverage.notes.append("No Exchange install folder was found in the evidence (no Logging/HttpProxy, no "
                              "bin/ExSetup.exe): Exchange logs could not be checked.")
    _ntfs_notes(ctx, sources, exchange_root)
    for name, spec in sources.items():
        if spec.get("expected", True) is False:
            continue
        cov = coverage.sources.get(name)
        alternatives = [coverage.sources.get(a) for a in spec.get("alternatives", [])]
        if _usable(cov) or any(_usable(a) for a in alternatives):
            continue
        coverage.source(name)  # listed as missing/unreadable
        state = "missing" if cov is None or cov.files == 0 else cov.status.value
        coverage.notes.append(f"{spec['label']} {state}: not checked: {spec['checks']}.")
    for campaign in campaigns:
        for name in campaign.sources:
            cov = coverage.sources.get(name)
            if not _usable(cov) or cov is None or cov.first_time is None:
                continue
            if cov.first_time[:10] > campaign.start:
                coverage.notes.append(
                    f"{sources[name]['label']} start {cov.first_time[:10]}: {campaign.name} exploitation "
                    f"(from {campaign.start}) before that date cannot be ruled out from these logs.")
    if coverage.warnings:
        coverage.notes.append(f"{len(coverage.warnings)} input warnings: some lines or files could not be read "
                              "(see warnings).")
