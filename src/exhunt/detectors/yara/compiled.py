"""ASP.NET compilation cache: which page an ``App_Web_*.dll`` was compiled from.

``Temporary ASP.NET Files/<app>/<hash>/<hash>/`` holds, for each compiled page, a ``.compiled`` XML map
(``<preserve virtualPath="/owa/auth/x.aspx" assembly="App_Web_x.aspx.cdcab7d2.abcd1234" ...>``) next to
the assembly. A YARA hit on the assembly (or on the map) is tied to the page it came from, so a request
for that page in the web logs can confirm it even when the page itself is gone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from exhunt.model.evidence import Artifact
from exhunt.sources.base import HostTree
from exhunt.sources.listing import paths_of

CACHE_MARKER = "/temporary asp.net files/"
MAX_MAP_BYTES = 64 << 10
_ATTR = re.compile(r'\b(virtualPath|assembly)\s*=\s*"([^"]{1,512})"', re.IGNORECASE)


def in_cache(path: str) -> bool:
    return CACHE_MARKER in "/" + path.lower()


def read_map(tree: HostTree, path: str) -> tuple[str, str] | None:
    """(virtual path, assembly name) of one .compiled map, or None when it does not name both."""
    try:
        text = tree.read_head(path, MAX_MAP_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return None
    found = {name.lower(): value for name, value in _ATTR.findall(text)}
    if "virtualpath" in found and "assembly" in found:
        return found["virtualpath"], found["assembly"]
    return None


def compiled_maps(artifacts: Sequence[Artifact]) -> dict[str, list[str]]:
    """Per folder of the compilation cache, its ``.compiled`` maps (in artifact order): built once per host
    so that tying thousands of hits to their pages does not look through every file for each."""
    maps: dict[str, list[str]] = {}
    for path in paths_of(artifacts):
        folder, _, name = path.rpartition("/")
        if name.lower().endswith(".compiled") and in_cache(path):
            maps.setdefault(folder, []).append(path)
    return maps


def source_page(tree: HostTree, artifacts: Sequence[Artifact] | dict[str, list[str]], hit_path: str) -> str | None:
    """The virtual path of the page behind ``hit_path`` (an assembly or a map in the cache), if known.
    ``artifacts``: the host's files, or their ``compiled_maps``."""
    if not in_cache(hit_path):
        return None
    folder, _, name = hit_path.rpartition("/")
    low = name.lower()
    if low.endswith(".compiled"):
        mapped = read_map(tree, hit_path)
        return mapped[0] if mapped else None
    if not low.endswith(".dll"):
        return None
    assembly = name[:-4].lower()
    maps = artifacts if isinstance(artifacts, dict) else compiled_maps(artifacts)
    for path in maps.get(folder, ()):
        mapped = read_map(tree, path)
        if mapped and mapped[1].lower() == assembly:
            return mapped[0]
    return None
