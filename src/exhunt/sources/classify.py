"""Classify a host's files into typed artifacts, finding the Exchange install by its content.

Names are matched case-insensitively (Windows is). The Exchange install folder is the folder that holds
``Logging/HttpProxy`` or ``bin/ExSetup.exe`` wherever it is, unless the user names it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.sources.base import FileEntry, HostTree
from exhunt.sources.listing import ArtifactList

# (pattern on the lowercased path relative to the Exchange root or the host root, kind, attribute group)
_EXCHANGE_LOGS: tuple[tuple[re.Pattern[str], ArtifactKind], ...] = (
    (re.compile(r"(?:^|/)logging/httpproxy/(?P<protocol>[^/]+)/[^/]+\.log$"), ArtifactKind.HTTPPROXY),
    (re.compile(r"(?:^|/)logging/ecp/server/[^/]+\.log$"), ArtifactKind.ECP_SERVER),
    (re.compile(r"(?:^|/)logging/ecp/activity/[^/]+\.log$"), ArtifactKind.ECP_ACTIVITY),
    (re.compile(r"(?:^|/)logging/rpshttp/[^/]+\.log$"), ArtifactKind.RPS_HTTP),
    (re.compile(r"(?:^|/)logging/cmdletinfra/(?:.+/)?rps_cmdlet[^/]*\.log$"), ArtifactKind.RPS_CMDLET),
    (re.compile(r"(?:^|/)logging/oabgeneratorlog/[^/]+\.log$"), ArtifactKind.OABGENERATOR),
)
# NTFS metadata as KAPE (C/$MFT, C/$Extend/$J or $UsnJrnl/$J) and Velociraptor ($UsnJrnl:$J) store it
_NTFS = (
    (re.compile(r"(?:^|/)\$mft$"), ArtifactKind.MFT),
    (re.compile(r"(?:^|/)\$extend/(?:\$usnjrnl(?::|/|%3a))?\$j$"), ArtifactKind.USN),
)
_IIS = re.compile(r"(?:^|/)logfiles/(?P<site>w3svc\d+)/[^/]+\.log$")
_JSON = re.compile(r"\.(?:jsonl|ndjson|json)$")
# JSON files under these folders are application files, not event exports
_JSON_NOT_EVENTS = re.compile(r"(?:^|/)(?:program files(?: \(x86\))?|inetpub|windows/microsoft\.net)/")
_EXCHANGE_MARKERS = (
    re.compile(r"^(?P<root>.*?)/?logging/httpproxy/"),
    re.compile(r"^(?P<root>.*?)/?bin/exsetup\.exe$"),
)

# Sources an Exchange server is expected to have; their absence is a coverage gap, never "clean".
EXCHANGE_SOURCES = (
    ArtifactKind.IIS, ArtifactKind.HTTPPROXY, ArtifactKind.ECP_SERVER, ArtifactKind.OABGENERATOR,
    ArtifactKind.RPS_HTTP, ArtifactKind.RPS_CMDLET, ArtifactKind.EVTX,
)


@dataclass(frozen=True, slots=True)
class Layout:
    artifacts: ArtifactList  # packed; Artifact objects are made as they are read
    exchange_root: str | None  # relative path of the Exchange install folder (case as stored)
    exchange_roots: tuple[str, ...] = ()  # every candidate found (more than one is worth a warning)


def find_exchange_roots(paths: Iterable[str]) -> list[str]:
    roots: dict[str, str] = {}
    for path in paths:
        lowered = path.lower()
        for marker in _EXCHANGE_MARKERS:
            found = marker.match(lowered)
            if found:
                root = path[: len(found.group("root"))]
                roots.setdefault(root.lower(), root)
    return [roots[k] for k in sorted(roots)]


def evtx_channel(name: str) -> str:
    """``Microsoft-Windows-Sysmon%4Operational.evtx`` -> ``Microsoft-Windows-Sysmon/Operational``."""
    stem = name.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return unquote(stem.replace("%4", "/"))


def classify_entry(entry: FileEntry, exchange_root: str | None) -> Artifact:
    lowered = entry.path.lower()
    relative = lowered
    if exchange_root is not None and lowered.startswith(exchange_root.lower() + "/"):
        relative = lowered[len(exchange_root) + 1:]
    for pattern, kind in _EXCHANGE_LOGS:
        found = pattern.search(relative)
        if found:
            attrs = tuple((k, v) for k, v in found.groupdict().items() if v)
            if kind is ArtifactKind.HTTPPROXY:
                protocol = entry.path.split("/")[-2]
                attrs = (("protocol", protocol),)
            return Artifact(kind, entry.path, entry.size, entry.mtime, attrs)
    for pattern, kind in _NTFS:
        if pattern.search(lowered):
            return Artifact(kind, entry.path, entry.size, entry.mtime)
    found = _IIS.search(lowered)
    if found:
        return Artifact(ArtifactKind.IIS, entry.path, entry.size, entry.mtime, (("site", found.group("site").upper()),))
    if lowered.endswith(".evtx"):
        return Artifact(ArtifactKind.EVTX, entry.path, entry.size, entry.mtime,
                        (("channel", evtx_channel(entry.path)),))
    if _JSON.search(lowered) and not _JSON_NOT_EVENTS.search(lowered):
        return Artifact(ArtifactKind.JSON_EVENTS, entry.path, entry.size, entry.mtime,
                        (("channel", evtx_channel(entry.path)),))
    return Artifact(ArtifactKind.FILE, entry.path, entry.size, entry.mtime)


def classify(tree: HostTree, exchange_path: str | None = None) -> Layout:
    listing = tree.listing()
    roots = find_exchange_roots(listing.paths())
    root: str | None = None
    if exchange_path:
        wanted = exchange_path.replace("\\", "/").strip("/").lower()
        wanted = re.sub(r"^([a-z]):", r"\1", wanted)
        root = next((p[: len(wanted)] for p in listing.paths() if p.lower().startswith(wanted + "/")), wanted)
    elif roots:
        root = roots[0]
    artifacts = ArtifactList(listing)
    for entry in listing:
        artifact = classify_entry(entry, root)
        artifacts.classified(artifact.kind, artifact.attrs)
    return Layout(artifacts, root, tuple(roots))
