"""STIX 2.1 indicators: the pattern is parsed with stix2-patterns and broken into single observables.

exhunt matches one observable at a time against files and events. A pattern that is a comparison or an
OR of comparisons on supported object paths becomes one indicator per value. Patterns that join
observations (``[a] AND [b]``, ``FOLLOWEDBY``) or comparisons with AND inside one observation cannot be
checked one observable at a time, so they are listed as unsupported with the reason; so are object
paths exhunt does not see (registry keys, e-mail headers...). Qualifiers (WITHIN, REPEATS, START/STOP)
are dropped, and the looser match is noted.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from stix2patterns.exceptions import ParseException
from stix2patterns.pattern import Pattern
from stix2patterns.validator import run_validator

from exhunt.detectors.ioc.indicator import IocType
from exhunt.model.coverage import InputWarning

if TYPE_CHECKING:
    from exhunt.detectors.ioc.feeds import Feed

_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'")
HASH_KEYS = {"md5": IocType.MD5, "sha-1": IocType.SHA1, "sha1": IocType.SHA1, "sha-256": IocType.SHA256,
             "sha256": IocType.SHA256}


def _target(object_type: str, path: list[Any]) -> IocType | None:
    keys = [str(p).lower() for p in path]
    if object_type == "file":
        if len(keys) == 2 and keys[0] == "hashes":
            return HASH_KEYS.get(keys[1])
        if keys == ["name"]:
            return IocType.FILENAME
        if keys == ["parent_directory_ref", "path"]:
            return IocType.PATH
    if object_type == "directory" and keys == ["path"]:
        return IocType.PATH
    if object_type in ("ipv4-addr", "ipv6-addr") and keys == ["value"]:
        return IocType.IP
    if object_type == "domain-name" and keys == ["value"]:
        return IocType.DOMAIN
    if object_type == "url" and keys == ["value"]:
        return IocType.URL
    if object_type == "network-traffic":
        if keys[:1] in (["dst_ref"], ["src_ref"]) and keys[-1:] == ["value"]:
            return IocType.IP
        if keys[-1:] == ["user-agent"] and "request_header" in keys:
            return IocType.USER_AGENT
    return None


def _values(op: str, literal: str) -> list[str]:
    items = _QUOTED.findall(literal) if op == "IN" else [literal]
    return [item[1:-1].replace("\\'", "'").replace("\\\\", "\\") for item in items
            if item.startswith("'") and item.endswith("'")]


def _like_to_glob(value: str) -> str:
    return value.replace("*", "[*]").replace("?", "[?]").replace("%", "*").replace("_", "?")


def stix_indicators(feed: Feed, bundle: dict[str, Any]) -> None:
    for obj in bundle.get("objects") or []:
        if not isinstance(obj, dict) or obj.get("type") != "indicator":
            continue
        ident = str(obj.get("id", "indicator"))
        pattern = str(obj.get("pattern", ""))
        if obj.get("pattern_type", "stix") != "stix":
            feed.unsupported.append(InputWarning(feed.origin, f"{ident}: pattern type "
                                                 f"{obj.get('pattern_type')!r} is not STIX", "stix-unsupported"))
            continue
        problems = run_validator(pattern)
        try:
            data = Pattern(pattern).inspect()
        except ParseException as exc:
            feed.errors.append(InputWarning(feed.origin, f"{ident}: bad STIX pattern: {exc}", "content-error"))
            continue
        unquoted = _QUOTED.sub("''", pattern)
        if data.observation_ops - {"OR"} or re.search(r"\bAND\b", unquoted):
            feed.unsupported.append(InputWarning(feed.origin, f"{ident}: pattern joins several conditions "
                                                 "(AND/FOLLOWEDBY); exhunt matches single observables offline",
                                                 "stix-unsupported"))
            continue
        if data.qualifiers:
            feed.unsupported.append(InputWarning(feed.origin, f"{ident}: qualifier(s) "
                                                 f"{', '.join(sorted(data.qualifiers))} ignored: matched without "
                                                 "the time condition", "stix-approximate"))
        description = str(obj.get("description") or obj.get("name") or "")
        source = str(obj.get("name") or feed.source)
        source = f"{feed.source}: {source}" if source != feed.source else source
        for object_type, comparisons in sorted(data.comparisons.items()):
            for path, op, literal in comparisons:
                kind = _target(object_type, path)
                if kind is None or op not in ("=", "IN", "LIKE", "MATCHES", "ISSUBSET"):
                    feed.unsupported.append(InputWarning(feed.origin, f"{ident}: {object_type}:"
                                                         f"{'.'.join(map(str, path))} {op} cannot be matched "
                                                         "offline by exhunt", "stix-unsupported"))
                    continue
                for value in _values(op, literal):
                    if op == "LIKE":
                        if kind not in (IocType.FILENAME, IocType.PATH):
                            feed.unsupported.append(InputWarning(feed.origin, f"{ident}: LIKE on {object_type} "
                                                                 "is not supported", "stix-unsupported"))
                            continue
                        value = _like_to_glob(value)
                    elif op == "MATCHES":
                        kind = {IocType.FILENAME: IocType.FILENAME_REGEX,
                                IocType.PATH: IocType.PATH_REGEX}.get(kind, kind)
                        if kind not in (IocType.FILENAME_REGEX, IocType.PATH_REGEX):
                            feed.unsupported.append(InputWarning(feed.origin, f"{ident}: MATCHES on {object_type} "
                                                                 "is not supported", "stix-unsupported"))
                            continue
                    elif op == "ISSUBSET":
                        kind = IocType.CIDR
                    elif kind == IocType.PATH:  # a folder: everything under it
                        value = value.rstrip("\\/") + "\\"
                    feed.add(kind, value, description, ref=ident, source=source)
        for problem in problems:
            if "not a valid" in problem:  # e.g. a malformed hash: the value check in Feed.add reports it too
                continue
            feed.unsupported.append(InputWarning(feed.origin, f"{ident}: {problem}", "stix-warning"))
