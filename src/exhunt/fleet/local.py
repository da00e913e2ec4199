"""Run assess_host over every host of every evidence path, in this process or a local process pool.

Only plain data crosses process boundaries: (evidence path, host index, content spec, options) in (for a
folder of several hosts, the host's tree pickled from the caller's listing), HostResult out. The content
and the data every host reads are made once in the calling process before the workers are forked, which
inherit them (``prepare``).

Faults stay with their host: an error while opening or assessing one host gives that host a "could not
assess" result naming the error (``assess_one`` never raises). A worker process that dies (killed, out of
memory) costs only the hosts it was running: they are run again, each alone, once; a host whose worker
dies a second time is reported as failed. Each result is handed to ``on_host`` as soon as it is known (the
CLI writes it to the case store there). On Ctrl-C the pool is stopped at once and ``FleetInterrupted``
carries the hosts that finished. Workers ignore Ctrl-C (the parent stops them) and die with their parent.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from exhunt.content.bundle import ContentBundle, ContentSpec
from exhunt.detectors.registry import load_content
from exhunt.engine import Progress, assess_host, could_not_assess
from exhunt.fleet.identity import evidence_identity
from exhunt.model.result import HostResult
from exhunt.sources.base import EvidenceError, HostTree, shown_name
from exhunt.sources.registry import open_evidence
from exhunt.workers import bind_to_parent


@cache
def compiled_content(spec: ContentSpec) -> ContentBundle:
    """Content compiled once per process."""
    return load_content(ContentBundle(spec))


@dataclass(frozen=True, slots=True)
class HostJob:
    """One host to assess: the evidence path as given, the host's index in it, its name and identity."""

    path: str
    index: int
    host: str
    origin: str
    size: int = 0  # bytes listed in the host (0: not known): the pool starts the largest hosts first

    @property
    def key(self) -> tuple[str, str]:
        return (self.host, evidence_identity(self.origin))


class FleetInterrupted(Exception):  # it is an outcome, not an error
    """Ctrl-C during a fleet scan: the hosts that finished (in the order given), the rest not assessed."""

    def __init__(self, finished: list[HostResult], total: int) -> None:
        super().__init__(f"interrupted after {len(finished)} of {total} hosts")
        self.finished, self.total = finished, total


def _fallback_name(path: str, index: int) -> str:
    stem = shown_name(Path(path).name.rsplit(".", 1)[0] if Path(path).suffix.lower() == ".zip" else Path(path).name)
    return stem if index == 0 else f"{stem}#{index}"


def host_jobs(path: Path, opened: dict[str, list[HostTree]] | None = None) -> list[HostJob]:
    """The hosts in ``path``; evidence that cannot be opened is one host, which will fail with the reason.
    ``opened``: the opened trees are kept there (by path, the caller closes them) instead of being closed,
    so that assessing them in this process does not list the evidence a second time."""
    try:
        trees = open_evidence(path)
    except Exception:  # reported when the host is assessed
        return [HostJob(str(path), 0, _fallback_name(str(path), 0), shown_name(str(path)))]
    try:
        return [HostJob(str(path), n, tree.name, tree.origin, _listed_bytes(tree)) for n, tree in enumerate(trees)]
    finally:
        if opened is not None:
            opened[str(path)] = trees
        else:
            _close(trees)


def _listed_bytes(tree: HostTree) -> int:
    """The bytes of every file the tree lists, from its packed sizes (no entry made per file)."""
    listing = tree.listing()
    return sum(listing.sizes(0, len(listing)))


def _close(trees: list[HostTree]) -> None:
    for tree in trees:
        with contextlib.suppress(Exception):  # closing a damaged archive must not fail the host
            tree.close()


def close_opened(opened: dict[str, list[HostTree]] | None) -> None:
    """Close every tree ``host_jobs`` kept open."""
    while opened:
        _close(opened.popitem()[1])


def assess_one(path: str, index: int, spec: ContentSpec, options: dict[str, Any],
               progress: Progress | None = None, opened: list[HostTree] | None = None) -> HostResult:
    """One host's result; never raises (but on Ctrl-C): a fault gives a "could not assess" result.
    ``opened``: the trees of ``path`` already opened in this process (``host_jobs``), left open."""
    name, origin = _fallback_name(path, index), shown_name(path)
    try:
        trees = open_evidence(Path(path)) if opened is None else opened
    except EvidenceError as exc:
        return could_not_assess(name, origin, shown_name(str(exc)), code="unreadable")
    except Exception as exc:  # contained: this host only
        return could_not_assess(name, origin, f"cannot open the evidence: {type(exc).__name__}: "
                                f"{shown_name(str(exc))}", code="unreadable")
    try:
        if index >= len(trees):
            return could_not_assess(name, origin, "the evidence changed while it was scanned (host not found)")
        return _assess_tree(trees[index], spec, options, progress)
    finally:
        if opened is None:
            _close(trees)


