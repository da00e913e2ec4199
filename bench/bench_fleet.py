"""A fleet of hosts on the local process pool and on a Dask cluster on the same cores; prints both and the ratio.

    for i in 1 2 3 4 5 6 7 8; do python bench/gen_logs.py /tmp/fleet/ex0$i --size-gb 0.015 --seed $i; done
    python bench/bench_fleet.py /tmp/fleet [--workers 2]

The local runs are ``assess_paths`` with ``jobs`` 1 and ``--workers`` (parallel efficiency = t1 / (n * tn)).
The Dask run starts its own scheduler and ``--workers`` single-threaded worker processes on 127.0.0.1
(not timed), then times ``assess_paths_dask`` against it, twice (the first run includes each worker's
content compile, as the local pool's run does). Results must equal the local pool's.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from exhunt.content.bundle import ContentSpec
from exhunt.fleet.dask import assess_paths_dask
from exhunt.fleet.local import assess_paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("fleet", type=Path, help="a folder of hosts (one subfolder each)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    spec = ContentSpec()
    paths = [args.fleet]
    timings: dict[str, float] = {}
    outputs = {}
    for name, jobs in (("local -j 1", 1), (f"local -j {args.workers}", args.workers)):
        start = time.perf_counter()
        outputs[name] = [r.to_dict() for r in assess_paths(paths, spec, {}, jobs=jobs)]
        timings[name] = time.perf_counter() - start
        print(f"{name:<22} {timings[name]:7.2f} s")
    efficiency = timings["local -j 1"] / (args.workers * timings[f"local -j {args.workers}"])
    print(f"local parallel efficiency at {args.workers} workers: {efficiency:.2f} (target >= 0.85)")
    try:
        from distributed import LocalCluster
    except ImportError:
        print("distributed is not installed: Dask not measured")
        return 0
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        for run in (1, 2):
            start = time.perf_counter()
            results = assess_paths_dask(paths, spec, {}, cluster.scheduler_address)
            seconds = time.perf_counter() - start
            same = [r.to_dict() for r in results] == outputs[f"local -j {args.workers}"]
            print(f"dask run {run} ({args.workers} workers) {seconds:7.2f} s  same results: {same}  "
                  f"vs local pool: {seconds / timings[f'local -j {args.workers}']:.2f}x (target <= 1.2x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
