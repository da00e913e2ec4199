"""What an evidence source hands to the parsers: typed references to artifacts of one host."""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class ArtifactKind(StrEnum):
    """The kinds of artifact exhunt knows how to read. The value doubles as the coverage source name."""

    IIS = "iis"  # IIS W3C access log (inetpub/logs/LogFiles/W3SVC*/u_ex*.log)
    HTTPPROXY = "httpproxy"  # Exchange Logging/HttpProxy/<Protocol>/*.LOG
    ECP_SERVER = "ecp_server"  # Exchange Logging/ECP/Server/*.LOG
    ECP_ACTIVITY = "ecp_activity"  # Exchange Logging/ECP/Activity/*.LOG
    RPS_HTTP = "rps_http"  # Exchange Logging/RpsHttp/*.LOG
    RPS_CMDLET = "rps_cmdlet"  # Exchange Logging/CmdletInfra/.../Rps_Cmdlet*.LOG
    OABGENERATOR = "oabgenerator"  # Exchange Logging/OABGeneratorLog/*.LOG
    EVTX = "evtx"  # Windows event log file, any channel
    JSON_EVENTS = "json_events"  # Windows events exported as JSON / JSON lines
    MFT = "mft"  # NTFS master file table of one volume (KAPE C/$MFT, Velociraptor .../$MFT)
    USN = "usn_journal"  # NTFS USN change journal stream (C/$Extend/$UsnJrnl:$J, KAPE C/$Extend/$J)
    FILE = "file"  # any other file worth a look (web roots, ProgramData, temp, dumps...)


class Artifact(NamedTuple):
    """One file of a host's evidence, classified.

    ``path`` is the path relative to the host root, with ``/`` separators and the case found on disk.
    ``attrs`` holds kind-specific facts (``protocol`` for HttpProxy, ``channel`` for EVTX, ``site`` for IIS).
    A named tuple: a host's artifacts are kept packed (``sources.listing.ArtifactList``) and made as they are
    read, so making one must cost little.
    """

    kind: ArtifactKind
    path: str
    size: int
    mtime: str | None = None  # ISO 8601 UTC, as recorded by the evidence container
    attrs: tuple[tuple[str, str], ...] = ()

    def attr(self, name: str, default: str = "") -> str:
        for key, value in self.attrs:
            if key == name:
                return value
        return default
