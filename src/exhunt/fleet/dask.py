"""Run the same assess_one() on a Dask distributed cluster (a national CERT's fleet of evidence).

Only plain data crosses to the workers: (evidence path, host index, content spec, options). Each worker
process compiles the content once (``compiled_content`` is cached per process). Evidence paths must be
readable from the workers (shared storage).

Cold start: before any host is sent, every worker gets the content ready (``ContentPreload``, a worker
plugin, also run on workers that join later): it imports exhunt and compiles the content, from the compiled
states the client itself loaded from its content cache when it has them (``content/cache.py``: each worker
checks the key against its own code and rule files; shipped states replace nothing but the compile), so
workers without the client's cache folder do not compile the rules each; and with them the Hyperscan databases
of the text-log prefilters a usual host asks for (``engine.usual_prefilters``), loaded (or compiled once) in
the client: a fresh worker otherwise compiled them at its first host (0.3 s here; each worker again).

Faults stay with their host: ``assess_one`` never raises, and a task Dask gives up on (its worker died
more often than the scheduler allows: ``KilledWorker``) becomes a "could not assess" result. Each result
goes to ``on_host`` as soon as it arrives; on Ctrl-C the remaining tasks are cancelled and
``FleetInterrupted`` carries the hosts that finished.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from exhunt.content.bundle import ContentSpec
from exhunt.engine import could_not_assess
from exhunt.fleet.local import (
    FleetInterrupted,
    OnHost,
    assess_one,
    assess_shipped,
    close_opened,
    compiled_content,
    host_jobs,
    shippable,
    shipped_tree,
    start_order,
)
from exhunt.model.result import HostResult
from exhunt.sources.base import HostTree


class ContentPreload(WorkerPlugin):
    """Dask worker plugin: the content compiled in the worker before its first host (``setup`` runs on every
    worker, present or joining later), from the client's compiled states where their keys match."""

    def __init__(self, spec: ContentSpec, states: dict[tuple[str, str], bytes],
                 databases: dict[str, bytes] | None = None) -> None:
        self.spec, self.states, self.databases = spec, states, databases or {}

    def setup(self, worker: Any) -> None:
        from exhunt.content.cache import preload
        from exhunt.content.hyperscan_db import hand
        from exhunt.fleet.allocator import relax

        relax()  # Dask's small trim threshold made every host ~1.7x slower (see fleet/allocator.py)
        preload(self.states)
        hand(self.databases)
        with contextlib.suppress(Exception):  # left to the first host, which reports it as that host's fault
            compiled_content(self.spec)

    def teardown(self, worker: Any) -> None:
        from exhunt.content.cache import forget
        from exhunt.content.hyperscan_db import take_back
        from exhunt.fleet.allocator import restore

        restore()
        forget(self.states)  # the compiled content stays (warm runs); the shipped bytes are not kept
        take_back(self.databases)


MAX_DATABASE_BYTES = 16 << 20  # prefilter databases shipped to each worker at most (shipped content: 0.85 MB)


def prefilter_databases(spec: ContentSpec, options: dict[str, Any]) -> dict[str, bytes]:
    """The serialised Hyperscan databases of the prefilters a usual host's text logs ask for (IIS logs' placed in
    their default columns too: 0.2 s of a fresh worker's first host otherwise), by key, from
    the content's cache folder (compiled and stored there the first time); empty without a cache folder (as
    the compiled states: nothing is compiled in the client only to be shipped) or past the bound."""
    from exhunt.content.hyperscan_db import recorded, use_folder
    from exhunt.engine import usual_scans

    if not spec.cache_dir:
        return {}
    content = compiled_content(spec)
    use_folder(spec.cache_dir)
    databases = recorded(lambda: usual_scans(content, options))
    return databases if sum(map(len, databases.values())) <= MAX_DATABASE_BYTES else {}


def _preload(client: Any, spec: ContentSpec, options: dict[str, Any]) -> str | None:
    """The content ready on every worker; the plugin's name (by spec, so that a rerun replaces it), None
    when it could not be registered (then each worker compiles the content at its first host, as before)."""
    from hashlib import sha256

    from exhunt.content.cache import exported

    compiled_content(spec)  # in the client: loads (or compiles and stores) the states shipped below
    databases: dict[str, bytes] = {}
    with contextlib.suppress(Exception):  # then each worker builds them at its first host, as before
        databases = prefilter_databases(spec, options)
    name = "exhunt-content-" + sha256(repr(spec).encode("utf-8", "surrogatepass")).hexdigest()[:16]
    try:
        client.register_plugin(ContentPreload(spec, exported() if spec.cache_dir else {}, databases), name=name)
    except Exception:  # e.g. a worker that cannot load it: the tasks compile the content themselves
        with contextlib.suppress(Exception):  # not left on the scheduler for workers that join later
            client.unregister_worker_plugin(name)
        return None
    return name


def assess_paths_dask(paths: list[Path], spec: ContentSpec, options: dict[str, Any], scheduler: str,
                      on_host: OnHost | None = None,
                      known: Mapping[tuple[str, str], HostResult] | None = None) -> list[HostResult]:
    """``scheduler``: a scheduler address (tcp://host:8786) or ``local`` for a cluster on this machine."""
    import dask
    from distributed import Client, LocalCluster, as_completed

    # one evidence path holding several hosts (a fleet folder): listed once here, each host's tree shipped to
    # its task instead of every task listing the whole folder again (as the local pool does)
    opened: dict[str, list[HostTree]] | None = {} if len(paths) == 1 else None
    work = [job for path in paths for job in host_jobs(path, opened)]
    shipped = shippable(opened or {})
    results: list[HostResult | None] = [(known or {}).get(job.key) for job in work]
    todo = start_order(work, [n for n, result in enumerate(results) if result is None])
    cluster = None
    if scheduler == "local":
        with dask.config.set({"distributed.scheduler.allowed-failures": 1}):  # a dead worker: retried once
            # on the loopback only (the scheduler's HTTP routes would otherwise listen on every interface)
            cluster = LocalCluster(processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0")
    client = Client(cluster if cluster is not None else scheduler)
    futures = []
    plugin = None
    try:
        plugin = _preload(client, spec, options) if todo else None
        for n in todo:
            job = work[n]
            blob = shipped_tree(shipped.get(job.path), job.index)  # None: the worker opens the evidence itself
            futures.append(client.submit(assess_one, job.path, job.index, spec, options, pure=False)
                           if blob is None else
                           client.submit(assess_shipped, blob, job.path, job.index, spec, options, pure=False))
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
        close_opened(opened)
        if plugin is not None:
            with contextlib.suppress(Exception):  # a cluster going away: nothing left to clean
                client.unregister_worker_plugin(plugin)
        client.close()
        if cluster is not None:
            cluster.close()
