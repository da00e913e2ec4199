"""The Exchange build table (``rules/builds/exchange_builds.yaml``): which product, CU and SU a build is, and
which CVEs are still open at that build.

The table is data; this module only loads and queries it. Rules for "fixed" are described at the top of the
YAML file: a wave's SU fixes its CVEs on its CU and every later SU of that CU; a CU released on or after the
wave's date carries the fix; older CUs without an SU of the wave stay open.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from exhunt.content.yamlio import load_yaml
from exhunt.exposure.version import Build, parse_build

BUILDS_DIR = Path(__file__).resolve().parent.parent / "rules" / "builds"
TABLE_PATH = BUILDS_DIR / "exchange_builds.yaml"
DEFAULT_PRODUCTS = ("2013", "2016", "2019", "SE")


class BuildTableError(ValueError):
    """The build table file is malformed (message carries the file and the entry)."""


@dataclass(frozen=True, slots=True)
class Update:
    name: str  # e.g. "Oct22SU"
    build: Build
    date: str
    kb: str
    wave: str


@dataclass(frozen=True, slots=True)
class CumulativeUpdate:
    product: str  # "Exchange Server 2019"
    key: str  # "2019"
    name: str  # "CU11", "RTM", "SP1"
    build: Build
    date: str
    kb: str
    updates: tuple[Update, ...] = ()

    @property
    def train(self) -> tuple[int, int, int]:
        return self.build.train


@dataclass(frozen=True, slots=True)
class Wave:
    id: str
    date: str
    cves: tuple[str, ...]
    notes: str = ""


@dataclass(frozen=True, slots=True)
class BuildInfo:
    """Where a build sits in the table. ``cu`` None: not a known CU (preview, interim or unknown build)."""

    build: Build
    product: str | None
    product_key: str | None
    cu: CumulativeUpdate | None
    update: Update | None  # the SU/HU the build is, or the latest one at or below it
    exact: bool  # the build number is itself listed in the table
    note: str = ""

    @property
    def label(self) -> str:
        if self.cu is None:
            return f"{self.product or 'unknown product'} (unknown build {self.build})"
        su = f" {self.update.name}" if self.update else ""
        return f"{self.cu.product} {self.cu.name}{su}"


@dataclass
class BuildTable:
    cus: list[CumulativeUpdate]
    waves: dict[str, Wave]
    cve_titles: dict[str, str]
    cve_products: dict[str, tuple[str, ...]]
    notes: list[str] = field(default_factory=list)

    def cu_for(self, build: Build) -> CumulativeUpdate | None:
        for cu in self.cus:
            if cu.train == build.train:
                return cu
        return None

    def identify(self, build: Build) -> BuildInfo:
        cu = self.cu_for(build)
        if cu is None:
            earlier = [c for c in self.cus if c.build.major_minor == build.major_minor and c.train < build.train]
            prev = max(earlier, key=lambda c: c.train) if earlier else None
            product = _product_of(build, prev)
            note = (f"build {build} is no CU in the table; it is later than {prev.product} {prev.name} "
                    f"({prev.build})" if prev else f"build {build} is not in the table")
            return BuildInfo(build, product, prev.key if prev else None, None, None, False, note)
        exact = build == cu.build
        update: Update | None = None
        for up in cu.updates:
            if up.build <= build:
                update = up
            if up.build == build:
                exact = True
        note = ""
        if not exact:
            at = f"after {update.name} ({update.build})" if update else f"after the CU release ({cu.build})"
            note = f"revision {build} is not listed; placed {at}"
        return BuildInfo(build, cu.product, cu.key, cu, update, exact, note)

    def is_fixed(self, build: Build, cve: str) -> bool | None:
        """True: the build carries the fix; False: the CVE is open; None: unknown build or CVE."""
        fix_waves = [w for w in self.waves.values() if cve in w.cves]
        if not fix_waves:
            return None
        cu = self.cu_for(build)
        if cu is None:
            return None
        if cu.key not in self.cve_products.get(cve, DEFAULT_PRODUCTS):
            return True  # the product is not affected
        first_fix = min(w.date for w in fix_waves)
        if cu.date >= first_fix:
            return True
        fixed_builds = [u.build for u in cu.updates if cve in self.waves[u.wave].cves]
        return bool(fixed_builds) and build >= min(fixed_builds)

    def open_cves(self, build: Build) -> list[str] | None:
        """Every CVE of the table still open at ``build``, sorted; None when the build is unknown."""
        if self.cu_for(build) is None:
            return None
        return sorted(c for c in self.cve_titles if self.is_fixed(build, c) is False)

    def fix_released_for(self, product_key: str, cve: str) -> bool:
        """Whether any update or later CU of the product carries the fix (False: e.g. Exchange 2013 after its
        end of support)."""
        first = self.fix_date(cve)
        if first is None:
            return False
        for cu in self.cus:
            if cu.key != product_key:
                continue
            if cu.date >= first or any(cve in self.waves[u.wave].cves for u in cu.updates):
                return True
        return False

    def fix_date(self, cve: str) -> str | None:
        dates = [w.date for w in self.waves.values() if cve in w.cves]
        return min(dates) if dates else None


def _product_of(build: Build, prev: CumulativeUpdate | None) -> str | None:
    if prev is not None:
        return prev.product
    return {(15, 0): "Exchange Server 2013", (15, 1): "Exchange Server 2016",
            (15, 2): "Exchange Server 2019"}.get(build.major_minor)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _build(value: Any, where: str) -> Build:
    parsed = parse_build(_text(value))
    if parsed is None:
        raise BuildTableError(f"{where}: bad build number {value!r}")
    return parsed


def parse_table(data: dict[str, Any], origin: str = "<table>") -> BuildTable:
    waves: dict[str, Wave] = {}
    for i, raw in enumerate(data.get("waves") or []):
        where = f"{origin}: waves[{i}]"
        if "id" not in raw or "date" not in raw:
            raise BuildTableError(f"{where}: needs id and date")
        waves[str(raw["id"])] = Wave(str(raw["id"]), _text(raw["date"]), tuple(str(c) for c in raw.get("cves") or []),
                                     _text(raw.get("notes")))
    titles: dict[str, str] = {}
    products: dict[str, tuple[str, ...]] = {}
    for cve, meta in sorted((data.get("cves") or {}).items()):
        titles[str(cve)] = _text((meta or {}).get("title"))
        if meta and meta.get("products"):
            products[str(cve)] = tuple(str(p) for p in meta["products"])
    for wave in waves.values():
        for cve in wave.cves:
            titles.setdefault(cve, "")
    cus: list[CumulativeUpdate] = []
    for prod in data.get("products") or []:
        name, key = str(prod["product"]), str(prod["key"])
        for j, raw in enumerate(prod.get("cus") or []):
            where = f"{origin}: {name} cus[{j}]"
            updates: list[Update] = []
            for k, up in enumerate(raw.get("updates") or []):
                wave_id = str(up.get("wave") or up["su"])
                if wave_id not in waves:
                    raise BuildTableError(f"{where} updates[{k}]: unknown wave {wave_id!r}")
                updates.append(Update(str(up["su"]), _build(up["build"], f"{where} updates[{k}]"),
                                      _text(up["date"]), _text(up.get("kb")), wave_id))
            cus.append(CumulativeUpdate(name, key, str(raw["cu"]), _build(raw["build"], where), _text(raw["date"]),
                                        _text(raw.get("kb")), tuple(sorted(updates, key=lambda u: u.build))))
    cus.sort(key=lambda c: c.train)
    return BuildTable(cus, waves, titles, products, [str(n) for n in data.get("notes") or []])


def load_table(path: Path | str | None = None) -> BuildTable:
    """Load a build table (the shipped one by default). Raises BuildTableError with the file on bad data."""
    if path is None:
        return _shipped_table()
    return _load(Path(path))


def _load(path: Path) -> BuildTable:
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise BuildTableError(f"{path}: {exc}") from exc
    if not isinstance(data, dict):
        raise BuildTableError(f"{path}: not a mapping")
    try:
        return parse_table(data, str(path))
    except (KeyError, TypeError, AttributeError) as exc:
        raise BuildTableError(f"{path}: malformed entry ({exc!r})") from exc


@lru_cache(maxsize=1)
def _shipped_table() -> BuildTable:
    return _load(TABLE_PATH)
