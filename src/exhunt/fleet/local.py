"""Run assess_host over every host of every evidence path, in this process or a local process pool.

Only plain data crosses process boundaries: (evidence path, host index, content spec, options) in,
HostResult out. Each worker process compiles the content once and reuses it.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any

from exhunt.content.bundle import ContentBundle, ContentSpec
from exhunt.detectors.registry import load_content
from exhunt.engine import Progress, assess_host
from exhunt.model.result import HostResult
from exhunt.sources.registry import open_evidence


@cache
def compiled_content(spec: ContentSpec) -> ContentBundle:
    """Content compiled once per process."""
    return load_content(ContentBundle(spec))


def host_count(path: Path) -> int:
    trees = open_evidence(path)
    for tree in trees:
        tree.close()
    return len(trees)


def assess_one(path: str, index: int, spec: ContentSpec, options: dict[str, Any],
               progress: Progress | None = None) -> HostResult:
    trees = open_evidence(Path(path))
    try:
        return assess_host(trees[index], lambda: compiled_content(spec), options, progress)
    finally:
        for tree in trees:
            tree.close()


def assess_paths(paths: list[Path], spec: ContentSpec, options: dict[str, Any], jobs: int = 1,
                 progress: Progress | None = None,
                 on_host: Callable[[HostResult], None] | None = None) -> list[HostResult]:
    """Every host of every path, in the order given (hosts in their stable order inside each path)."""
    work = [(str(path), index) for path in paths for index in range(host_count(path))]
    results: list[HostResult] = []
    if len(work) == 1 and jobs > 1:  # one host: its log parsing and file sweep get the processes instead
        options = {**options, "yara_workers": jobs, "parse_workers": jobs}
    if jobs <= 1 or len(work) <= 1:
        for path, index in work:
            result = assess_one(path, index, spec, options, progress)
            results.append(result)
            if on_host:
                on_host(result)
        return results
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(assess_one, path, index, spec, options) for path, index in work]
        for future in futures:
            result = future.result()
            results.append(result)
            if on_host:
                on_host(result)
    return results
