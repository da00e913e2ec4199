"""The Exchange build table (``rules/builds/exchange_builds.yaml``): which product, CU and SU a build is, and
where each CVE of the table stands at that build.

The table is data; this module only loads and queries it. How a CVE is judged is described at the top of the
YAML file and in ``docs/exposure.md``: products affected, fixed by build (a wave's SU on its CU and later SUs;
a CU released on or after the wave; or explicit ``fixed_in`` points), conditions beyond the build, products
out of support ("not assessed"), and the limits of the table's knowledge (reported, never read as "clean").
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
MSRC = "https://msrc.microsoft.com/update-guide/vulnerability/"
MEMO_LIMIT = 100_000  # memoised CVE statuses kept at most

# Status words of a CVE at a build.
OPEN = "open"
PATCHED = "patched"
NEEDS_CONFIG = "patched by build, needs configuration"
NOT_ASSESSED = "not assessed by Microsoft (out of support)"
NOT_AFFECTED = "not affected"
UNKNOWN = "unknown"


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
    name: str  # "CU11", "RTM", "SP1", "SP3 RU32"
    build: Build
    date: str
    kb: str
    updates: tuple[Update, ...] = ()

    @property
    def train(self) -> tuple[int, int, int]:
        return self.build.train

    @property
    def last_build(self) -> Build:
        return self.updates[-1].build if self.updates else self.build


@dataclass(frozen=True, slots=True)
class Wave:
    id: str
    date: str
    cves: tuple[str, ...]
    notes: str = ""
    kb: tuple[str, ...] = ()
    verified: bool = True


@dataclass(frozen=True, slots=True)
class Cve:
    id: str
    title: str
    products: tuple[str, ...]
    published: str
    fixed_in: dict[str, tuple[str, ...]]  # product key -> fixing points (wave ids or CU names)
    needs: tuple[str, ...]  # condition ids
    not_affected: tuple[str, ...]
    source: str
    notes: str = ""


@dataclass(frozen=True, slots=True)
class Condition:
    id: str
    text: str
    evidence: str | None  # the evidence check that can read it (exhunt.exposure.config), if any


@dataclass(frozen=True, slots=True)
class Support:
    key: str
    name: str
    ended: str | None
    partial: bool = False  # only some CVEs are modelled for the product
    note: str = ""


@dataclass(frozen=True, slots=True)
class CveStatus:
    """Where one CVE stands at one build. ``fixed_by``: the update or CU that fixes it for this product."""

    cve: str
    status: str
    fixed_by: str | None = None
    fix_date: str | None = None
    needs: tuple[str, ...] = ()


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
    newer_than_table: bool = False  # later than the last build the table lists for its CU / product

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
    cves: dict[str, Cve] = field(default_factory=dict)
    conditions: dict[str, Condition] = field(default_factory=dict)
    support: dict[str, Support] = field(default_factory=dict)
    rollup_products: frozenset[str] = frozenset()
    data_cutoff: str = ""
    cves_from: str = ""
    sources: list[str] = field(default_factory=list)
    _memo: dict[tuple[Build, str], CveStatus] = field(default_factory=dict, repr=False, compare=False)

    def cu_for(self, build: Build) -> CumulativeUpdate | None:
        found: CumulativeUpdate | None = None
        for cu in self.cus:
            if cu.train == build.train:
                return cu
            if cu.key in self.rollup_products and cu.build.major_minor == build.major_minor and cu.build <= build:
                found = cu  # update rollups: the latest rollup at or below the build
        return found

    def identify(self, build: Build) -> BuildInfo:
        cu = self.cu_for(build)
        if cu is None:
            same = [c for c in self.cus if c.build.major_minor == build.major_minor]
            earlier = [c for c in same if c.train < build.train]
            prev = max(earlier, key=lambda c: c.train) if earlier else None
            product = _product_of(build, prev)
            newer = bool(same) and prev is not None and prev.train == max(c.train for c in same)
            if prev is None:
                note = f"build {build} is not in the table"
            elif newer:
                note = (f"build {build} is newer than every build the table knows for {prev.product} (the last is "
                        f"{prev.name}, {prev.build}); the table's data ends on {self.data_cutoff}")
            else:
                note = (f"build {build} is no CU in the table; it is later than {prev.product} {prev.name} "
                        f"({prev.build})")
            return BuildInfo(build, product, prev.key if prev else None, None, None, False, note, newer)
        exact = build == cu.build
        update: Update | None = None
        for up in cu.updates:
            if up.build <= build:
                update = up
            if up.build == build:
                exact = True
        note = ""
        newer = False
        if not exact:
            if build > cu.last_build:
                newer = True
                last = f"{update.name} ({update.build}, {update.date})" if update else f"the CU ({cu.build})"
                note = (f"revision {build} is newer than the last build the table lists for {cu.product} {cu.name}: "
                        f"{last}; updates after the table's data ({self.data_cutoff}) are unknown")
            else:
                at = f"after {update.name} ({update.build})" if update else f"after the CU release ({cu.build})"
                note = f"revision {build} is not listed; placed {at}"
        return BuildInfo(build, cu.product, cu.key, cu, update, exact, note, newer)

    # -- CVE status -------------------------------------------------------------------------------------------

    def _points(self, cve: Cve, key: str) -> tuple[str, ...]:
        if key in cve.fixed_in:
            return cve.fixed_in[key]
        return tuple(w.id for w in self.waves.values() if cve.id in w.cves)

    def _cu_named(self, key: str, name: str) -> CumulativeUpdate | None:
        return next((c for c in self.cus if c.key == key and c.name == name), None)

    def fix_point(self, cve: Cve, cu: CumulativeUpdate, build: Build) -> tuple[bool, str | None, str | None]:
        """(fixed at ``build``, the update or CU that fixes it on this product, that fix's date)."""
        first: tuple[str, str] | None = None  # (date, name) of the product's earliest fix
        hit: tuple[str | None, str | None] | None = None
        for point in self._points(cve, cu.key):
            wave = self.waves.get(point)
            if wave is not None:
                first = min(first, (wave.date, wave.id)) if first else (wave.date, wave.id)
                if cu.date >= wave.date:
                    hit = hit or (f"{cu.name} (released after {wave.id})", cu.date)
                for up in cu.updates:
                    if up.wave == point and build >= up.build:
                        hit = hit or (up.name, up.date)
                continue
            named = self._cu_named(cu.key, point)
            if named is None:
                continue
            first = min(first, (named.date, named.name)) if first else (named.date, named.name)
            if build.major_minor == named.build.major_minor and build.train >= named.train:
                hit = hit or (named.name, named.date)
        if hit is not None:
            return True, hit[0], hit[1]
        return False, first[1] if first else None, first[0] if first else None

    def status(self, build: Build, cve_id: str) -> CveStatus:
        """Where ``cve_id`` stands at ``build`` (memoised: the table does not change once loaded)."""
        key = (build, cve_id)
        found = self._memo.get(key)
        if found is None:
            if len(self._memo) >= MEMO_LIMIT:  # many distinct builds (hostile headers): stay bounded
                self._memo.clear()
            found = self._memo[key] = self._status(build, cve_id)
        return found

    def _status(self, build: Build, cve_id: str) -> CveStatus:
        cve = self.cves.get(cve_id)
        cu = self.cu_for(build)
        if cve is None or cu is None:
            return CveStatus(cve_id, UNKNOWN)
        support = self.support.get(cu.key)
        if cu.key not in cve.products:
            if cu.key not in cve.not_affected and support and support.ended and cve.published > support.ended:
                return CveStatus(cve_id, NOT_ASSESSED)
            return CveStatus(cve_id, NOT_AFFECTED)
        fixed, by, date = self.fix_point(cve, cu, build)
        if not fixed:
            return CveStatus(cve_id, OPEN, by, date)
        if cve.needs:
            return CveStatus(cve_id, NEEDS_CONFIG, by, date, cve.needs)
        return CveStatus(cve_id, PATCHED, by, date)

    def statuses(self, build: Build) -> list[CveStatus] | None:
        """Every CVE of the table that concerns the build's product (not-affected ones left out); None when the
        build is not in the table."""
        if self.cu_for(build) is None:
            return None
        out = [self.status(build, cve) for cve in sorted(self.cves)]
        return [s for s in out if s.status != NOT_AFFECTED]

    def is_fixed(self, build: Build, cve: str) -> bool | None:
        """True: fixed by the build (or the product is not affected); False: open; None: unknown, not assessed,
        or fixed by build but only closed with configuration the build alone does not tell."""
        state = self.status(build, cve).status
        if state in (PATCHED, NOT_AFFECTED):
            return True
        if state == OPEN:
            return False
        return None

    def open_cves(self, build: Build) -> list[str] | None:
        """Every CVE of the table open at ``build``, sorted; None when the build is unknown."""
        states = self.statuses(build)
        if states is None:
            return None
        return [s.cve for s in states if s.status == OPEN]

    def gaps(self, build: Build) -> list[str]:
        """Why the table's answer for ``build`` is incomplete, in words (empty: complete as of the cut-off)."""
        info = self.identify(build)
        out: list[str] = []
        if info.note and (info.cu is None or not info.exact):
            out.append(info.note)
        cu = info.cu
        if cu is None:
            return out
        if self.cves_from and cu.date < self.cves_from:
            out.append(f"CVEs fixed before {self.cves_from} are not in the table; {cu.product} {cu.name} (released "
                       f"{cu.date}) may be open to some of them")
        for wave in self.waves.values():
            if wave.verified or wave.date <= cu.date:
                continue
            if any(up.date >= wave.date and up.build <= build for up in cu.updates):
                continue  # that wave's update (or a later one of the CU) is installed: its fixes are in
            out.append(f"the CVE list of update wave {wave.id} ({wave.date}) was not verified for this table")
        support = self.support.get(cu.key)
        if support and support.partial:
            modelled = sorted(c.id for c in self.cves.values() if cu.key in c.products)
            out.append(f"{support.name} is modelled only for {', '.join(modelled)}: its other CVEs are unknown")
        states = self.statuses(build) or []
        unassessed = [s.cve for s in states if s.status == NOT_ASSESSED]
        if unassessed and support and support.ended:
            out.append(f"{support.name} left support on {support.ended}: {len(unassessed)} CVEs published since "
                       "were not assessed by Microsoft for it (it is likely open to them)")
        return out


def _product_of(build: Build, prev: CumulativeUpdate | None) -> str | None:
    if prev is not None:
        return prev.product
    return {(14, 3): "Exchange Server 2010 SP3", (14, 2): "Exchange Server 2010 SP2",
            (14, 1): "Exchange Server 2010 SP1", (14, 0): "Exchange Server 2010",
            (15, 0): "Exchange Server 2013", (15, 1): "Exchange Server 2016",
            (15, 2): "Exchange Server 2019"}.get(build.major_minor)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _build(value: Any, where: str) -> Build:
    parsed = parse_build(_text(value))
    if parsed is None:
        raise BuildTableError(f"{where}: bad build number {value!r}")
    return parsed


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value or [])


