"""The ATT&CK techniques the sharing formats may name: exhunt's table for one declared ATT&CK version.

The table (``data/attack-enterprise-16.tsv``) holds technique ids, names and tactics written from the public
ATT&CK matrix. Ids a finding carries that the table does not hold (a newer ATT&CK's ids taken from a third-party
Sigma rule, a typo) are not published as techniques of this version: every format that drops one says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.resources import files

ATTACK_VERSION = "16"
ATTACK_DOMAIN = "enterprise-attack"
KILL_CHAIN = "mitre-attack"  # kill_chain_name of ATT&CK's own STIX data
TABLE = f"attack-enterprise-{ATTACK_VERSION}.tsv"


@dataclass(frozen=True, slots=True)
class Technique:
    id: str
    name: str
    tactics: tuple[str, ...]

    @property
    def parent(self) -> str | None:
        return self.id.split(".", 1)[0] if "." in self.id else None

    def full_name(self) -> str:
        """``Parent: Sub`` for a sub-technique (ATT&CK's own display form), the name for a technique."""
        parent = technique(self.parent) if self.parent else None
        return f"{parent.name}: {self.name}" if parent else self.name

    def url(self) -> str:
        return "https://attack.mitre.org/techniques/" + self.id.replace(".", "/") + "/"


@cache
def table() -> dict[str, Technique]:
    text = files("exhunt.report").joinpath("data", TABLE).read_text(encoding="utf-8")
    found: dict[str, Technique] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        tid, name, tactics = line.split("\t")
        found[tid] = Technique(tid, name, tuple(tactics.split(",")))
    return found


def technique(tid: str | None) -> Technique | None:
    return table().get(tid.strip().upper()) if tid else None


def split_known(ids: list[str] | tuple[str, ...]) -> tuple[list[Technique], list[str]]:
    """The techniques of ``ids`` known to the table, and the ids it does not hold (both deduplicated, sorted)."""
    known = {t.id: t for t in (technique(i) for i in ids) if t is not None}
    unknown = sorted({i for i in ids if technique(i) is None})
    return [known[k] for k in sorted(known)], unknown
