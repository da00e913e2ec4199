"""The same hosts give the same results whether assessed in this process, a process pool or on Dask."""

from __future__ import annotations

from pathlib import Path

from exhunt.content.bundle import ContentSpec
from exhunt.fleet.dask import assess_paths_dask
from exhunt.fleet.local import assess_paths
from exhunt.model.result import HostResult

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
HOSTS = [EXAMPLES / "exchange-2019-clean", EXAMPLES / "exchange-2019-probed"]


def _plain(results: list[HostResult]) -> list[dict[str, object]]:
    return [r.to_dict() for r in results]


def test_process_pool_and_dask_match_the_serial_run() -> None:
    serial = assess_paths(HOSTS, ContentSpec(), {})
    assert [r.host for r in serial] == ["exchange-2019-clean", "exchange-2019-probed"]
    assert _plain(assess_paths(HOSTS, ContentSpec(), {}, jobs=2)) == _plain(serial)
    assert _plain(assess_paths_dask(HOSTS, ContentSpec(), {}, "local")) == _plain(serial)
