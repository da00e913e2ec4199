"""Every build of the CVE table agrees with the published build list shipped next to it (product, CU, update,
build, date), and the list has nothing the table lacks."""

from __future__ import annotations

import csv

from exhunt.exposure import load_table
from exhunt.exposure.builds import BUILDS_DIR, BuildTable

PUBLISHED = BUILDS_DIR / "published_builds.csv"


def _published() -> dict[str, dict[str, str]]:
    with PUBLISHED.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(line for line in handle if not line.startswith("#")))
    by_build = {row["build"]: row for row in rows}
    assert len(by_build) == len(rows), "a build is listed twice"
    return by_build


def _table_rows(table: BuildTable) -> list[tuple[str, str, str, str, str]]:
    out = []
    for cu in table.cus:
        out.append((cu.product, cu.name, "", str(cu.build), cu.date))
        out.extend((cu.product, cu.name, up.name, str(up.build), up.date) for up in cu.updates)
    return out


def test_every_table_build_is_published_alike() -> None:
    published = _published()
    for product, cu, update, build, date in _table_rows(load_table()):
        row = published.get(build)
        assert row is not None, f"{product} {cu} {update} {build} is not in {PUBLISHED.name}"
        assert (row["product"], row["cu"], row["update"], row["date"]) == (product, cu, update, date), build


def test_every_published_build_is_in_the_table() -> None:
    in_table = {row[3] for row in _table_rows(load_table())}
    assert set(_published()) == in_table


def test_published_rows_name_their_source() -> None:
    for build, row in _published().items():
        assert row["source"] == "Microsoft build list" or row["source"].startswith("KB"), build
