"""Conditions beyond the build, read from a collection's IIS configuration (``applicationHost.config``).

* ``iis-extended-protection``: Extended Protection on the Exchange virtual directories. Each ``<location>`` of
  the Default Web Site / Exchange Back End for ECP, EWS, OWA, PowerShell, RPC, MAPI, OAB and ActiveSync that
  configures Windows authentication is read; ``extendedProtection tokenChecking`` "Allow" or "Require" counts
  as enabled, "None" (or no element, IIS's default) as not. Autodiscover is left out (Microsoft leaves it off).
* ``iis-tokencache``: whether IIS still loads ``TokenCacheModule`` (CVE-2023-21709 / CVE-2023-36434).
* ``fipfs-outside-in``: whether the FIP-FS ``Configuration.xml`` of the Exchange install re-enables the Outside
  In module the March 2024 update turned off (ADV24199947): an entry flagged ``|NO`` is such an override.

The file is evidence and may be hostile: it is read bounded, parsed by expat without a DTD (a document that
declares one is refused), and nothing in it is followed or run. Each answer carries the file and line.
"""

from __future__ import annotations

import xml.parsers.expat
from dataclasses import dataclass
from typing import Any

APPHOST_SUFFIX = "windows/system32/inetsrv/config/applicationhost.config"
MAX_CONFIG_BYTES = 32 << 20
EP_CHECK = "iis-extended-protection"
TOKENCACHE_CHECK = "iis-tokencache"
FIPFS_CHECK = "fipfs-outside-in"
FIPFS_SUFFIX = "fip-fs/data/configuration.xml"
EVIDENCE_FILES = {EP_CHECK: "IIS applicationHost.config", TOKENCACHE_CHECK: "IIS applicationHost.config",
                  FIPFS_CHECK: "FIP-FS Data/Configuration.xml"}
EXCHANGE_SITES = ("default web site", "exchange back end")
EP_VDIRS = frozenset({"ecp", "ews", "owa", "powershell", "rpc", "mapi", "oab", "microsoft-server-activesync"})
ENABLED = frozenset({"allow", "require"})
YES, NO, NOT_IN_EVIDENCE = "yes", "no", "not in evidence"


@dataclass(frozen=True, slots=True)
class ConfigCheck:
    """What the evidence says about one condition: ``seen`` is "yes", "no" or "not in evidence"."""

    check: str
    seen: str
    detail: str
    path: str | None = None
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check, "seen": self.seen, "detail": self.detail, "path": self.path, "line": self.line}


class ConfigError(ValueError):
    """The configuration file could not be read as IIS configuration (message says why)."""


@dataclass(slots=True)
class _Vdir:
    path: str
    line: int
    token: str = "None"


class _Reader:
    def __init__(self) -> None:
        self.stack: list[str] = []
        self.location: str | None = None
        self.vdir: _Vdir | None = None
        self.vdirs: list[_Vdir] = []
        self.tokencache_line: int | None = None
        self.modules_seen = False
        self.parser = xml.parsers.expat.ParserCreate()
        self.parser.StartElementHandler = self.start
        self.parser.EndElementHandler = self.end
        self.parser.StartDoctypeDeclHandler = self.doctype

    def doctype(self, *_args: Any) -> None:
        raise ConfigError("the file declares a DTD (applicationHost.config never does): not read")

    def start(self, name: str, attrs: dict[str, str]) -> None:
        parent = self.stack[-1] if self.stack else ""
        self.stack.append(name)
        line = self.parser.CurrentLineNumber
        if name == "location":
            self.location = attrs.get("path", "")
        elif name == "windowsAuthentication" and self.location is not None and _exchange_vdir(self.location):
            self.vdir = _Vdir(self.location, line)
        elif name == "extendedProtection" and self.vdir is not None:
            self.vdir.token = attrs.get("tokenChecking", "None")
            self.vdir.line = line
        elif name in ("globalModules", "modules"):
            self.modules_seen = True
        elif name == "add" and parent in ("globalModules", "modules") and \
                attrs.get("name", "").lower() == "tokencachemodule" and self.tokencache_line is None:
            self.tokencache_line = line

    def end(self, name: str) -> None:
        if self.stack:
            self.stack.pop()
        if name == "windowsAuthentication" and self.vdir is not None:
            self.vdirs.append(self.vdir)
            self.vdir = None
        elif name == "location":
            self.location = None


