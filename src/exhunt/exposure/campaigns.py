"""Exploitation families and their public timelines (``rules/builds/campaigns.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from exhunt.content.yamlio import load_yaml
from exhunt.exposure.builds import BUILDS_DIR, BuildTableError

CAMPAIGNS_PATH = BUILDS_DIR / "campaigns.yaml"


@dataclass(frozen=True, slots=True)
class Family:
    id: str
    name: str
    cves: tuple[str, ...]
    chain: tuple[tuple[str, ...], ...]  # every group needs one open CVE for the attack to work
    patch_released: str
    disclosed: str
    first_exploited: str
    mass_exploitation: str | None
    notes: str = ""
    references: tuple[str, ...] = ()


def _family(raw: dict[str, Any], where: str) -> Family:
    try:
        cves = tuple(str(c) for c in raw["cves"])
        chain = tuple(tuple(str(c) for c in group) for group in (raw.get("chain") or [cves]))
        mass = raw.get("mass_exploitation")
        return Family(str(raw["id"]), str(raw["name"]), cves, chain, str(raw["patch_released"]),
                      str(raw["disclosed"]), str(raw["first_exploited"]), str(mass) if mass else None,
                      str(raw.get("notes") or "").strip(), tuple(str(r) for r in raw.get("references") or []))
    except (KeyError, TypeError) as exc:
        raise BuildTableError(f"{where}: malformed family ({exc!r})") from exc


def load_families(path: Path | str | None = None) -> list[Family]:
    """The exploitation families, in file order. Raises BuildTableError with the file on bad data."""
    if path is None:
        return list(_shipped())
    return _load(Path(path))


def _load(path: Path) -> list[Family]:
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise BuildTableError(f"{path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("families"), list):
        raise BuildTableError(f"{path}: needs a 'families' list")
    return [_family(raw, f"{path}: families[{i}]") for i, raw in enumerate(data["families"])]


@lru_cache(maxsize=1)
def _shipped() -> tuple[Family, ...]:
    return tuple(_load(CAMPAIGNS_PATH))


def family_of(cve: str, families: list[Family] | None = None) -> str | None:
    for fam in families if families is not None else load_families():
        if cve in fam.cves:
            return fam.id
    return None
