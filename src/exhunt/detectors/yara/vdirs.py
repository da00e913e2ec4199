"""Web roots named by IIS itself: every ``physicalPath`` in applicationHost.config.

A site or virtual directory can point anywhere (``D:\\Sites\\Intranet``); its files are swept like those of
``inetpub/wwwroot``. Paths on other machines (UNC) cannot be in this host's evidence and are noted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from exhunt.model.coverage import InputWarning
from exhunt.model.evidence import Artifact
from exhunt.sources.base import HostTree
from exhunt.sources.listing import paths_of

APPHOST = "windows/system32/inetsrv/config/applicationhost.config"
MAX_CONFIG_BYTES = 32 << 20
_PHYSICAL = re.compile(r'physicalPath\s*=\s*"([^"]*)"', re.IGNORECASE)
_ENV = {"%systemdrive%": "c:", "%systemroot%": "c:\\windows", "%windir%": "c:\\windows",
        "%programfiles%": "c:\\program files", "%programdata%": "c:\\programdata"}


def host_folder(physical: str) -> str | None:
    """'D:\\Sites\\Intranet' -> 'd/sites/intranet/'; None for UNC or unexpandable paths."""
    text = physical.strip().lower()
    for name, value in _ENV.items():
        text = text.replace(name, value)
    text = text.replace("\\", "/")
    match = re.match(r"^([a-z]):/(.*)$", text)
    if match is None or "%" in text:
        return None
    rest = match.group(2).strip("/")
    return f"{match.group(1)}/{rest}/" if rest else f"{match.group(1)}/"


def virtual_roots(tree: HostTree, artifacts: Sequence[Artifact]) -> tuple[tuple[str, ...], list[InputWarning]]:
    """Lowercase host-relative folder prefixes of every site and virtual directory, plus read problems."""
    roots: set[str] = set()
    warnings: list[InputWarning] = []
    for path in paths_of(artifacts):
        low = path.lower()
        if not low.endswith(APPHOST):
            continue
        above = re.match(r"^(.*?)(?:[a-z]/)?$", low[: -len(APPHOST)])  # drop the drive folder ('c/')
        prefix = above.group(1) if above else ""  # '' or a folder above the drives
        try:
            with tree.open(path) as handle:
                text = handle.read(MAX_CONFIG_BYTES).decode("utf-8", errors="replace")
        except OSError as exc:
            warnings.append(InputWarning(path, f"cannot read IIS configuration: {exc}", "unreadable"))
            continue
        for value in _PHYSICAL.findall(text):
            folder = host_folder(value)
            if folder is None:
                if value.strip():
                    warnings.append(InputWarning(path, f"web folder {value!r} is not on this host's "
                                                 "drives (UNC or unknown variable): not swept", "vdir-elsewhere"))
                continue
            if folder.count("/") > 1:  # never a whole drive
                roots.add(prefix + folder)
    return tuple(sorted(roots)), warnings
