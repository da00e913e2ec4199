"""Which files of a host the YARA sweep reads, and the facts about each file that rules may use.

Where a webshell can live: every web root (``inetpub``, the Exchange ``FrontEnd/HttpProxy`` and
``ClientAccess`` folders), ASP.NET's compilation cache (``Temporary ASP.NET Files``), ``ProgramData``,
temp folders and user profiles. In those places a file is swept when its extension is one a webshell
or its traces use, or when its first bytes say it is a server page (``<%@``, ``<script runat=``), a
minidump (``MDMP``) or a PST (``!BDN``) whatever its name. Anywhere else on the host, files with a
server-page extension are swept too (an IIS virtual directory can point to any folder), and dumps.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from exhunt.sources.base import HostTree

HEAD_BYTES = 4096

# Extensions IIS hands to ASP.NET / ASP: a file with one of these runs wherever a site maps it.
PAGE_EXTENSIONS = frozenset({
    ".aspx", ".ashx", ".asmx", ".ascx", ".asax", ".asp", ".cshtml", ".vbhtml", ".svc", ".master", ".soap",
})
# Extensions swept inside sweep locations: pages, their code and config, compiled pages and maps.
SWEEP_EXTENSIONS = PAGE_EXTENSIONS | frozenset({
    ".config", ".cs", ".vb", ".js", ".dll", ".compiled", ".dmp", ".mdmp", ".pst",
})
DUMP_EXTENSIONS = frozenset({".dmp", ".mdmp"})

# Lowercase path fragments (host-relative, '/' separated, with a leading '/').
WEB_ROOT_MARKERS = (
    "/inetpub/wwwroot/", "/frontend/httpproxy/", "/clientaccess/", "/temporary asp.net files/",
    "/aspnet_client/",
)
OTHER_MARKERS = (
    "/inetpub/", "/programdata/", "/windows/temp/", "/appdata/local/temp/", "/temp/", "/tmp/", "/users/",
)
EXCLUDED_MARKERS = ("/inetpub/logs/",)  # IIS logs are read by the log parsers
SAMPLE_MARKER = "/rules/yara/samples/"  # exhunt's own rule samples, if the evidence holds an install

SNIFF_MARKERS = (b"<%@", b"<script runat", b"runat=\"server\"", b"runat='server'", b"runat=server")
MAGIC_TYPES = ((b"MZ", "EXE"), (b"MDMP", "MDMP"), (b"!BDN", "PST"), (b"PK\x03\x04", "ZIP"),
               (b"7z\xbc\xaf\x27\x1c", "7Z"), (b"Rar!", "RAR"))


@dataclass(frozen=True, slots=True)
class FileFacts:
    """What a rule may ask about a file (the YARA external variables)."""

    filename: str
    filepath: str  # folder, Windows style: 'C:\\inetpub\\wwwroot\\aspnet_client'
    extension: str  # lowercase, with the dot ('' when none)
    filetype: str  # from the magic bytes: EXE, MDMP, PST, ZIP, 7Z, RAR or ''

    def externals(self) -> dict[str, str]:
        return {"filename": self.filename, "filepath": self.filepath, "extension": self.extension,
                "filetype": self.filetype, "owner": ""}


def extension_of(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


def location_of(path: str, web_roots: tuple[str, ...] = ()) -> str:
    """'web-root', 'sweep' (ProgramData, temp, profiles, inetpub) or '' (elsewhere).

    ``web_roots``: lowercase host-relative folder prefixes IIS serves (from applicationHost.config).
    """
    low = "/" + path.lower()
    if any(m in low for m in EXCLUDED_MARKERS):
        return ""
    if any(m in low for m in WEB_ROOT_MARKERS) or (web_roots and low[1:].startswith(web_roots)):
        return "web-root"
    if any(m in low for m in OTHER_MARKERS):
        return "sweep"
    return ""


def windows_folder(path: str) -> str:
    parts = path.split("/")[:-1]
    if parts and len(parts[0]) == 1 and parts[0].isalpha():
        parts[0] = parts[0].upper() + ":"
        if len(parts) == 1:
            return parts[0] + "\\"
    return "\\".join(parts)


def file_type(head: bytes) -> str:
    for magic, name in MAGIC_TYPES:
        if head.startswith(magic):
            return name
    return ""


def facts_for(path: str, head: bytes) -> FileFacts:
    return FileFacts(path.rsplit("/", 1)[-1], windows_folder(path), extension_of(path), file_type(head))


def looks_like_page(head: bytes) -> bool:
    low = head.lower()
    return any(marker in low for marker in SNIFF_MARKERS)


def needs_head(path: str, web_roots: tuple[str, ...] = ()) -> tuple[bool, str]:
    """(selected by name alone, location). A file not selected by name may still be by its head."""
    ext = extension_of(path)
    location = location_of(path, web_roots)
    if location:
        return ext in SWEEP_EXTENSIONS, location
    return ext in PAGE_EXTENSIONS or ext in DUMP_EXTENSIONS, location


def select(path: str, tree: HostTree, web_roots: tuple[str, ...] = ()) -> tuple[bool, str]:
    """Whether ``path`` is swept, and its location. Reads the file's head only when the name alone does
    not decide (a file in a sweep location without a sweep extension). Raises OSError if that read fails.
    """
    by_name, location = needs_head(path, web_roots)
    if by_name:
        return True, location
    if not location or (location != "web-root" and SAMPLE_MARKER in "/" + path.lower()):
        return False, location
    head = tree.read_head(path, HEAD_BYTES)
    return looks_like_page(head) or file_type(head) in ("MDMP", "PST"), location


@dataclass(frozen=True, slots=True)
class FileHashes:
    md5: str
    sha1: str
    sha256: str

    def as_dict(self) -> dict[str, str]:
        return {"md5": self.md5, "sha1": self.sha1, "sha256": self.sha256}


class Hasher:
    """MD5, SHA-1 and SHA-256 fed in one pass."""

    def __init__(self) -> None:
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._sha1 = hashlib.sha1(usedforsecurity=False)
        self._sha256 = hashlib.sha256()

    def update(self, data: bytes) -> None:
        self._md5.update(data)
        self._sha1.update(data)
        self._sha256.update(data)

    def hashes(self) -> FileHashes:
        return FileHashes(self._md5.hexdigest(), self._sha1.hexdigest(), self._sha256.hexdigest())


def hash_file(tree: HostTree, path: str) -> FileHashes:
    """MD5, SHA-1 and SHA-256 in one streaming pass. Raises OSError."""
    hasher = Hasher()
    with tree.open(path) as handle:
        while chunk := handle.read(1 << 20):
            hasher.update(chunk)
    return hasher.hashes()
