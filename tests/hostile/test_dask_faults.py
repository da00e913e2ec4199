"""Fault injection on a real local Dask cluster (#14): worker processes on 127.0.0.1, no other network. A
worker is killed (SIGKILL, by the process itself) while it assesses one host: the hosts that finished are
kept, the killed host is run again on another worker, and the run ends with the output of a run without a
fault; a ``--resume`` run over a store that holds part of the fleet gives the same bytes again."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

from hostilefixtures import hosts, jsonl, make_host, scan

distributed = pytest.importorskip("distributed")
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="kills processes with SIGKILL")


def _killer(victim: str, marker: Path) -> Any:
    """A worker plugin (shipped to each worker by value) that makes the worker kill itself the first time,
    cluster-wide, it starts assessing ``victim``. ``marker`` says that it happened (created atomically)."""

    class KillOnce(distributed.WorkerPlugin):  # type: ignore[misc]
        name = "exhunt-kill-once"

        def setup(self, worker: Any) -> None:
            import signal

            from exhunt.fleet import local

            real = local.assess_host

            def assess(tree, *args, **kwargs):  # type: ignore[no-untyped-def]
                if tree.name == victim:
                    try:
                        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                    except FileExistsError:
                        pass
                    else:
                        os.kill(os.getpid(), signal.SIGKILL)
                return real(tree, *args, **kwargs)

            local.assess_host = assess

    return KillOnce()


@pytest.fixture()
def cluster() -> Any:
    import dask

    # as `--dask local` does: a task whose worker died is retried once, then given up (KilledWorker)
    # on the loopback only: the scheduler's HTTP routes too (its default is every interface, port 8787)
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}), distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address="127.0.0.1:0", worker_dashboard_address=None) as running:
        yield running


@linux_only
def test_a_killed_dask_worker_costs_nothing_and_resume_gives_the_same_bytes(tmp_path: Path, cluster: Any) -> None:
    fleet = [make_host(tmp_path / f"ex{n:02d}") for n in range(1, 7)]
    reference = tmp_path / "reference.jsonl"
    assert scan(*fleet, "-f", "jsonl", "-o", reference) in (0, 1, 3)  # in this process, no fault

    marker = tmp_path / "killed"
    with distributed.Client(cluster) as client:  # closed before the scan: exhunt's client is the only one then
        client.register_plugin(_killer("ex03", marker))  # kept by the scheduler, given to every new worker
        pids_before = set(client.run(os.getpid).values())
    out, case = tmp_path / "out.jsonl", tmp_path / "case.duckdb"
    code = scan(*fleet, "--dask", cluster.scheduler_address, "--store", case, "-f", "jsonl", "-o", out)
    assert marker.exists()  # a worker died while it assessed ex03
    with distributed.Client(cluster) as client:
        assert set(client.run(os.getpid).values()) != pids_before  # and its nanny started another
    assert code == scan(*fleet, "-f", "jsonl", "-o", tmp_path / "again.jsonl")
    assert out.read_bytes() == reference.read_bytes()  # ex03 retried once, every host reported, same bytes
    assert not (tmp_path / "out.jsonl.partial").exists()

    # a store holding only the first half of the fleet (an interrupted run), then --resume on Dask
    half = tmp_path / "half.duckdb"
    scan(*fleet[:3], "--store", half, "-f", "jsonl", "-o", tmp_path / "half.jsonl")
    resumed = tmp_path / "resumed.jsonl"
    scan(*fleet, "--dask", cluster.scheduler_address, "--store", half, "--resume", "-f", "jsonl", "-o", resumed)
    assert resumed.read_bytes() == reference.read_bytes()
    assert list(hosts(jsonl(resumed))) == [f"ex{n:02d}" for n in range(1, 7)]
