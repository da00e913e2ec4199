"""Exchange build numbers: parsing, and reading them from the evidence.

Sources of a server's build:
* the ``#Version:`` header directive of Exchange logs (HttpProxy, ECP, RpsHttp...), zero-padded as
  ``15.02.0792.003``; each log file records the build that wrote it, so the logs give a build history;
* the version resource of ``<Exchange>\\Bin\\ExSetup.exe`` (read with pefile, never executed);
* a build given by the user (``--build 15.2.858.5``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

_BUILD_RE = re.compile(r"^\s*v?(\d{1,2})\.(\d{1,2})\.(\d{1,5})\.(\d{1,5})\s*$")
_DIRECTIVE_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})")
EXCHANGE_MAJORS = frozenset({8, 14, 15})
MAX_PE_BYTES = 64 << 20  # ExSetup.exe is well under 1 MB; anything bigger is not it


@dataclass(frozen=True, slots=True, order=True)
class Build:
    major: int
    minor: int
    build: int
    revision: int

    @property
    def train(self) -> tuple[int, int, int]:
        """major.minor.build: identifies the CU; the revision tells the SU."""
        return (self.major, self.minor, self.build)

    @property
    def major_minor(self) -> tuple[int, int]:
        return (self.major, self.minor)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.build}.{self.revision}"


@lru_cache(maxsize=4096)  # a host's thousands of hourly logs carry a handful of builds, read many times each
def parse_build(text: str) -> Build | None:
    """``15.2.986.5`` or ``15.02.0986.005`` -> Build; anything else (e.g. W3C ``#Version: 1.0``) -> None."""
    match = _BUILD_RE.match(text or "")
    if not match:
        return None
    parts = [int(p) for p in match.groups()]
    if parts[0] not in EXCHANGE_MAJORS:
        return None
    return Build(*parts)


@lru_cache(maxsize=4096)  # as parse_build: every hourly log's #Version directive, and each later reading of it
def normalise_build(text: str) -> str | None:
    """``15.02.0792.003`` -> ``15.2.792.3``; None when the text is no Exchange build number."""
    build = parse_build(text)
    return str(build) if build else None


@dataclass(frozen=True, slots=True)
class BuildObservation:
    """The server ran ``build`` at ``timestamp`` (ISO 8601 UTC, or None when unknown), as ``path`` shows.

    ``source``: ``log-version`` (a ``#Version:`` directive), ``exsetup`` (ExSetup.exe version resource, with
    the file's time when known), ``user`` (given on the command line). ``line`` is the directive's line.
    """

    timestamp: str | None
    build: str
    path: str
    source: str = "log-version"
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"timestamp": self.timestamp, "build": self.build, "path": self.path,
                               "source": self.source}
        if self.line is not None:
            out["line"] = self.line
        return out


class ObservationLike(Protocol):
    """Anything with ``timestamp``, ``build`` and ``path`` (``line`` and ``source`` optional)."""

    @property
    def timestamp(self) -> str | None: ...
    @property
    def build(self) -> str: ...
    @property
    def path(self) -> str: ...


def as_observation(obs: ObservationLike) -> BuildObservation | None:
    """A normalised copy (build ``15.02.0792.003`` -> ``15.2.792.3``); None when the build is no Exchange build."""
    build = normalise_build(obs.build)
    if build is None:
        return None
    if type(obs) is BuildObservation and build == obs.build and obs.timestamp != "" \
            and type(obs.source) is str and (obs.line is None or type(obs.line) is int):
        return obs  # already normal (the logs' thousands of #Version observations): the same, not a copy
    line = getattr(obs, "line", None)
    return BuildObservation(obs.timestamp or None, build, obs.path, str(getattr(obs, "source", "log-version")),
                            line if isinstance(line, int) else None)


def _iso_from_directive_date(value: str) -> str | None:
    """Exchange logs write ``#Date: 2021-03-03T00:00:01.234Z``; IIS writes ``#Date: 2021-03-03 00:00:01``."""
    match = _DIRECTIVE_DATE.match(value.strip())
    if not match:
        return None
    return f"{match.group(1)}T{match.group(2)}Z"


@lru_cache(maxsize=64)  # a few directive names (``Version``, ``Date``...), over every log of a host
def _directive_name(name: str) -> str:
    return name.lstrip("#").lower()


def observations_from_directives(path: str, directives: Sequence[tuple[int, str, str]],
                                 fallback_time: str | None = None) -> list[BuildObservation]:
    """Build observations from one log file's header directives (``ParseReport.directives``).

    Each Exchange build ``#Version:`` is dated by the ``#Date:`` directive of the same header block (the
    nearest one within a few lines), else by ``fallback_time`` (e.g. the file's first record time).
    Non-Exchange versions (IIS ``#Version: 1.0``) are ignored.
    """
    dates = [(line, _iso_from_directive_date(value)) for line, name, value in directives
             if _directive_name(name) == "date"]
    out: list[BuildObservation] = []
    for line, name, value in directives:
        if _directive_name(name) != "version":
            continue
        build = normalise_build(value)
        if build is None:
            continue
        near = [(abs(d_line - line), stamp) for d_line, stamp in dates if stamp and abs(d_line - line) <= 8]
        stamp = min(near)[1] if near else fallback_time
        out.append(BuildObservation(stamp, build, path, "log-version", line))
    return out


def _version_from_fixed_info(pe: Any) -> str | None:
    for info in getattr(pe, "VS_FIXEDFILEINFO", None) or []:
        ms, ls = int(getattr(info, "FileVersionMS", 0)), int(getattr(info, "FileVersionLS", 0))
        build = Build(ms >> 16, ms & 0xFFFF, ls >> 16, ls & 0xFFFF)
        if build.major in EXCHANGE_MAJORS:
            return str(build)
    return None


def _version_from_strings(pe: Any) -> str | None:
    for file_info in getattr(pe, "FileInfo", None) or []:
        for entry in file_info if isinstance(file_info, list) else [file_info]:
            for table in getattr(entry, "StringTable", None) or []:
                for key in (b"ProductVersion", b"FileVersion"):
                    raw = table.entries.get(key)
                    if raw:
                        found = normalise_build(raw.decode("utf-8", "replace").split(" ")[0])
                        if found:
                            return found
    return None


def exsetup_build(data: bytes) -> tuple[str | None, str]:
    """The Exchange build in a PE file's version resource (ExSetup.exe): (build or None, reason).

    Only parses the headers and the resource directory; the file is never loaded or run.
    """
    if len(data) > MAX_PE_BYTES:
        return None, f"file larger than {MAX_PE_BYTES} bytes: not read as ExSetup.exe"
    if data[:2] != b"MZ":
        return None, "not a PE file (no MZ header)"
    import pefile

    try:
        pe = pefile.PE(data=data, fast_load=True)
        pe.parse_data_directories(directories=[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_RESOURCE"]])
    except Exception as exc:  # pefile raises PEFormatError and assorted errors on damaged files
        return None, f"unreadable PE file: {exc}"
    try:
        build = _version_from_fixed_info(pe) or _version_from_strings(pe)
    finally:
        pe.close()
    if build is None:
        return None, "no Exchange version in the PE version resource"
    return build, "ok"


def sort_observations(observations: Iterable[BuildObservation]) -> list[BuildObservation]:
    """Dated observations in time order (then build, path, line); undated ones are dropped by the caller."""
    return sorted(observations, key=lambda o: (o.timestamp or "", parse_build(o.build) or Build(0, 0, 0, 0),
                                               o.path, o.line or 0, o.source))
