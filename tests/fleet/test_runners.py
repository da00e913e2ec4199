"""The same hosts give the same results whether assessed in this process, a process pool or on Dask."""

from __future__ import annotations

from pathlib import Path

import pytest

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


def test_one_host_with_parse_workers_and_hashing_ahead_matches_the_serial_run() -> None:
    """One host, two processes: its logs are hashed while the content compiles, then parsed in workers."""
    host = [EXAMPLES / "exchange-2019-compromised"]
    serial = _plain(assess_paths(host, ContentSpec(), {}))
    assert _plain(assess_paths(host, ContentSpec(), {}, jobs=2)) == serial
    findings: list[dict[str, object]] = serial[0]["findings"]  # type: ignore[assignment]
    lines = [ref for f in findings for ref in f["evidence"] if ref.get("line")]  # type: ignore[attr-defined]
    assert lines and all(ref.get("sha256") for ref in lines)  # every cited log file hashed


def test_one_evidence_path_is_listed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The trees opened to name the hosts are the ones assessed: a many-files host is not listed twice."""
    from exhunt.fleet import local

    opened: list[Path] = []
    real = local.open_evidence

    def counting(path: Path) -> object:
        opened.append(path)
        return real(path)

    monkeypatch.setattr(local, "open_evidence", counting)
    host = [EXAMPLES / "exchange-2019-probed"]
    results = assess_paths(host, ContentSpec(), {})
    assert len(opened) == 1
    monkeypatch.undo()
    assert _plain(results) == _plain(assess_paths(host, ContentSpec(), {}))
