"""Turn what the user hands over into one read-only tree per host.

Handled, tried in this order: a Velociraptor collection (``uploads/auto/C%3A/...``), a folder or zip laid
out like drives (``C/Windows/...``, as KAPE writes it, possibly one level down per host), a folder or zip of
several hosts (one subfolder each), a folder of loose files (EVTX, JSON exports, logs), one loose file.
"""

from __future__ import annotations

import re
import stat
import struct
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import BinaryIO, cast

from exhunt.model.coverage import InputWarning
from exhunt.sources.base import EvidenceError, HostTree, shown_name
from exhunt.sources.directory import DirectoryTree, open_regular
from exhunt.sources.listing import Listing
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


class _Paths:
    """A host's paths, iterable as often as asked, decoded from its packed listing each time."""

    def __init__(self, listing: Listing) -> None:
        self.listing = listing

    def __iter__(self) -> Iterator[str]:
        return self.listing.paths()


def split_hosts(tree: HostTree) -> list[HostTree]:
    paths = _Paths(tree.listing())  # read again for each question: no list of every path
    if any(velociraptor_path(p) for p in islice(paths, 20000)):
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


def looks_like_evidence(paths: Iterable[str]) -> bool:
    """Whether any file name is shaped like Windows/Exchange evidence (EVTX, IIS/Exchange logs, web pages...)."""
    return any(_EVIDENCE_SHAPED.search(p) for p in paths)


def _is_multi_host_folder(paths: Iterable[str]) -> bool:
    """Several subfolders and no loose files at the top: one host per subfolder."""
    tops = {p.split("/", 1)[0] for p in paths if "/" in p}
    loose = any("/" not in p for p in paths)
    return len(tops) >= 2 and not loose


ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")


def evidence_kind(path: Path) -> str:
    """'folder' or 'file' for what can be evidence; raises EvidenceError for anything else (a FIFO, a
    device, a socket), checked before a single byte is read: reading ``/dev/zero`` or a pipe never ends."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise EvidenceError(f"evidence not found or not readable: {shown_name(str(path))} "
                            f"({exc.strerror or exc})") from exc
    if stat.S_ISDIR(mode):
        return "folder"
    if stat.S_ISREG(mode):
        return "file"
    kind = "named pipe (FIFO)" if stat.S_ISFIFO(mode) else "device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) \
        else "socket" if stat.S_ISSOCK(mode) else "special file"
    raise EvidenceError(f"not a regular file or folder ({kind}): {shown_name(str(path))}; only regular "
                        "files and folders are evidence")


def _looks_like_zip(path: Path) -> bool:
    if path.suffix.lower() == ".zip":
        return True
    try:
        with open_regular(path) as handle:
            return handle.read(4) in ZIP_MAGICS
    except OSError:
        return False


MAX_NESTING = 1  # a zip of host zips is opened; a zip inside those is not (said by a warning)
_SPOOL_BLOCK = 1 << 20


def _nested_hosts(outer: ZipTree, depth: int) -> list[HostTree] | None:
    """The hosts of a zip that holds only zips (one host zip each), each spooled to an anonymous temporary
    file (bounded: members passed the archive's expansion guards); None when ``outer`` is not such a zip."""
    entries = list(outer.walk())
    if depth >= MAX_NESTING or not entries or not all(e.path.lower().endswith(".zip") for e in entries):
        return None
    kept = [w for w in outer.warnings if w.code != "nested-archive"]
    hosts: list[HostTree] = []
    for entry in entries:
        origin = f"{outer.origin}!{entry.path}"
        spool = tempfile.TemporaryFile()  # noqa: SIM115 - owned by the inner tree, closed with it
        try:
            with outer.open(entry.path) as member:
                while block := member.read(_SPOOL_BLOCK):
                    spool.write(block)
            inner = ZipTree(Path(entry.path), name=entry.path.rsplit("/", 1)[-1].rsplit(".", 1)[0],
                            handle=cast(BinaryIO, spool), origin=origin)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, UnicodeDecodeError, NotImplementedError,
                struct.error) as exc:
            spool.close()
            kept.append(InputWarning(path=entry.path, code="damaged-zip", message=(
                f"nested archive cannot be opened, not read: {type(exc).__name__}: {shown_name(str(exc))}")))
            continue
        inner.warnings[:0] = [InputWarning(path=entry.path, code="nested-archive", message=(
            f"host archive inside {shown_name(outer.archive.name)}: opened and read in place (spooled to a "
            "temporary file)"))]
        hosts.extend(split_hosts(inner))
    if not hosts:
        return None
    hosts[0].warnings.extend(kept)
    return hosts


def open_evidence(path: Path) -> list[HostTree]:
    """One tree per host found in ``path``. Raises EvidenceError when nothing can be opened."""
    kind = evidence_kind(path)
    if kind == "folder":
        return split_hosts(DirectoryTree(path))
    if _looks_like_zip(path) or zipfile.is_zipfile(path):
        try:
            tree = ZipTree(path)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, UnicodeDecodeError,
                NotImplementedError, struct.error) as exc:
            raise EvidenceError(f"damaged zip, cannot be opened: {shown_name(str(path))}: "
                                f"{type(exc).__name__}: {shown_name(str(exc))}") from exc
        nested = _nested_hosts(tree, 0)
        if nested is not None:
            tree.close()
            return nested
        return split_hosts(tree)
    return [SingleFileTree(path)]
