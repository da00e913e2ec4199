"""Run the same assess_one() on a Dask distributed cluster (a national CERT's fleet of evidence).

Only plain data crosses to the workers: (evidence path, host index, content spec, options). Each worker
process compiles the content once (``compiled_content`` is cached per process). Evidence paths must be
readable from the workers (shared storage).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from exhunt.content.bundle import ContentSpec
from exhunt.fleet.local import assess_one, host_count
from exhunt.model.result import HostResult


def assess_paths_dask(paths: list[Path], spec: ContentSpec, options: dict[str, Any], scheduler: str,
                      on_host: Callable[[HostResult], None] | None = None) -> list[HostResult]:
    """``scheduler``: a scheduler address (tcp://host:8786) or ``local`` for a cluster on this machine."""
    from distributed import Client, LocalCluster, as_completed

    cluster = LocalCluster(processes=True, dashboard_address=None) if scheduler == "local" else None
    client = Client(cluster if cluster is not None else scheduler)
    try:
        work = [(str(path), index) for path in paths for index in range(host_count(path))]
        futures = [client.submit(assess_one, path, index, spec, options, pure=False) for path, index in work]
        position = {future.key: n for n, future in enumerate(futures)}
        results: list[HostResult | None] = [None] * len(futures)
        for future in as_completed(futures):
            result: HostResult = future.result()
            results[position[future.key]] = result
            if on_host:
                on_host(result)
        return [r for r in results if r is not None]
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
