"""Read indicator feeds: STIX 2.1 bundles, MISP event JSON, CSV, plain lists and exhunt's YAML packs.

Every indicator keeps its source (the feed file, or the publication a pack names) and description.
A value that does not fit its type is an error with its location; an indicator that cannot be matched
offline (a STIX pattern joining observations, an unknown MISP type) is listed as unsupported with the
reason. Nothing is dropped silently.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from exhunt.content.yamlio import load_yaml
from exhunt.detectors.ioc.indicator import Indicator, IocType, infer_type, make, parse_type
from exhunt.model.coverage import InputWarning

MISP_TYPES: dict[str, tuple[IocType, ...]] = {
    "md5": (IocType.MD5,), "sha1": (IocType.SHA1,), "sha256": (IocType.SHA256,),
    "filename": (IocType.FILENAME,), "filename|md5": (IocType.FILENAME, IocType.MD5),
    "filename|sha1": (IocType.FILENAME, IocType.SHA1), "filename|sha256": (IocType.FILENAME, IocType.SHA256),
    "ip-src": (IocType.IP,), "ip-dst": (IocType.IP,), "ip-src|port": (IocType.IP,), "ip-dst|port": (IocType.IP,),
    "domain": (IocType.DOMAIN,), "hostname": (IocType.DOMAIN,), "domain|ip": (IocType.DOMAIN, IocType.IP),
    "url": (IocType.URL,), "user-agent": (IocType.USER_AGENT,),
}
CSV_VALUE = ("indicator", "value", "ioc", "indicator_value", "observable", "indicatorvalue")
CSV_TYPE = ("indicatortype", "indicator_type", "type", "ioc_type", "iocs_type", "kind")
CSV_DESCRIPTION = ("description", "comment", "notes", "context", "title", "comments")


class Feed:
    """What one feed file gave: indicators plus the problems met, with locations."""

    def __init__(self, origin: str, source: str | None = None) -> None:
        self.origin = origin
        self.source = source or origin
        self.indicators: list[Indicator] = []
        self.errors: list[InputWarning] = []
        self.unsupported: list[InputWarning] = []

    def add(self, kind: IocType | None, value: str, description: str = "", ref: str = "",
            line: int | None = None, **extra: Any) -> None:
        if kind is None:
            kind = infer_type(value)
        if kind is None:
            self.unsupported.append(InputWarning(self.origin, f"cannot tell the type of {value[:80]!r}",
                                                 "ioc-untyped", line=line))
            return
        if kind == IocType.IP and "/" in value:
            kind = IocType.CIDR
        try:
            self.indicators.append(make(kind, value, extra.get("source") or self.source, description,
                                        ref or (f"{self.origin}:{line}" if line else self.origin),
                                        str(extra.get("severity") or ""), tuple(extra.get("attack") or ()),
                                        str(extra.get("step") or "")))
        except (ValueError, TypeError) as exc:
            self.errors.append(InputWarning(self.origin, f"bad {kind.value} indicator {value[:80]!r}: {exc}",
                                            "ioc-bad-value", line=line))


def load_feed(path: Path, origin: str | None = None) -> Feed:
    feed = Feed(origin or str(path))
    try:
        text = path.read_bytes().decode("utf-8-sig", errors="replace")
    except OSError as exc:
        feed.errors.append(InputWarning(feed.origin, f"cannot read indicator feed: {exc}", "content-unreadable"))
        return feed
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        _load_pack(feed, text)
    elif suffix == ".json" or text.lstrip().startswith(("{", "[")):
        _load_json(feed, text)
    elif suffix in (".csv", ".tsv"):
        _load_csv(feed, text, "\t" if suffix == ".tsv" else ",")
    else:
        _load_plain(feed, text)
    return feed


def _load_json(feed: Feed, text: str) -> None:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        feed.errors.append(InputWarning(feed.origin, f"not valid JSON: {exc.msg}", "content-error", line=exc.lineno))
        return
    if isinstance(data, dict) and data.get("type") == "bundle":
        from exhunt.detectors.ioc.stix import stix_indicators  # stix2-patterns only when a STIX feed comes

        stix_indicators(feed, data)
    elif isinstance(data, dict) and ("Event" in data or "response" in data):
        events = data.get("response") if "response" in data else [data]
        for event in events if isinstance(events, list) else []:
            _load_misp(feed, event.get("Event", event) if isinstance(event, dict) else {})
    elif isinstance(data, list) and all(isinstance(e, dict) and "Event" in e for e in data):
        for event in data:
            _load_misp(feed, event["Event"])
    else:
        feed.errors.append(InputWarning(feed.origin, "JSON is neither a STIX 2.1 bundle nor a MISP event",
                                        "content-error"))


def _misp_attributes(event: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from event.get("Attribute") or []
    for obj in event.get("Object") or []:
        yield from obj.get("Attribute") or []


def _load_misp(feed: Feed, event: dict[str, Any]) -> None:
    info = str(event.get("info") or "")
    source = f"MISP event {event.get('uuid') or event.get('id') or '?'}: {info}".strip()
    skipped: Counter[str] = Counter()
    for attr in _misp_attributes(event):
        kind_name = str(attr.get("type", ""))
        kinds = MISP_TYPES.get(kind_name)
        if kinds is None:
            skipped[kind_name] += 1
            continue
        if attr.get("to_ids") is False:
            skipped[f"{kind_name} (to_ids false)"] += 1
            continue
        parts = str(attr.get("value", "")).split("|")
        description = str(attr.get("comment") or info)
        for kind, value in zip(kinds, parts, strict=False):
            feed.add(kind, value, description, ref=str(attr.get("uuid") or ""), source=source)
    for name, count in sorted(skipped.items()):
        feed.unsupported.append(InputWarning(feed.origin, f"{count} MISP attribute(s) of type {name!r} not "
                                             "matched (not an indicator exhunt can look for)", "ioc-unsupported"))


def _pick(header: list[str], names: tuple[str, ...]) -> int | None:
    low = [h.strip().lower() for h in header]
    for name in names:
        if name in low:
            return low.index(name)
    return None


def _load_csv(feed: Feed, text: str, delimiter: str) -> None:
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    if not rows:
        return
    header = rows[0]
    value_col = _pick(header, CSV_VALUE)
    start = 1 if value_col is not None else 0
    value_col = value_col if value_col is not None else 0
    type_col = _pick(header, CSV_TYPE) if start else None
    desc_col = _pick(header, CSV_DESCRIPTION) if start else None
    for number, row in enumerate(rows[start:], start=start + 1):
        if not row or not any(cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
            continue
        value = row[value_col] if value_col < len(row) else ""
        kind = None
        if type_col is not None and type_col < len(row) and row[type_col].strip():
            kind = parse_type(row[type_col])
            if kind is None:
                feed.unsupported.append(InputWarning(feed.origin, f"unknown indicator type {row[type_col]!r}",
                                                     "ioc-unsupported", line=number))
                continue
        description = row[desc_col] if desc_col is not None and desc_col < len(row) else ""
        feed.add(kind, value, description, line=number)


def _load_plain(feed: Feed, text: str) -> None:
    """One indicator a line; '#' starts a comment; 'type: value' names the type (needed for user agents)."""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        kind = None
        head, sep, rest = line.partition(":")
        if sep and not rest.startswith("//") and parse_type(head) is not None and " " not in head.strip():
            kind, line = parse_type(head), rest.strip()
        feed.add(kind, line, line=number)


def _load_pack(feed: Feed, text: str) -> None:
    """exhunt's pack format: ``source``, ``indicators: [{type, value, description, severity, attack}]``."""
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        feed.errors.append(InputWarning(feed.origin, f"not valid YAML: {exc}", "content-error",
                                        line=mark.line + 1 if mark else None))
        return
    if not isinstance(data, dict) or not isinstance(data.get("indicators"), list):
        feed.errors.append(InputWarning(feed.origin, "an indicator pack needs an 'indicators' list",
                                        "content-error"))
        return
    source = data.get("source")
    feed.source = str(source.get("name") if isinstance(source, dict) else source or feed.origin)
    defaults = data.get("defaults") or {}
    for number, entry in enumerate(data["indicators"], start=1):
        if not isinstance(entry, dict) or "value" not in entry or "type" not in entry:
            feed.errors.append(InputWarning(feed.origin, f"indicator #{number}: needs 'type' and 'value'",
                                            "content-error"))
            continue
        kind = parse_type(str(entry["type"]))
        if kind is None:
            feed.errors.append(InputWarning(feed.origin, f"indicator #{number}: unknown type {entry['type']!r}",
                                            "content-error"))
            continue
        feed.add(kind, str(entry["value"]), str(entry.get("description", "")), ref=f"{feed.origin}#{number}",
                 severity=entry.get("severity", defaults.get("severity", "")),
                 attack=entry.get("attack", defaults.get("attack", ())),
                 step=entry.get("step", defaults.get("step", "")))
