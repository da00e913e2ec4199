"""Field-mapping pipelines: which records a Sigma logsource selects, and what its field names are called.

The mapping is data (``rules/pipelines/*.yaml``, format described in ``windows.yaml``); this module only
loads and validates it. A rule's logsource matches an entry when both name exactly the same
product/category/service values (case ignored).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from exhunt.content.bundle import RULES_DIR
from exhunt.content.yamlio import load_yaml
from exhunt.detectors.sigma.view import Derived
from exhunt.model.evidence import ArtifactKind

PIPELINES_DIR = RULES_DIR / "pipelines"
LOGSOURCE_KEYS = ("product", "category", "service")

LogsourceKey = tuple[tuple[str, str], ...]


class PipelineError(ValueError):
    """A pipeline file is malformed (the message names the file and the entry)."""


@dataclass(frozen=True, slots=True)
class EventSelector:
    channel: str | None = None  # lowercase
    event_ids: tuple[int, ...] = ()  # empty: any
    where: tuple[tuple[str, tuple[str, ...]], ...] = ()  # extra field values (any of), Sigma syntax


@dataclass(frozen=True, slots=True)
class Route:
    """How records of one kind are keyed: fields holding the channel and the event id."""

    channel: tuple[str, ...] = ()
    event_id: tuple[str, ...] = ()


@dataclass(frozen=True)
class LogsourceMap:
    pipeline: str
    logsource: LogsourceKey
    kinds: tuple[ArtifactKind, ...]
    events: tuple[EventSelector, ...]  # empty: every record of the kinds
    fields: Mapping[str, tuple[str, ...]]  # lowercase sigma name -> lowercase event names
    weak: frozenset[str] = frozenset()  # lowercase sigma names shared by every record of a route
    common: frozenset[str] = frozenset()  # lowercase tokens found in nearly every record: poor literals


@dataclass
class Pipelines:
    entries: dict[LogsourceKey, LogsourceMap] = field(default_factory=dict)
    routes: dict[ArtifactKind, Route] = field(default_factory=dict)
    derived: dict[ArtifactKind, dict[str, Derived]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    def resolve(self, logsource: Mapping[str, str | None]) -> LogsourceMap | None:
        return self.entries.get(logsource_key(logsource))

    def route_id_fields(self, kind: ArtifactKind) -> tuple[str, ...]:
        route = self.routes.get(kind)
        return route.event_id if route else ()

    def kinds(self) -> list[ArtifactKind]:
        return sorted({k for e in self.entries.values() for k in e.kinds})


def logsource_key(logsource: Mapping[str, str | None]) -> LogsourceKey:
    return tuple((k, str(logsource[k]).strip().lower()) for k in LOGSOURCE_KEYS if logsource.get(k))


def _names(value: Any, where: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(i, str) and i for i in items):
        raise PipelineError(f"{where}: expected a field name or a list of names")
    return tuple(i.lower() for i in items)


def _field_map(raw: Any, where: str) -> dict[str, tuple[str, ...]]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise PipelineError(f"{where}: 'fields' must be a mapping")
    return {str(k).lower(): _names(v, f"{where}: field {k}") for k, v in raw.items()}


def _kinds(raw: Any, where: str) -> tuple[ArtifactKind, ...]:
    if not isinstance(raw, list) or not raw:
        raise PipelineError(f"{where}: 'kinds' must be a non-empty list")
    try:
        return tuple(ArtifactKind(str(k)) for k in raw)
    except ValueError as exc:
        raise PipelineError(f"{where}: {exc}") from exc


def _selector(raw: Any, where: str) -> EventSelector:
    if not isinstance(raw, Mapping):
        raise PipelineError(f"{where}: an event selector must be a mapping")
    ids = raw.get("event_id", [])
    ids = ids if isinstance(ids, list) else [ids]
    if not all(isinstance(i, int) for i in ids):
        raise PipelineError(f"{where}: event_id must be integers")
    where_raw = raw.get("where") or {}
    if not isinstance(where_raw, Mapping):
        raise PipelineError(f"{where}: 'where' must be a mapping")
    conds = tuple(
        (str(k), tuple(str(v) for v in (val if isinstance(val, list) else [val])))
        for k, val in sorted(where_raw.items())
    )
    channel = raw.get("channel")
    return EventSelector(str(channel).lower() if channel else None, tuple(sorted(ids)), conds)


def load_pipeline_file(path: Path, into: Pipelines) -> None:
    where = path.name
    try:
        doc = load_yaml(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PipelineError(f"{where}: {exc}") from exc
    if not isinstance(doc, Mapping) or not isinstance(doc.get("logsources"), list):
        raise PipelineError(f"{where}: expected a mapping with a 'logsources' list")
    name = str(doc.get("name") or path.stem)
    default_kinds = _kinds(doc["kinds"], where) if "kinds" in doc else ()
    common = _field_map(doc.get("fields"), where)
    weak = frozenset(_names(doc["weak_fields"], where)) if doc.get("weak_fields") else frozenset()
    tokens = frozenset(_names(doc["common_tokens"], where)) if doc.get("common_tokens") else frozenset()
    derived: dict[str, Derived] = {}
    for dname, spec in (doc.get("derived") or {}).items():
        if not isinstance(spec, Mapping) or not isinstance(spec.get("join"), list):
            raise PipelineError(f"{where}: derived field {dname} needs a 'join' list")
        derived[str(dname).lower()] = Derived(_names(spec["join"], where), str(spec.get("sep", "")))
    route_raw = doc.get("route") or {}
    route = Route(tuple(map(str, route_raw.get("channel") or ())), tuple(map(str, route_raw.get("event_id") or ())))
    for i, entry in enumerate(doc["logsources"], 1):
        at = f"{where}: logsources[{i}]"
        if not isinstance(entry, Mapping) or not isinstance(entry.get("logsource"), Mapping):
            raise PipelineError(f"{at}: needs a 'logsource' mapping")
        key = logsource_key(entry["logsource"])
        kinds = _kinds(entry["kinds"], at) if "kinds" in entry else default_kinds
        if not kinds:
            raise PipelineError(f"{at}: no artifact kinds")
        events = tuple(_selector(s, at) for s in entry.get("events") or [])
        if any(s == EventSelector() for s in events):
            events = ()
        fields = {**common, **_field_map(entry.get("fields"), at)}
        if key in into.entries:
            raise PipelineError(f"{at}: logsource {dict(key)} is already mapped by {into.entries[key].pipeline}")
        into.entries[key] = LogsourceMap(name, key, kinds, events, fields, weak, tokens)
    for kind in default_kinds or {k for e in into.entries.values() if e.pipeline == name for k in e.kinds}:
        if route.channel or route.event_id:
            into.routes[kind] = route
        if derived:
            into.derived.setdefault(kind, {}).update(derived)
    into.files.append(path.name)


def load_pipelines(directory: Path = PIPELINES_DIR) -> Pipelines:
    pipes = Pipelines()
    for path in sorted(directory.glob("*.yaml")):
        load_pipeline_file(path, pipes)
    return pipes
