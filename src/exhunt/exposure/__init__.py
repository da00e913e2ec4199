"""Exchange exposure: build identification, open CVEs, and exposure windows against exploitation dates."""

from exhunt.exposure.assess import assess_exposure, describe_build, exposed_at, family_exposed, patched_at
from exhunt.exposure.builds import BuildInfo, BuildTable, BuildTableError, load_table
from exhunt.exposure.campaigns import Family, load_families
from exhunt.exposure.evidence import exsetup_observation, find_exsetup, observations_from_reports
from exhunt.exposure.version import (
    Build,
    BuildObservation,
    exsetup_build,
    normalise_build,
    observations_from_directives,
    parse_build,
)

__all__ = [
    "Build",
    "BuildInfo",
    "BuildObservation",
    "BuildTable",
    "BuildTableError",
    "Family",
    "assess_exposure",
    "describe_build",
    "exposed_at",
    "exsetup_build",
    "exsetup_observation",
    "family_exposed",
    "find_exsetup",
    "load_families",
    "load_table",
    "normalise_build",
    "observations_from_directives",
    "observations_from_reports",
    "parse_build",
    "patched_at",
]
