"""Sweep a tree with exhunt's YARA-X detector and with the `yara` command-line tool; print the ratio.

    python bench/gen_tree.py /tmp/exhunt-bench --files 50000 --size-gb 2
    python bench/bench_yara.py /tmp/exhunt-bench [--workers 2] [--scan 3]

Both tools get the whole tree (`yara -r -p N`; gen_tree.py writes only files exhunt's sweep selects, and
the script says so if that is not the case) with the same shipped rules (kept compatible with classic
YARA; the externals are defined for both), on the same number of cores, after one untimed pass that
brings the files into the page cache. Both times are end to end: listing the tree, choosing the files,
scanning (exhunt: a process pool with one scanner per worker) and, for exhunt, hashing the files that
matched. Peak RSS is that of the largest single process.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from exhunt.content.bundle import RULES_DIR, ContentBundle, ContentSpec
from exhunt.detectors.base import HostContext
from exhunt.detectors.yara import family
from exhunt.detectors.yara.compiler import EXTERNALS
from exhunt.detectors.yara.detector import YaraDetector
from exhunt.detectors.yara.sweep import select
from exhunt.model.coverage import HostCoverage
from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.sources.directory import DirectoryTree


def rss_mb(kb: int) -> float:
    return kb / 1024


def run_exhunt(tree_dir: Path, workers: int, hash_all: bool = False) -> dict[str, float]:
    start = time.perf_counter()
    bundle = ContentBundle(ContentSpec())
    family.load(bundle)
    compiled_at = time.perf_counter()
    tree = DirectoryTree(tree_dir, name="bench")
    artifacts = [Artifact(ArtifactKind.FILE, e.path, e.size, e.mtime) for e in tree.walk()]
    ctx = HostContext("bench", tree, artifacts, HostCoverage(),
                      options={"yara_workers": workers, "yara_hash_all": hash_all})
    detector = family.create(bundle, ctx.options)
    assert isinstance(detector, YaraDetector)
    detector.start(ctx)
    findings = detector.finish(ctx)
    end = time.perf_counter()
    cover = ctx.coverage.sources["yara_sweep"]
    return {"seconds": end - start, "compile_seconds": compiled_at - start, "files": cover.files,
            "bytes": cover.bytes, "matches": len(findings), "warnings": len(ctx.coverage.warnings),
            "rss_main_mb": rss_mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss),
            "rss_workers_mb": rss_mb(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)}


def selected_files(tree_dir: Path) -> tuple[list[str], int, int]:
    tree = DirectoryTree(tree_dir, name="bench")
    chosen, size, total = [], 0, 0
    for entry in tree.walk():
        total += 1
        if select(entry.path, tree)[0]:
            chosen.append(str(tree_dir / entry.path))
            size += entry.size
    return chosen, size, total


def warm(paths: list[str]) -> float:
    start = time.perf_counter()
    for path in paths:
        with open(path, "rb") as handle:
            while handle.read(1 << 22):
                pass
    return time.perf_counter() - start


def run_yara(tree_dir: Path, workers: int) -> dict[str, float]:
    rule_files = sorted(str(p) for p in (RULES_DIR / "yara").glob("*.yar"))
    defines = [a for name in EXTERNALS for a in ("-d", f"{name}=")]
    command = ["yara", "-w", "-r", "-p", str(workers), *defines, *rule_files, str(tree_dir)]
    with tempfile.TemporaryFile() as errors:
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors)
        assert proc.stdout is not None
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)  # reap it ourselves: its own rusage (peak RSS)
        proc.returncode = os.waitstatus_to_exitcode(status)
        end = time.perf_counter()
        errors.seek(0)
        err = errors.read()
    if proc.returncode != 0 or err.strip():
        print(f"yara said: {err.decode(errors='replace')[:500]}", file=sys.stderr)
    matches = len({tuple(line.split(b" ", 1)) for line in out.splitlines() if b" " in line})
    maxrss = usage.ru_maxrss
    return {"seconds": end - start, "matches": matches, "rss_mb": rss_mb(maxrss), "status": proc.returncode}


def run_scan(tree_dir: Path, workers: int) -> dict[str, float]:
    """The whole ``exhunt scan`` of the tree as a user runs it (listing, every detector, correlation, JSONL)."""
    exe = shutil.which("exhunt") or "exhunt"
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "out.jsonl"
        command = [exe, "scan", str(tree_dir), "-j", str(workers), "-f", "jsonl", "-o", str(out),
                   "--no-progress", "-q"]
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        end = time.perf_counter()
        findings = sum(1 for line in out.open("rb") if b'"type":"finding"' in line) if out.exists() else 0
    return {"seconds": end - start, "cpu": usage.ru_utime + usage.ru_stime, "findings": findings,
            "status": os.waitstatus_to_exitcode(status)}


def compare_scans(tree_dir: Path, workers: int, rounds: int) -> None:
    """Alternate yara and the whole ``exhunt scan``, ``rounds`` times each; best and median ratios."""
    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(rounds):
        ya = run_yara(tree_dir, workers)
        ex = run_scan(tree_dir, workers)
        theirs.append(ya["seconds"])
        ours.append(ex["seconds"])
        print(f"  yara {ya['seconds']:6.2f} s | exhunt scan {ex['seconds']:6.2f} s wall, {ex['cpu']:6.2f} s CPU, "
              f"exit {ex['status']:.0f}, {ex['findings']:.0f} findings")
    best = min(theirs) / min(ours)
    median = statistics.median(theirs) / statistics.median(ours)
    print(f"whole exhunt scan vs yara -r -p {workers}, {rounds} rounds: best {min(ours):.2f} s vs {min(theirs):.2f} s "
          f"= {best:.2f}x, median {median:.2f}x (target >= 0.5x)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tree", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--hash", action="store_true",
                        help="also time exhunt hashing every file (MD5/SHA-1/SHA-256) during the sweep, as it "
                             "does when hash indicators are loaded")
    parser.add_argument("--scan", type=int, default=0, metavar="ROUNDS",
                        help="also time the whole `exhunt scan` of the tree (every detector, correlation, JSONL) "
                             "against yara, alternating, ROUNDS times each")
    args = parser.parse_args(argv)
    if shutil.which("yara") is None:
        parser.error("the yara command-line tool is not installed (Debian package 'yara')")
    paths, size, total = selected_files(args.tree)
    mib = size / (1 << 20)
    print(f"tree {args.tree}: {total} files, {len(paths)} selected by the sweep, {mib:.0f} MiB")
    if len(paths) != total:
        print("note: yara -r scans every file of the tree; exhunt only the selected ones", file=sys.stderr)
    print(f"warm-up read (page cache): {warm(paths):.1f} s")
    ex = run_exhunt(args.tree, args.workers)
    ya = run_yara(args.tree, args.workers)
    for name, seconds in (("exhunt (yara-x)", ex["seconds"]), ("yara " + yara_version(), ya["seconds"])):
        print(f"{name:<22} {seconds:7.2f} s  {len(paths) / seconds:9.0f} files/s  {mib / seconds:8.1f} MiB/s")
    print(f"exhunt: compile {ex['compile_seconds']:.2f} s, {ex['files']} files scanned, {ex['matches']} findings, "
          f"{ex['warnings']} warnings, peak RSS main {ex['rss_main_mb']:.0f} MiB / "
          f"worker {ex['rss_workers_mb']:.0f} MiB")
    print(f"yara:   {ya['matches']} (rule, file) matches, peak RSS {ya['rss_mb']:.0f} MiB")
    print(f"throughput ratio exhunt/yara: {ya['seconds'] / ex['seconds']:.2f} (target >= 0.80)")
    if args.hash:
        hx = run_exhunt(args.tree, args.workers, hash_all=True)
        print(f"exhunt + MD5/SHA-1/SHA-256 of every file: {hx['seconds']:.2f} s, "
              f"{len(paths) / hx['seconds']:.0f} files/s, {mib / hx['seconds']:.1f} MiB/s "
              f"(ratio to yara without hashing {ya['seconds'] / hx['seconds']:.2f})")
    if args.scan:
        compare_scans(args.tree, args.workers, args.scan)
    return 0


def yara_version() -> str:
    return subprocess.run(["yara", "--version"], capture_output=True, text=True, check=False).stdout.strip()


if __name__ == "__main__":
    sys.exit(main())