def _waves(data: dict[str, Any], origin: str) -> dict[str, Wave]:
    waves: dict[str, Wave] = {}
    for i, raw in enumerate(data.get("waves") or []):
        if "id" not in raw or "date" not in raw:
            raise BuildTableError(f"{origin}: waves[{i}]: needs id and date")
        waves[str(raw["id"])] = Wave(str(raw["id"]), _text(raw["date"]), _strings(raw.get("cves")),
                                     _text(raw.get("notes")).strip(), _strings(raw.get("kb")),
                                     bool(raw.get("verified", True)))
    return waves


def _cves(data: dict[str, Any], waves: dict[str, Wave], origin: str) -> dict[str, Cve]:
    first_wave: dict[str, str] = {}
    for wave in waves.values():
        for cve in wave.cves:
            first_wave[cve] = min(first_wave.get(cve, wave.date), wave.date)
    out: dict[str, Cve] = {}
    raw_cves = dict(data.get("cves") or {})
    for cve in first_wave:
        raw_cves.setdefault(cve, {})
    for cve_id, meta in sorted(raw_cves.items()):
        meta = meta or {}
        fixed_in = {str(k): _strings(v) for k, v in (meta.get("fixed_in") or {}).items()}
        published = _text(meta.get("published")) or first_wave.get(str(cve_id), "")
        if not published:
            raise BuildTableError(f"{origin}: cves.{cve_id}: fixed by no wave and no published date")
        products = _strings(meta.get("products")) or DEFAULT_PRODUCTS
        out[str(cve_id)] = Cve(str(cve_id), _text(meta.get("title")), products, published, fixed_in,
                               _strings(meta.get("needs")), _strings(meta.get("not_affected")),
                               _text(meta.get("source")) or MSRC + str(cve_id), _text(meta.get("notes")).strip())
    return out


