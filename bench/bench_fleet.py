"""A fleet of hosts on the local process pool and on a Dask cluster on the same cores, cold and warm; prints
every time and the ratios.

    for i in 1 2 3 4 5 6 7 8; do python bench/gen_logs.py /tmp/fleet/ex0$i --size-gb 0.015 --seed $i; done
    python bench/bench_fleet.py /tmp/fleet [--workers 2] [--repeat 3] [--cache warm|none|client]
    python bench/bench_fleet.py /tmp/fleet --cache client --repeat 3 --against /tmp/start-copy/src

Each round, alternately:

- **local cold**: a fresh Python process imports exhunt and runs ``assess_paths(jobs=--workers)``; its
  clock starts before exhunt is imported (nothing imported, nothing compiled: the workers it forks compile
  the content, as ``exhunt scan`` does).
- **local warm** ``-j 1`` and ``-j --workers``: in this process, content compiled beforehand (not timed);
  parallel efficiency = t1 / (n * tn).
- **dask cold**: a new scheduler and ``--workers`` single-threaded worker processes on 127.0.0.1 are
  started (not timed; exhunt is not imported in them), then ``assess_paths_dask`` is timed: every worker
  imports exhunt and gets the content. **dask warm**: the same, run again on the same workers.

``--cache warm`` (default, as ``exhunt scan`` runs): a compiled-content cache folder filled once before
the rounds, used by every run; ``--cache none``: no cache, every process compiles; ``--cache client``:
the client (and the local runs) have the filled cache folder, the Dask workers do not (a relative folder,
the workers started in another working directory), as on a cluster whose nodes do not share the
client's home. Results must equal
the local pool's (printed). The machine's load is printed: compare ratios taken in the same round.

CPU time is printed next to each wall time (user + system of every process that did the run's work: the
fresh process and the workers it waited for; this process and its pool's workers; the Dask workers'
processes, read in each worker before and after): on a shared machine a second worker may not get a core, which
changes the wall time of identical work but not its CPU time.

``--against SRC`` measures another exhunt source tree (a ``git archive`` copy of a reference commit, run
through ``PYTHONPATH``) and this one alternately: each round runs every phase once for SRC ("before"), then
for this tree ("after"), each in a process of its own, and prints both summaries, the ratios after/before
per phase and round, and whether both trees gave the same results.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

_COLD = """
import hashlib, json, sys, time
start = time.perf_counter()
from pathlib import Path
from exhunt.content.bundle import ContentSpec
from exhunt.fleet.local import assess_paths
fleet, jobs, cache = sys.argv[1], int(sys.argv[2]), sys.argv[3] or None
results = assess_paths([Path(fleet)], ContentSpec(cache_dir=cache), {}, jobs=jobs)
seconds = time.perf_counter() - start
digest = hashlib.sha256(json.dumps([r.to_dict() for r in results], sort_keys=True).encode()).hexdigest()
print(json.dumps({"seconds": seconds, "digest": digest}))
"""


def _digest(results: list[Any]) -> str:
    import hashlib

    return hashlib.sha256(json.dumps([r.to_dict() for r in results], sort_keys=True).encode()).hexdigest()


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _own_cpu() -> float:
    return _children_cpu() + time.process_time()


def _local_cold(fleet: Path, jobs: int, cache: str) -> tuple[float, str, float]:
    before = _children_cpu()
    out = subprocess.run([sys.executable, "-c", _COLD, str(fleet), str(jobs), cache], check=True,
                         capture_output=True, text=True).stdout
    found = json.loads(out.strip().splitlines()[-1])
    return float(found["seconds"]), str(found["digest"]), _children_cpu() - before


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("fleet", type=Path, help="a folder of hosts (one subfolder each)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1, help="rounds, each measuring every phase")
    parser.add_argument("--cache", choices=("warm", "none", "client"), default="warm")
    parser.add_argument("--no-dask", action="store_true", help="local runs only")
    parser.add_argument("--against", type=Path, help="another exhunt source tree (its src folder), measured "
                        "alternately with this one, round by round")
    parser.add_argument("--round-json", action="store_true", help=argparse.SUPPRESS)  # one child of --against
    args = parser.parse_args(argv)
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(__file__).resolve().parents[1] / "src")],
                   check=False)  # as pip install does: no module compiled inside a timed run
    args.fleet = args.fleet.resolve()
    if args.against is not None:
        return _alternate(args)
    with tempfile.TemporaryDirectory(prefix="exhunt-bench-fleet-") as tmp:
        cache = {"warm": str(Path(tmp) / "cache"), "none": "", "client": "content-cache"}[args.cache]
        if args.cache == "client":  # the client's working directory holds the cache, the workers' does not
            for name in ("client", "workers"):
                (Path(tmp) / name).mkdir()
            os.chdir(Path(tmp) / "client")
            _WORKERS_CWD.append(str(Path(tmp) / "workers"))
        return _measure(args, cache)


_WORKERS_CWD: list[str] = []


def _measure(args: argparse.Namespace, cache: str) -> int:
    from exhunt.content.bundle import ContentSpec
    from exhunt.fleet.local import assess_paths, compiled_content

    spec = ContentSpec(cache_dir=cache or None)
    compiled_content(spec)  # fills the cache folder (--cache warm); this process is warm from here
    paths = [args.fleet]
    reference = _digest(assess_paths(paths, spec, {}, jobs=1))
    n = args.workers
    times: dict[str, list[float]] = {}
    cpus: dict[str, list[float]] = {}
    same = True
    for round_number in range(1, args.repeat + 1):
        print(f"round {round_number} ({_load()})")
        row: dict[str, float] = {}
        cpu: dict[str, float] = {}
        row["local cold"], digest, cpu["local cold"] = _local_cold(args.fleet, n, cache)
        same &= digest == reference
        for name, jobs in (("local warm -j 1", 1), (f"local warm -j {n}", n)):
            start, used = time.perf_counter(), _own_cpu()
            results = assess_paths(paths, spec, {}, jobs=jobs)
            row[name], cpu[name] = time.perf_counter() - start, _own_cpu() - used
            same &= _digest(results) == reference
        if not args.no_dask:
            for name, (seconds, used) in _dask_round(paths, spec, n, reference).items():
                row[name], cpu[name] = seconds, used
        for name, seconds in row.items():
            times.setdefault(name, []).append(seconds)
            cpus.setdefault(name, []).append(cpu[name])
            print(f"  {name:<18} {seconds:7.2f} s  (CPU {cpu[name]:6.2f} s)")
    if args.round_json:
        print(json.dumps({"times": times, "cpus": cpus, "same": same and _SAME[0], "digest": reference}))
        return 0
    print(f"\nsummary over {args.repeat} round(s), {n} workers, cache {args.cache}; results identical to "
          f"local -j 1: {same and _SAME[0]}  ({_load()})")
    _summary(times, cpus)

    def ratio(a: str, b: str) -> str:
        pairs = [x / y for x, y in zip(times[a], times[b], strict=True)]
        spent = [x / y for x, y in zip(cpus[a], cpus[b], strict=True)]
        return (f"best {min(pairs):.2f}  median {statistics.median(pairs):.2f}; CPU best {min(spent):.2f}  median "
                f"{statistics.median(spent):.2f}")

    efficiency = [t1 / (n * tn) for t1, tn in zip(times["local warm -j 1"], times[f"local warm -j {n}"],
                                                   strict=True)]
    print(f"local parallel efficiency at {n} workers: best {max(efficiency):.2f}  median "
          f"{statistics.median(efficiency):.2f} (target >= 0.85)")
    if not args.no_dask:
        print(f"dask cold / local cold (same round): {ratio('dask cold', 'local cold')} (target <= 1.2)")
        print(f"dask warm / local warm -j {n} (same round): {ratio('dask warm', f'local warm -j {n}')} "
              f"(target <= 1.2)")
    return 0


_SAME = [True]


def _summary(times: dict[str, list[float]], cpus: dict[str, list[float]]) -> None:
    for name, values in times.items():
        print(f"  {name:<18} best {min(values):6.2f} s  median {statistics.median(values):6.2f} s   CPU best "
              f"{min(cpus[name]):6.2f} s  median {statistics.median(cpus[name]):6.2f} s")


def _alternate(args: argparse.Namespace) -> int:
    """``--against``: every round, the reference tree's run, then this tree's, each a child process."""
    trees = {"before": args.against.resolve(), "after": Path(__file__).resolve().parents[1] / "src"}
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(trees["before"])], check=False)
    command = [sys.executable, str(Path(__file__).resolve()), str(args.fleet), "--workers", str(args.workers),
               "--repeat", "1", "--cache", args.cache, "--round-json"] + (["--no-dask"] if args.no_dask else [])
    found: dict[str, dict[str, Any]] = {label: {"times": {}, "cpus": {}, "same": True, "digests": set()}
                                        for label in trees}
    for round_number in range(1, args.repeat + 1):
        for label, tree in trees.items():
            print(f"round {round_number}, {label} ({tree}; {_load()})", flush=True)
            env = {**os.environ, "PYTHONPATH": str(tree)}
            out = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
            result = json.loads(out.strip().splitlines()[-1])
            into = found[label]
            for kind in ("times", "cpus"):
                for name, values in result[kind].items():
                    into[kind].setdefault(name, []).extend(values)
            into["same"] &= result["same"]
            into["digests"].add(result["digest"])
            print("  " + "  ".join(f"{name} {result['times'][name][0]:.2f} s (CPU {result['cpus'][name][0]:.2f})"
                                   for name in result["times"]))
    for label in trees:
        print(f"\n{label}: {trees[label]} (results identical to its own -j 1: {found[label]['same']})")
        _summary(found[label]["times"], found[label]["cpus"])
        if "dask cold" in found[label]["times"]:
            pairs = [x / y for x, y in zip(found[label]["times"]["dask cold"], found[label]["times"]["local cold"],
                                           strict=True)]
            print(f"  dask cold / local cold per round: best {min(pairs):.2f}  median {statistics.median(pairs):.2f}")
    print(f"\nafter / before, per round (wall; CPU), {args.repeat} round(s), cache {args.cache} ({_load()}):")
    for name in found["after"]["times"]:
        walls = [a / b for a, b in zip(found["after"]["times"][name], found["before"]["times"][name], strict=True)]
        spent = [a / b for a, b in zip(found["after"]["cpus"][name], found["before"]["cpus"][name], strict=True)]
        print(f"  {name:<18} median {statistics.median(walls):.2f} (best {min(walls):.2f}); CPU median "
              f"{statistics.median(spent):.2f}")
    same = found["before"]["digests"] == found["after"]["digests"] and len(found["after"]["digests"]) == 1
    print(f"both trees gave the same results: {same}")
    return 0


def _process_cpu() -> float:  # run in a Dask worker: its process's CPU so far (every thread)
    return time.process_time()


def _dask_round(paths: list[Path], spec: Any, workers: int, reference: str) -> dict[str, tuple[float, float]]:
    from distributed import Client, LocalCluster

    from exhunt.fleet.dask import assess_paths_dask

    row: dict[str, tuple[float, float]] = {}
    home = os.getcwd()
    os.chdir(tempfile.mkdtemp(dir=_WORKERS_CWD[0]) if _WORKERS_CWD else home)  # a new one each round
    try:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None)
        with Client(cluster) as client:
            client.wait_for_workers(workers)
    finally:
        os.chdir(home)
    with cluster, Client(cluster) as probe:
        for name in ("dask cold", "dask warm"):
            before = probe.run(_process_cpu)
            start, used = time.perf_counter(), time.process_time()
            results = assess_paths_dask(paths, spec, {}, cluster.scheduler_address)
            seconds, used = time.perf_counter() - start, time.process_time() - used
            after = probe.run(_process_cpu)
            row[name] = (seconds, used + sum(after[w] - before[w] for w in after))
            _SAME[0] &= _digest(results) == reference
    return row


if __name__ == "__main__":
    sys.exit(main())
