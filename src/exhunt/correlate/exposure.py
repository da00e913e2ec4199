"""Bridge from what the parsers and the file listing saw to the exposure assessment, and back to findings.

Build observations come from every Exchange log's ``#Version:`` header (one per file, so the history shows
when the server was patched) and from ``bin/ExSetup.exe``'s version resource. A finding of exploitation on a
server already patched for that CVE at that time is graded an attempt; on an exposed server it stays.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from exhunt.exposure import (
    BuildObservation,
    assess_exposure,
    exsetup_observation,
    find_exsetup,
    observations_from_directives,
    patched_at,
)
from exhunt.exposure.config import (
    MAX_CONFIG_BYTES,
    ConfigCheck,
    ConfigError,
    is_apphost,
    is_fipfs_config,
    read_apphost,
    read_fipfs,
)
from exhunt.model.coverage import HostCoverage, InputWarning
from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.model.finding import Finding, Outcome, Severity
from exhunt.parsers.base import ParseReport
from exhunt.sources.base import HostTree
from exhunt.sources.listing import paths_of, times_of

EXCHANGE_LOG_KINDS = frozenset({
    ArtifactKind.HTTPPROXY, ArtifactKind.ECP_SERVER, ArtifactKind.ECP_ACTIVITY, ArtifactKind.RPS_HTTP,
    ArtifactKind.RPS_CMDLET, ArtifactKind.OABGENERATOR,
})


def build_observations(artifact: Artifact, report: ParseReport) -> list[BuildObservation]:
    if artifact.kind not in EXCHANGE_LOG_KINDS:
        return []
    return observations_from_directives(artifact.path, report.directives, report.first_time)


def exsetup_observations(tree: HostTree, artifacts: Sequence[Artifact], exchange_root: str | None,
                         coverage: HostCoverage) -> list[BuildObservation]:
    by_path = {path: mtime for _, path, mtime in times_of(artifacts)
               if find_exsetup([path])}  # the candidates only, not every file
    found: list[BuildObservation] = []
    for path in find_exsetup(list(by_path), exchange_root)[:1]:
        observation, reason = exsetup_observation(tree, path, by_path[path])
        if observation is None:
            coverage.warn(InputWarning(path=path, message=reason, code="no-version"))
        else:
            found.append(observation)
    return found


def config_checks(tree: HostTree, artifacts: Sequence[Artifact], coverage: HostCoverage) -> dict[str, ConfigCheck]:
    """Conditions beyond the build read from the host's IIS ``applicationHost.config`` and FIP-FS
    ``Configuration.xml`` (the first readable one of each, by path).

    A file that cannot be read or parsed is a warning with its path; its conditions stay "not in evidence"."""
    checks: dict[str, ConfigCheck] = {}
    for test, reader, what in ((is_apphost, read_apphost, "IIS configuration"),
                               (is_fipfs_config, read_fipfs, "FIP-FS configuration")):
        for path in sorted(path for path in paths_of(artifacts) if test(path)):
            try:
                with tree.open(path) as handle:
                    data = handle.read(MAX_CONFIG_BYTES + 1)
                checks.update(reader(data, path))
                break
            except (OSError, ConfigError) as exc:
                coverage.warn(InputWarning(path=path, code="unreadable",
                                           message=f"{what} not read for the exposure conditions: {exc}"))
    return checks


def host_exposure(observations: list[BuildObservation], user_build: str | None,
                  config: dict[str, ConfigCheck] | None = None) -> dict[str, Any]:
    """Product, CU, SU, CVE statuses and exposure windows; empty when no build is known."""
    if not observations and not user_build:
        return {}
    return assess_exposure(observations, user_build=user_build, config=config)


def grade_by_exposure(findings: Sequence[Finding], history: Sequence[BuildObservation]) -> list[Finding]:
    """A success against a CVE the server was already patched for at that time is only an attempt."""
    if not history:
        return list(findings)
    graded: list[Finding] = []
    for finding in findings:
        if finding.outcome is not Outcome.SUCCEEDED or not finding.cves or not finding.first_seen:
            graded.append(finding)
            continue
        states = [patched_at(history, cve, finding.first_seen) for cve in finding.cves]
        if states and all(state is True for state in states):
            graded.append(dataclasses.replace(
                finding, outcome=Outcome.ATTEMPTED, severity=min(finding.severity, Severity.MEDIUM),
                description=(finding.description + " " if finding.description else "")
                + f"The server's build was already patched for {', '.join(finding.cves)} at that time: "
                  "graded as an attempt.",
                attributes=(*finding.attributes, ("exposure", "patched"))))
        elif any(state is False for state in states):
            graded.append(dataclasses.replace(finding, attributes=(*finding.attributes, ("exposure", "exposed"))))
        else:
            graded.append(finding)
    return graded
