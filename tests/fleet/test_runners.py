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


def test_one_host_with_parse_workers_matches_the_serial_run() -> None:
    """One host, two processes: its logs parsed in workers, which send back only the records a detector may
    use and hash the files that give one."""
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


def _fleet_folder(tmp_path: Path) -> Path:
    """A folder holding three hosts (one subfolder each), the examples copied."""
    import shutil

    fleet = tmp_path / "fleet"
    for name in ("exchange-2019-clean", "exchange-2019-probed", "exchange-2019-compromised"):
        shutil.copytree(EXAMPLES / name, fleet / name)
    return fleet


def test_a_folder_of_hosts_is_listed_once_serially_and_in_the_pool(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder of N hosts was opened and listed N + 1 times (each host's assessment listed every host's
    files to find its own): now once, in the caller; the pool's workers get their host's tree pickled.
    Same results as opening the folder for each host."""
    from exhunt.fleet import local

    fleet = [_fleet_folder(tmp_path)]
    before = [_plain([local.assess_one(str(fleet[0]), n, ContentSpec(), {})]) for n in range(3)]
    log = tmp_path / "opened.log"  # written by the forked workers too
    real = local.open_evidence

    def counting(path: Path) -> object:
        with log.open("a") as out:
            out.write(f"{path}\n")
        return real(path)

    monkeypatch.setattr(local, "open_evidence", counting)
    serial = assess_paths(fleet, ContentSpec(), {})
    assert len(log.read_text().splitlines()) == 1
    pooled = assess_paths(fleet, ContentSpec(), {}, jobs=2)
    assert len(log.read_text().splitlines()) == 2  # once more, in the caller, to name the hosts; none in workers
    assert [r.host for r in serial] == ["exchange-2019-clean", "exchange-2019-compromised", "exchange-2019-probed"]
    assert _plain(serial) == _plain(pooled) == [r for one in before for r in one]


def test_a_shipped_host_tree_is_the_tree_the_worker_would_open(tmp_path: Path) -> None:
    import pickle

    from exhunt.fleet.local import shipped_tree
    from exhunt.sources.registry import open_evidence

    fleet = _fleet_folder(tmp_path)
    trees = open_evidence(fleet)
    for index, tree in enumerate(trees):
        blob = shipped_tree(trees, index)
        assert blob is not None
        copy = pickle.loads(blob)
        assert (copy.name, copy.origin) == (tree.name, tree.origin)
        assert list(copy.walk()) == list(tree.walk()) and copy.warnings == tree.warnings
        first = next(iter(tree.walk())).path
        with copy.open(first) as a, tree.open(first) as b:
            assert a.read() == b.read()
    assert shipped_tree(trees[:1], 0) is None  # one host: the worker opens the path itself, as before


def test_the_pool_starts_the_largest_hosts_first() -> None:
    from exhunt.fleet.local import HostJob, start_order

    work = [HostJob("p", n, f"h{n}", "p", size) for n, size in enumerate([10, 500, 10, 0, 500])]
    assert start_order(work, [0, 1, 2, 3, 4]) == [1, 4, 0, 2, 3]
    assert start_order(work, [0, 2, 3]) == [0, 2, 3]


def test_hosts_larger_than_an_even_share_get_the_pools_processes() -> None:
    from exhunt.fleet.local import HostJob, large_hosts

    work = [HostJob("p", n, f"h{n}", "p", size) for n, size in enumerate([10, 500, 10, 0])]
    assert large_hosts(work, [0, 1, 2, 3], 2) == {1}  # 500 > 520 / 2: still running when the rest is done
    assert large_hosts(work, [0, 2, 3], 2) == set()  # two of 10 on two workers: each its own worker
    assert large_hosts(work, [0, 1, 2, 3], 1) == set()
    assert large_hosts(work, [1], 2) == set()  # one host alone gets them anyway (run_jobs)
    even = [HostJob("p", n, f"h{n}", "p", 100) for n in range(4)]
    assert large_hosts(even, [0, 1, 2, 3], 2) == set()
    unknown = [HostJob("p", n, f"h{n}", "p", 0) for n in range(3)]
    assert large_hosts(unknown, [0, 1, 2], 2) == set()


def test_a_large_host_of_a_fleet_is_split_across_processes_with_the_same_result(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fleet of a large host and a small one on two workers: the large host's logs and files get two
    processes of its own (no worker idle at the end); the results are those of the serial run."""
    import json
    import shutil

    from exhunt.fleet import local

    fleet = tmp_path / "fleet"
    shutil.copytree(EXAMPLES / "exchange-2019-compromised", fleet / "large")
    small = fleet / "small" / "C" / "inetpub" / "logs" / "LogFiles" / "W3SVC1"
    small.mkdir(parents=True)
    (small / "u_ex210301.log").write_text("#Software: Microsoft Internet Information Services 10.0\n"
                                          "#Fields: date time cs-method cs-uri-stem sc-status\n"
                                          "2021-03-01 00:00:00 GET /owa/ 200\n", encoding="utf-8")
    log = tmp_path / "options.log"  # written by the forked workers
    real = local._assess_tree

    def noting(tree: object, spec: ContentSpec, options: dict[str, object]) -> HostResult:
        with log.open("a") as out:
            out.write(json.dumps([getattr(tree, "name", ""), options.get("parse_workers", 1)]) + "\n")
        return real(tree, spec, options)  # type: ignore[arg-type]

    serial = assess_paths([fleet], ContentSpec(), {})
    monkeypatch.setattr(local, "_assess_tree", noting)
    pooled = assess_paths([fleet], ContentSpec(), {}, jobs=2)
    assert sorted(json.loads(line) for line in log.read_text().splitlines()) == [["large", 2], ["small", 1]]
    assert _plain(pooled) == _plain(serial)