def _assess_tree(tree: HostTree, spec: ContentSpec, options: dict[str, Any],
                 progress: Progress | None = None) -> HostResult:
    try:
        return assess_host(tree, lambda: compiled_content(spec), options, progress)
    except Exception as exc:  # contained: this host only
        return could_not_assess(tree.name, tree.origin, f"internal error while assessing: "
                                f"{type(exc).__name__}: {shown_name(str(exc))}", code="internal-error")


def shipped_tree(trees: list[HostTree] | None, index: int) -> bytes | None:
    """Host ``index`` of an evidence path holding several hosts, pickled for a worker process, so that the
    worker does not open and list the whole evidence (every host's files) to find its own: a folder of N
    hosts was listed N + 1 times. Only a tree that pickles whole is shipped (one host of a folder: its own
    listing, and the folder without its listing); anything else (a zip's open handle) gives None and the
    worker opens the evidence itself, as before."""
    if trees is None or len(trees) < 2 or index >= len(trees):
        return None
    try:
        return pickle.dumps(trees[index], protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # not picklable (an open archive): opened by the worker
        return None


def shippable(opened: dict[str, list[HostTree]]) -> dict[str, list[HostTree]]:
    """The opened evidence whose hosts can be shipped to workers (several hosts, trees that pickle); the
    rest is closed now, before the workers start (a zip of host zips holds a spooled file per host)."""
    kept: dict[str, list[HostTree]] = {}
    for path in list(opened):
        trees = opened[path]
        if shipped_tree(trees, 0) is not None:
            kept[path] = trees
        else:
            _close(opened.pop(path))
    return kept


def assess_shipped(blob: bytes, path: str, index: int, spec: ContentSpec, options: dict[str, Any]) -> HostResult:
    """``assess_one`` for a host whose tree the parent opened and pickled (``shipped_tree``); the same result
    as opening ``path`` here and taking host ``index``."""
    try:
        tree: HostTree = pickle.loads(blob)  # made by the parent process from the evidence's listing
    except Exception:  # cannot happen short of a bug: the evidence is opened here instead
        return assess_one(path, index, spec, options)
    try:
        return _assess_tree(tree, spec, options)
    finally:
        _close([tree])


def _worker_init(parent: int) -> None:
    """Workers die with their parent ``parent`` (``bind_to_parent``) and leave Ctrl-C to it. Ctrl-C is
    ignored last, so a worker seen ignoring SIGINT is already bound to its parent's life (the tests wait on
    that)."""
    bind_to_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _kill(pool: ProcessPoolExecutor) -> None:
    """Stop a pool now: queued work cancelled, running workers killed (not waited for)."""
    processes = list(getattr(pool, "_processes", {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(OSError, AttributeError):
            process.kill()
    for process in processes:
        process.join(timeout=5)


OnHost = Callable[[HostResult], None]


def assess_paths(paths: list[Path], spec: ContentSpec, options: dict[str, Any], jobs: int = 1,
                 progress: Progress | None = None, on_host: OnHost | None = None,
                 known: Mapping[tuple[str, str], HostResult] | None = None) -> list[HostResult]:
    """Every host of every path, in the order given (hosts in their stable order inside each path).

    ``known``: results already in hand (``--resume``), by ``HostJob.key``: those hosts are not assessed
    again and their results take their place. Raises ``FleetInterrupted`` on Ctrl-C."""
    opened: dict[str, list[HostTree]] | None = {} if len(paths) == 1 else None  # one evidence: listed once
    try:
        work = [job for path in paths for job in host_jobs(path, opened)]
        return run_jobs(work, spec, options, jobs, progress, on_host, known, opened)
    finally:
        close_opened(opened)


def run_jobs(work: list[HostJob], spec: ContentSpec, options: dict[str, Any], jobs: int = 1,
             progress: Progress | None = None, on_host: OnHost | None = None,
             known: Mapping[tuple[str, str], HostResult] | None = None,
             opened: dict[str, list[HostTree]] | None = None) -> list[HostResult]:
    """``opened``: trees already opened in this process, by evidence path (used when run here, closed
    at once when the hosts go to worker processes)."""
    results: list[HostResult | None] = [None] * len(work)
    todo: list[int] = []
    for number, job in enumerate(work):
        found = (known or {}).get(job.key)
        if found is not None:
            results[number] = found
        else:
            todo.append(number)
    if len(work) == 1 and todo and jobs > 1:  # one host: its log parsing and file sweep get the processes
        options = {**options, "yara_workers": jobs, "parse_workers": jobs}
    try:
        if jobs <= 1 or len(todo) <= 1:
            for number in todo:
                job = work[number]
                trees = (opened or {}).get(job.path)  # the hosts of one evidence path, opened and listed once
                _deliver(results, number, assess_one(job.path, job.index, spec, options, progress, trees), on_host)
        else:
            try:
                _run_pool(work, todo, results, spec, options, jobs, on_host, shippable(opened or {}))
            finally:
                close_opened(opened)
    except KeyboardInterrupt:
        raise FleetInterrupted([r for r in results if r is not None], len(work)) from None
    return [r for r in results if r is not None]


def _deliver(results: list[HostResult | None], number: int, result: HostResult, on_host: OnHost | None) -> None:
    """Hand a finished host on (the case store) and count it as finished, as one step that Ctrl-C cannot
    split: an interrupted scan then reports exactly the hosts its store holds."""
    with _sigint_held():
        results[number] = result
        if on_host:
            on_host(result)


@contextlib.contextmanager
def _sigint_held() -> Iterator[None]:
    """Ctrl-C held back for the duration (main thread) and raised, once, right after. A handler that only
    notes the signal, not a signal mask: the signal may land on any thread (the pool's manager thread too),
    and DuckDB would turn it into "Query interrupted" in the middle of a host's rows."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda number, _frame: pending.append(number))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if pending:
            raise KeyboardInterrupt


def prepare(spec: ContentSpec) -> None:
    """Made once in this process before a pool forks its workers, which inherit it instead of each making
    it on its first host: the content, and the data every host's assessment reads (the Exchange build
    table, the campaigns, the coverage expectations, the verdict weights, the known-benign catalogue,
    ~0.3 s together from YAML). Pure caches: what a host's result is does not change. A failure here is
    met again, and reported for each host, in the workers."""
    from exhunt.correlate.benign import catalogue
    from exhunt.correlate.coverage import expectations
    from exhunt.correlate.weigh import weights
    from exhunt.exposure import load_families, load_table

    for make in (lambda: compiled_content(spec), load_table, load_families, expectations, weights, catalogue):
        with contextlib.suppress(Exception):
            make()


def start_order(work: list[HostJob], todo: list[int]) -> list[int]:
    """The order hosts are handed to the pool: the largest first (bytes listed), ties in the given order."""
    return sorted(todo, key=lambda n: (-work[n].size, n))


def large_hosts(work: list[HostJob], todo: list[int], jobs: int) -> set[int]:
    """The hosts larger than an even share of the work (bytes listed over ``jobs``): each would still be
    running, alone, after the other workers have finished the rest, so each gets processes of its own for
    its logs and file sweep (``jobs`` divided among them, at least 2; the cores are shared while other hosts
    run; at the end, none is idle)."""
    if jobs <= 1 or len(todo) <= 1:
        return set()
    share = sum(work[n].size for n in todo) / jobs
    return {n for n in todo if work[n].size > share}


def _run_pool(work: list[HostJob], todo: list[int], results: list[HostResult | None], spec: ContentSpec,
              options: dict[str, Any], jobs: int, on_host: OnHost | None,
              opened: Mapping[str, list[HostTree]]) -> None:
    """At most ``jobs`` hosts in flight, the largest first (a large host started last would leave the other
    workers idle at the end; results keep the given order); the hosts of a dead worker's pool are run
    again, each alone."""
    queue = list(reversed(start_order(work, todo)))  # popped from the end
    large = large_hosts(work, todo, jobs)
    own = max(2, jobs // max(1, len(large)))  # several large hosts share the cores rather than each take all
    split = {**options, "yara_workers": own, "parse_workers": own}
    prepare(spec)
    retry: list[int] = []  # hosts that were running when a worker died
    alone = False  # second attempts run one at a time, so that a host that kills its worker is known
    while queue or retry:
        if not queue:
            queue, retry, alone = list(reversed(retry)), [], True
        pool = ProcessPoolExecutor(max_workers=1 if alone else jobs, initializer=_worker_init,
                                   initargs=(os.getpid(),))
        running: dict[Future[HostResult], int] = {}
        try:
            while queue or running:
                while queue and len(running) < (1 if alone else jobs):
                    number = queue.pop()
                    job = work[number]
                    blob = shipped_tree(opened.get(job.path), job.index)
                    given = split if number in large and not alone else options
                    running[pool.submit(assess_one, job.path, job.index, spec, given) if blob is None else
                            pool.submit(assess_shipped, blob, job.path, job.index, spec, given)] = number
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                broken = False
                for future in sorted(done, key=lambda f: running[f]):
                    number = running.pop(future)
                    try:
                        result = future.result()
                    except BrokenProcessPool:
                        broken = True
                        if alone:
                            job = work[number]
                            result = could_not_assess(job.host, job.origin, (
                                "the worker process assessing this host died twice (killed, or out of memory)"),
                                code="worker-died")
                        else:
                            retry.append(number)
                            continue
                    except Exception as exc:  # e.g. a result that could not be sent back
                        job = work[number]
                        result = could_not_assess(job.host, job.origin, f"internal error in the worker: "
                                                  f"{type(exc).__name__}: {exc}", code="internal-error")
                    _deliver(results, number, result, on_host)
                if broken:  # every other host in flight shared the dead pool: each is run again, alone
                    retry.extend(running.values())
                    running.clear()
                    break
        except BaseException:
            _kill(pool)
            raise
        if running:
            _kill(pool)
        else:
            pool.shutdown(wait=True)
