"""Match indicators against files (name, path, hashes) and against every field of every parsed event.

Built once from all feeds; holds only plain, picklable data (dicts, compiled regexes, ip networks), so
the bundle can cross to worker processes.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from exhunt.detectors.ioc.indicator import HASH_TYPES, Indicator, IocType

_IPV4 = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?![\d.])")
_HEXES = re.compile(r"(?<![0-9a-fA-F])([0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64})(?![0-9a-fA-F])")
_IPISH = re.compile(r"^[\s\[\]0-9a-fA-F:.,%]+$")
_TOKEN_SPLIT = re.compile(r"[\s\"'<>|,;=()]+")
_GLOB_SPLIT = re.compile(r"[*?\[\]/]+")
UA_FIELD_HINTS = ("user-agent", "useragent", "user_agent")


@dataclass(frozen=True, slots=True)
class Hit:
    indicator: Indicator
    field: str  # what matched: a record field name, or 'name', 'path', 'md5', 'sha1', 'sha256' for files
    observed: str  # the value seen in the evidence


@lru_cache(maxsize=4096)
def _is_agent_field(name: str) -> bool:
    low = name.lower()
    return any(h in low for h in UA_FIELD_HINTS)


def disk_path(value: str) -> str:
    """Lowercase, '/' separated, 'C:\\x' -> 'c/x', '\\\\?\\' prefixes dropped: comparable to path globs."""
    text = value.strip().strip("\"'").replace("\\", "/").lower()
    text = re.sub(r"^/+[?.]/+", "", text)
    return re.sub(r"^([a-z]):/", r"\1/", text)


def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(pattern), re.DOTALL)


class Matcher:
    def __init__(self, indicators: Iterable[Indicator]) -> None:
        self.indicators = sorted(set(indicators), key=lambda i: (i.type.value, i.value, i.source, i.ref))
        self.hashes: dict[str, list[Indicator]] = {}
        self.names: dict[str, list[Indicator]] = {}
        self.name_globs: list[tuple[re.Pattern[str], Indicator]] = []
        self.path_globs: list[tuple[re.Pattern[str], Indicator]] = []
        self.ips: dict[str, list[Indicator]] = {}
        self.cidrs: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, Indicator]] = []
        self.domains: dict[str, list[Indicator]] = {}
        self.urls: list[Indicator] = []
        self.agents: list[Indicator] = []
        for ind in self.indicators:
            self._index(ind)
        # a cheap gate before any path work: a value can only match a file indicator if it holds one of
        # their literal parts (None: some indicator has no literal, always look)
        file_lits: set[str] | None = set()
        for ind in self.indicators:
            if ind.type in (IocType.FILENAME, IocType.PATH, IocType.FILENAME_REGEX, IocType.PATH_REGEX):
                lit = _literal(ind)
                file_lits = None if lit is None or file_lits is None else file_lits | lit
        self._file_gate = (re.compile("|".join(map(re.escape, sorted(file_lits))), re.IGNORECASE)
                           if file_lits else None)
        self._file_any = bool(self.names or self.name_globs or self.path_globs)
        self._file_always = file_lits is None
        domains = sorted(self.domains, key=len, reverse=True)
        self._domain_re = re.compile(r"(?<![a-z0-9-])(?:[a-z0-9-]+\.)*(" + "|".join(map(re.escape, domains))
                                     + r")(?![a-z0-9-])") if domains else None

    def _index(self, ind: Indicator) -> None:
        kind = ind.type
        if kind in HASH_TYPES:
            self.hashes.setdefault(ind.value, []).append(ind)
        elif kind == IocType.FILENAME:
            if any(ch in ind.value for ch in "*?["):
                self.name_globs.append((_glob(ind.value), ind))
            else:
                self.names.setdefault(ind.value, []).append(ind)
        elif kind == IocType.PATH:
            self.path_globs.append((_glob(ind.value), ind))
        elif kind == IocType.FILENAME_REGEX:
            self.name_globs.append((re.compile(ind.value, re.IGNORECASE), ind))
        elif kind == IocType.PATH_REGEX:
            self.path_globs.append((re.compile(ind.value, re.IGNORECASE), ind))
        elif kind == IocType.IP:
            self.ips.setdefault(ind.value, []).append(ind)
        elif kind == IocType.CIDR:
            self.cidrs.append((ipaddress.ip_network(ind.value), ind))
        elif kind == IocType.DOMAIN:
            self.domains.setdefault(ind.value, []).append(ind)
        elif kind == IocType.URL:
            self.urls.append(ind)
        elif kind == IocType.USER_AGENT:
            self.agents.append(ind)

    def __len__(self) -> int:
        return len(self.indicators)

    @property
    def wants_hashes(self) -> bool:
        return bool(self.hashes)

    # -- files -----------------------------------------------------------------------------------
    def match_path(self, path: str, field: str = "path") -> Iterator[Hit]:
        norm = "/" + disk_path(path).lstrip("/")
        name = norm.rsplit("/", 1)[-1]
        for ind in self.names.get(name, ()):
            yield Hit(ind, field, path)
        for regex, ind in self.name_globs:
            if regex.match(name) if ind.type == IocType.FILENAME else regex.search(name):
                yield Hit(ind, field, path)
        for regex, ind in self.path_globs:
            if regex.match(norm) if ind.type == IocType.PATH else regex.search(norm):
                yield Hit(ind, field, path)

    def match_hashes(self, digests: dict[str, str]) -> Iterator[Hit]:
        for algo in sorted(digests):
            for ind in self.hashes.get(digests[algo].lower(), ()):
                yield Hit(ind, algo, digests[algo])

    # -- events ------------------------------------------------------------------------------------
    def match_fields(self, fields: dict[str, Any]) -> list[Hit]:
        hits: list[Hit] = []
        for name in sorted(fields):
            value = fields[name]
            if isinstance(value, str) and value:
                hits.extend(self._match_value(name, value))
        return hits

    def _match_value(self, name: str, value: str) -> Iterator[Hit]:
        if self.ips or self.cidrs:
            yield from self._match_ips(name, value)
        if self.hashes and len(value) >= 32:
            for token in _HEXES.findall(value):
                for ind in self.hashes.get(token.lower(), ()):
                    yield Hit(ind, name, token)
        if self._file_any and (self._file_always or (self._file_gate is not None
                                                      and self._file_gate.search(value) is not None)):
            tokens = {value} | {t for t in _TOKEN_SPLIT.split(value) if t}  # whole value: paths with spaces
            seen: set[tuple[str, str]] = set()
            for token in sorted(tokens):
                for hit in self.match_path(token, name):
                    if hit.indicator.key not in seen:
                        seen.add(hit.indicator.key)
                        yield hit
        low = value.lower()
        if self.agents and _is_agent_field(name):
            agent = " ".join(low.replace("+", " ").split())
            for ind in self.agents:
                if ind.value in agent:
                    yield Hit(ind, name, value)
        if self._domain_re is not None and "." in low:
            for found in sorted(set(self._domain_re.findall(low))):
                for ind in self.domains.get(found, ()):
                    yield Hit(ind, name, value)
        for ind in self.urls:
            if ind.value in low:
                yield Hit(ind, name, value)

    def _match_ips(self, name: str, value: str) -> Iterator[Hit]:
        if len(value) < 3 or ("." not in value and ":" not in value):
            return
        if _IPISH.match(value):
            candidates = [c.strip("[]") for c in re.split(r"[\s,]+", value) if c]
            candidates = [c.rsplit(":", 1)[0] if c.count(":") == 1 else c for c in candidates]
        elif "." in value:
            candidates = _IPV4.findall(value)
        else:
            return
        for text in sorted(set(candidates)):
            if text.count(".") != 3 and text.count(":") < 2:
                continue  # not an address: numbers, times
            if not self.cidrs and text.count(".") == 3 and "0" not in text[:1]:
                # only exact addresses to find: canonical IPv4 text compares as is (no parsing)
                for ind in self.ips.get(text, ()):
                    yield Hit(ind, name, text)
                continue
            try:
                address = ipaddress.ip_address(text.split("%")[0])
            except ValueError:
                continue
            for ind in self.ips.get(str(address), ()):
                yield Hit(ind, name, text)
            for network, ind in self.cidrs:
                if address.version == network.version and address in network:
                    yield Hit(ind, name, text)

    # -- prefilter literals --------------------------------------------------------------------------
    def literals(self) -> frozenset[str] | None:
        """Strings one of which any matching record's raw text must hold; None when that cannot be said."""
        out: set[str] = set(self.hashes) | set(self.names) | set(self.domains)
        for ind in self.indicators:
            lit = _literal(ind)
            if lit is None:
                return None
            out.update(lit)
        return frozenset(x for x in out if x)


def _literal(ind: Indicator) -> set[str] | None:
    kind = ind.type
    if kind in (IocType.FILENAME_REGEX, IocType.PATH_REGEX):
        return None
    if kind == IocType.IP:
        address = ipaddress.ip_address(ind.value)
        return {ind.value} if address.version == 4 else {ind.value, address.exploded}
    if kind == IocType.CIDR:
        network = ipaddress.ip_network(ind.value)
        if network.version != 4 or network.prefixlen < 8:
            return None
        octets = str(network.network_address).split(".")[: network.prefixlen // 8]
        return {".".join(octets) + ("." if len(octets) < 4 else "")}
    if kind in (IocType.FILENAME, IocType.PATH):
        parts = [p for p in _GLOB_SPLIT.split(ind.value) if p]
        best = max(parts, key=len, default="")
        return {best} if len(best) >= 3 else None
    if kind == IocType.URL:
        return {ind.value.split("://", 1)[-1]}
    if kind == IocType.USER_AGENT:
        best = max(ind.value.split(" "), key=len, default="")
        return {best} if len(best) >= 3 else None
    return {ind.value}
