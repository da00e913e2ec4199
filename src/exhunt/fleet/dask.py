"""Run the same assess_one() on a Dask distributed cluster (a national CERT's fleet of evidence).

Only plain data crosses to the workers: (evidence path, host index, content spec, options). Each worker
process compiles the content once (``compiled_content`` is cached per process). Evidence paths must be
readable from the workers (shared storage).

Faults stay with their host: ``assess_one`` never raises, and a task Dask gives up on (its worker died
more often than the scheduler allows: ``KilledWorker``) becomes a "could not assess" result. Each result
goes to ``on_host`` as soon as it arrives; on Ctrl-C the remaining tasks are cancelled and
``FleetInterrupted`` carries the hosts that finished.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from exhunt.content.bundle import ContentSpec
from exhunt.engine import could_not_assess
from exhunt.fleet.local import FleetInterrupted, OnHost, assess_one, host_jobs
from exhunt.model.result import HostResult


def assess_paths_dask(paths: list[Path], spec: ContentSpec, options: dict[str, Any], scheduler: str,
                      on_host: OnHost | None = None,
                      known: Mapping[tuple[str, str], HostResult] | None = None) -> list[HostResult]:
    """``scheduler``: a scheduler address (tcp://host:8786) or ``local`` for a cluster on this machine."""
    import dask
    from distributed import Client, LocalCluster, as_completed

    work = [job for path in paths for job in host_jobs(path)]
    results: list[HostResult | None] = [(known or {}).get(job.key) for job in work]
    todo = [n for n, result in enumerate(results) if result is None]
    cluster = None
    if scheduler == "local":
        with dask.config.set({"distributed.scheduler.allowed-failures": 1}):  # a dead worker: retried once
            # on the loopback only (the scheduler's HTTP routes would otherwise listen on every interface)
            cluster = LocalCluster(processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0")
    client = Client(cluster if cluster is not None else scheduler)
    futures = []
    try:
        futures = [client.submit(assess_one, work[n].path, work[n].index, spec, options, pure=False) for n in todo]
        position = {future.key: n for future, n in zip(futures, todo, strict=True)}
        for future in as_completed(futures):
            number = position[future.key]
            job = work[number]
            try:
                result: HostResult = future.result()
            except Exception as exc:  # KilledWorker and friends: this host only
                result = could_not_assess(job.host, job.origin, f"the Dask task failed: {type(exc).__name__}: "
                                          f"{exc}", code="worker-died")
            results[number] = result
            if on_host:
                on_host(result)
        return [r for r in results if r is not None]
    except KeyboardInterrupt:
        client.cancel(futures)
        raise FleetInterrupted([r for r in results if r is not None], len(work)) from None
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