def parse_table(data: dict[str, Any], origin: str = "<table>") -> BuildTable:
    waves = _waves(data, origin)
    cves = _cves(data, waves, origin)
    conditions = {str(k): Condition(str(k), _text((v or {}).get("text")).strip(), (v or {}).get("evidence"))
                  for k, v in (data.get("conditions") or {}).items()}
    support = {str(k): Support(str(k), _text(v.get("name")), _text(v.get("ended")) or None,
                               v.get("modelled") == "partial", _text(v.get("note")))
               for k, v in (data.get("support") or {}).items()}
    cus: list[CumulativeUpdate] = []
    rollups: set[str] = set()
    for prod in data.get("products") or []:
        name, key = str(prod["product"]), str(prod["key"])
        if prod.get("rollups"):
            rollups.add(key)
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
    cus.sort(key=lambda c: c.build)
    _check_references(cves, conditions, waves, cus, origin)
    return BuildTable(cus, waves, {c: v.title for c, v in cves.items()},
                      {c: v.products for c, v in cves.items()}, [str(n) for n in data.get("notes") or []],
                      cves, conditions, support, frozenset(rollups), _text(data.get("data_cutoff")),
                      _text(data.get("cves_from")), [str(s) for s in data.get("sources") or []])


def _check_references(cves: dict[str, Cve], conditions: dict[str, Condition], waves: dict[str, Wave],
                      cus: list[CumulativeUpdate], origin: str) -> None:
    names = {(c.key, c.name) for c in cus}
    for cve in cves.values():
        for need in cve.needs:
            if need not in conditions:
                raise BuildTableError(f"{origin}: cves.{cve.id}: unknown condition {need!r}")
        for key, points in cve.fixed_in.items():
            for point in points:
                if point not in waves and (key, point) not in names:
                    raise BuildTableError(f"{origin}: cves.{cve.id}: fixed_in {key}: {point!r} is no wave or CU")


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