def _printable(text: str, limit: int = 120) -> str:
    """Evidence text made safe to print: control characters escaped (no terminal codes), length bounded."""
    out = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" if ord(ch) < 256 else f"\\u{ord(ch):04x}"
                  for ch in text[:limit])
    return out + ("..." if len(text) > limit else "")


def _exchange_vdir(location: str) -> bool:
    parts = location.replace("\\", "/").strip("/").lower().split("/")
    return len(parts) >= 2 and parts[0] in EXCHANGE_SITES and parts[1] in EP_VDIRS


def read_apphost(data: bytes, path: str) -> dict[str, ConfigCheck]:
    """The condition checks ``applicationHost.config`` answers. Raises ConfigError when it cannot be read."""
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"larger than {MAX_CONFIG_BYTES} bytes: not read as IIS configuration")
    reader = _Reader()
    try:
        reader.parser.Parse(data, True)
    except xml.parsers.expat.ExpatError as exc:
        raise ConfigError(f"not well-formed XML ({exc})") from exc
    return {EP_CHECK: _extended_protection(reader, path), TOKENCACHE_CHECK: _tokencache(reader, path)}


def _extended_protection(reader: _Reader, path: str) -> ConfigCheck:
    if not reader.vdirs:
        return ConfigCheck(EP_CHECK, NOT_IN_EVIDENCE, "applicationHost.config configures no Exchange virtual "
                           "directory's Windows authentication", path)
    off = [v for v in reader.vdirs if v.token.lower() not in ENABLED]
    if off:
        names = ", ".join(f"{_printable(v.path)} ({_printable(v.token, 20)})" for v in off[:6])
        names += " ..." if len(off) > 6 else ""
        return ConfigCheck(EP_CHECK, NO, f"Extended Protection is off on {len(off)} of {len(reader.vdirs)} Exchange "
                           f"virtual directories: {names}", path, off[0].line)
    return ConfigCheck(EP_CHECK, YES, f"tokenChecking Allow/Require on all {len(reader.vdirs)} Exchange virtual "
                       "directories configured", path, reader.vdirs[0].line)


def _tokencache(reader: _Reader, path: str) -> ConfigCheck:
    if reader.tokencache_line is not None:
        return ConfigCheck(TOKENCACHE_CHECK, NOT_IN_EVIDENCE, "TokenCacheModule is still loaded by IIS; whether the "
                           "October 2023 Windows update (CVE-2023-36434) is installed is not in the evidence",
                           path, reader.tokencache_line)
    if not reader.modules_seen:
        return ConfigCheck(TOKENCACHE_CHECK, NOT_IN_EVIDENCE, "applicationHost.config lists no IIS modules", path)
    return ConfigCheck(TOKENCACHE_CHECK, YES, "TokenCacheModule is not loaded by IIS", path)


def is_apphost(path: str) -> bool:
    return path.replace("\\", "/").lower().endswith(APPHOST_SUFFIX)


def is_fipfs_config(path: str) -> bool:
    return path.replace("\\", "/").lower().endswith(FIPFS_SUFFIX)


def read_fipfs(data: bytes, path: str) -> dict[str, ConfigCheck]:
    """The Outside In override check from the FIP-FS ``Configuration.xml`` (searched as text, never parsed)."""
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"larger than {MAX_CONFIG_BYTES} bytes: not read as the FIP-FS configuration")
    for number, line in enumerate(data.splitlines(), 1):
        if b"|no" in line.lower():
            return {FIPFS_CHECK: ConfigCheck(FIPFS_CHECK, NO, "an entry flagged |NO re-enables the Outside In "
                                             "module", path, number)}
    return {FIPFS_CHECK: ConfigCheck(FIPFS_CHECK, YES, "no entry flagged |NO (Outside In stays off)", path)}
