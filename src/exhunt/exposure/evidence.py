"""Build observations from a host's evidence: log header directives and ExSetup.exe.

Written against small protocols (anything with the attributes used), so the engine can hand over its
``ParseReport`` objects and its ``HostTree`` without this package importing the parser or source layers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import BinaryIO, Protocol

from exhunt.exposure.version import MAX_PE_BYTES, BuildObservation, exsetup_build, observations_from_directives

EXSETUP_NAME = "exsetup.exe"


class ReportLike(Protocol):
    @property
    def path(self) -> str: ...
    @property
    def directives(self) -> list[tuple[int, str, str]]: ...
    @property
    def first_time(self) -> str | None: ...


class TreeLike(Protocol):
    def open(self, path: str) -> BinaryIO: ...


def observations_from_reports(reports: Iterable[ReportLike]) -> list[BuildObservation]:
    """Every Exchange build named by a ``#Version:`` directive of the parsed logs, dated by the header's
    ``#Date:`` (else the file's first record time). IIS ``#Version: 1.0`` lines are not builds and are skipped."""
    out: list[BuildObservation] = []
    for report in reports:
        out.extend(observations_from_directives(report.path, report.directives, report.first_time))
    return out


def find_exsetup(paths: Sequence[str], exchange_root: str | None = None) -> list[str]:
    """Relative paths of ``Bin/ExSetup.exe`` among ``paths`` (case ignored), the one under ``exchange_root``
    first when given."""
    found = sorted(p for p in paths if p.replace("\\", "/").lower().endswith("/bin/" + EXSETUP_NAME))
    if exchange_root:
        root = exchange_root.rstrip("/").lower() + "/"
        found.sort(key=lambda p: (not p.lower().startswith(root), p))
    return found


def exsetup_observation(tree: TreeLike, path: str, mtime: str | None = None) -> tuple[BuildObservation | None, str]:
    """Read ExSetup.exe's version resource (bounded read, never executed): (observation or None, reason).

    ``mtime`` (the file's modification time from the evidence container) dates the observation: setup rewrites
    ExSetup.exe at every CU, so its time is roughly when the CU was installed; SUs may leave it untouched."""
    try:
        with tree.open(path) as handle:
            data = handle.read(MAX_PE_BYTES + 1)
    except OSError as exc:
        return None, f"cannot read {path}: {exc}"
    build, reason = exsetup_build(data)
    if build is None:
        return None, f"{path}: {reason}"
    return BuildObservation(mtime, build, path, "exsetup"), "ok"
