"""Turn what the user hands over into one read-only tree per host.

Handled, tried in this order: a Velociraptor collection (``uploads/auto/C%3A/...``), a folder or zip laid
out like drives (``C/Windows/...``, as KAPE writes it, possibly one level down per host), a folder or zip of
several hosts (one subfolder each), a folder of loose files (EVTX, JSON exports, logs), one loose file.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable
from pathlib import Path

from exhunt.sources.base import EvidenceError, HostTree
from exhunt.sources.directory import DirectoryTree
from exhunt.sources.remap import RemappedTree, velociraptor_path
from exhunt.sources.singlefile import SingleFileTree
from exhunt.sources.ziparchive import ZipTree

# Folders found at the root of a Windows system drive: a single-letter folder holding one of these is a drive.
DRIVE_CHILDREN = frozenset({
    "windows", "program files", "program files (x86)", "programdata", "inetpub", "users", "temp",
    "perflogs", "exchange", "exchangeserver", "documents and settings", "$recycle.bin", "$extend",
    "system volume information", "backup", "backups", "$mft", "$logfile",
})


def _drive_index(parts: list[str]) -> int | None:
    for index, part in enumerate(parts[:-1]):
        if len(part) == 1 and part.isalpha() and parts[index + 1].lower() in DRIVE_CHILDREN:
            return index
    return None


def host_roots(paths: Iterable[str]) -> list[str]:
    """Prefixes under which a drive layout starts ('' when the tree itself is one host's drives)."""
    roots: set[str] = set()
    for path in paths:
        parts = path.split("/")
        index = _drive_index(parts)
        if index is not None:
            roots.add("/".join(parts[:index]))
    return sorted(roots)


def split_hosts(tree: HostTree) -> list[HostTree]:
    paths = [entry.path for entry in tree.walk()]
    if any(velociraptor_path(p) for p in paths[:20000]):
        return [RemappedTree(tree, velociraptor=True)]
    roots = host_roots(paths)
    if roots == [""] or (not roots and not _is_multi_host_folder(paths)):
        return [tree]
    if not roots:
        if not looks_like_evidence(paths):
            raise EvidenceError(
                f"{tree.origin}: {len({p.split('/', 1)[0] for p in paths})} sub-folders and not one file shaped "
                "like Windows/Exchange evidence (no drive layout, EVTX, IIS or Exchange logs, event exports, web "
                "pages): not scanned as hosts. Name a host's folder, a collection zip or loose log files directly.")
        roots = sorted({p.split("/", 1)[0] for p in paths})
    if "" in roots:  # drives at the top and also below: the top wins, the rest is part of it
        return [tree]
    hosts: list[HostTree] = []
    seen: set[str] = set()
    for root in roots:
        name = root.rsplit("/", 1)[-1]
        if name.lower() in seen:
            name = root.replace("/", "_")
        seen.add(name.lower())
        hosts.append(RemappedTree(tree, prefix=root, name=name))
    return hosts


# What marks evidence of a Windows/Exchange server by name alone (cheap: no file is read to decide).
_EVIDENCE_SHAPED = re.compile(
    r"\.(?:evtx|aspx|ashx|asmx|ascx|asp|dmp|pst|jsonl|ndjson)$|(?:^|/)logfiles/w3svc\d+/|(?:^|/)logging/"
    r"(?:httpproxy|ecp|oabgeneratorlog|rps_http|cmdletinfra)/|(?:^|/)exsetup\.exe$|(?:^|/)\$mft$|winevt/logs/",
    re.IGNORECASE)


def looks_like_evidence(paths: list[str]) -> bool:
    """Whether any file name is shaped like Windows/Exchange evidence (EVTX, IIS/Exchange logs, web pages...)."""
    return any(_EVIDENCE_SHAPED.search(p) for p in paths)


def _is_multi_host_folder(paths: list[str]) -> bool:
    """Several subfolders and no loose files at the top: one host per subfolder."""
    tops = {p.split("/", 1)[0] for p in paths if "/" in p}
    loose = any("/" not in p for p in paths)
    return len(tops) >= 2 and not loose


def open_evidence(path: Path) -> list[HostTree]:
    """One tree per host found in ``path``. Raises EvidenceError when nothing can be opened."""
    if not path.exists():
        raise EvidenceError(f"evidence not found: {path}")
    if path.is_dir():
        return split_hosts(DirectoryTree(path))
    if zipfile.is_zipfile(path):
        try:
            return split_hosts(ZipTree(path))
        except (zipfile.BadZipFile, OSError) as exc:
            raise EvidenceError(f"cannot open zip {path}: {exc}") from exc
    if path.is_file():
        return [SingleFileTree(path)]
    raise EvidenceError(f"not a file or folder: {path}")
