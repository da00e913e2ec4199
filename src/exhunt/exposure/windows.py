"""Build history and exposure windows: when a server ran which build, and when a family's chain was open."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from exhunt.exposure.version import BuildObservation, sort_observations


def stamp_key(stamp: str) -> str:
    """Comparable form of an ISO timestamp (to the second): ``2021-08-13T10:00:00.123Z`` -> ``2021-08-13T10:00:00``."""
    return stamp.replace(" ", "T")[:19]


def days_between(start: str, end: str) -> int | None:
    try:
        a = datetime.fromisoformat(stamp_key(start) if "T" in start else start[:10])
        b = datetime.fromisoformat(stamp_key(end) if "T" in end else end[:10])
    except ValueError:
        return None
    return (b - a).days


@dataclass(slots=True)
class Segment:
    """A run of consecutive observations of one build."""

    build: str
    first_seen: str
    last_seen: str
    observations: int = 1
    paths: list[str] = field(default_factory=list)


def history(observations: Sequence[BuildObservation]) -> list[Segment]:
    """Dated observations grouped into consecutive runs of the same build, in time order."""
    segments: list[Segment] = []
    for obs in sort_observations(o for o in observations if o.timestamp):
        stamp = obs.timestamp or ""
        if segments and segments[-1].build == obs.build:
            seg = segments[-1]
            seg.last_seen = stamp
            seg.observations += 1
            if len(seg.paths) < 3 and obs.path not in seg.paths:
                seg.paths.append(obs.path)
        else:
            segments.append(Segment(obs.build, stamp, stamp, 1, [obs.path]))
    return segments


@dataclass(slots=True)
class Window:
    """A span during which a predicate held (e.g. "ProxyShell chain open")."""

    start: str  # first observation of the span
    open_start: bool  # the span began before the evidence (it holds at the first observation)
    last_seen: str  # last observation at which it still held
    end: str | None  # first observation at which it no longer held; None: still held at the end
    builds: list[str] = field(default_factory=list)


def windows(segments: Sequence[Segment], holds: Callable[[str], bool | None]) -> tuple[list[Window], bool]:
    """Spans of ``segments`` whose build makes ``holds`` true. Second value: some build was unknown (None)."""
    out: list[Window] = []
    unknown = False
    current: Window | None = None
    for i, seg in enumerate(segments):
        state = holds(seg.build)
        if state is None:
            unknown = True
        if state:
            if current is None:
                current = Window(seg.first_seen, i == 0, seg.last_seen, None, [seg.build])
            else:
                current.last_seen = seg.last_seen
                if seg.build not in current.builds:
                    current.builds.append(seg.build)
        elif current is not None:
            current.end = seg.first_seen
            out.append(current)
            current = None
    if current is not None:
        out.append(current)
    return out, unknown


def build_at(segments: Sequence[Segment], when: str) -> tuple[str | None, bool]:
    """The build running at ``when``: (build, before_evidence). ``before_evidence`` True when ``when`` is before
    the first observation (the first build is returned; the real one was that build or an older one)."""
    if not segments:
        return None, False
    key = stamp_key(when)
    current: str | None = None
    for seg in segments:
        if stamp_key(seg.first_seen) <= key:
            current = seg.build
        else:
            break
    if current is None:
        return segments[0].build, True
    return current, False
