"""Time exhunt's log reading against ripgrep searching the same files for the same literals.

    python bench/gen_logs.py bench/out/host1 --size-gb 1.0
    python bench/bench_scan.py bench/out/host1 [--mode parser|cli|both] [--literals content|list]

* ``parser`` mode times a driver that runs the text-log parsers (W3CParser, OabParser) with the prefilter
  over every log file of the host, the way the engine does, yielding the candidate records.
* ``cli`` mode times the whole product: ``exhunt scan HOST --format jsonl -o /dev/null``.
* The reference is ``rg -i -c -F -f literals.txt FILES`` (default threads, and ``-j1``) over the same
  files, with the literals exhunt's prefilter scans for (the rule literals cut to their raw-safe part).

Literals come from the loaded detection content (``--literals content``: the union of what every detector
says it needs per log kind), or from the fixed list below (``--literals list``). Every command runs once
after a warm-up read, so all timings are from the page cache. Prints MB/s, the ratio to ripgrep and the
peak RSS of each child process (``os.wait4``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.parsers.base import ParseReport
from exhunt.parsers.oab import OabParser
from exhunt.parsers.prefilter import build_prefilter, hyperscan_available, prepare_literals
from exhunt.parsers.w3c import W3CParser
from exhunt.sources.classify import classify
from exhunt.sources.directory import DirectoryTree

# Used with --literals list (and when the content cannot be loaded): indicators the Exchange rules need.
FIXED_LITERALS = ("ServerInfo~", "/owa/auth/x.js", "/ecp/y.js", "autodiscover.json", "X-BEResource",
                  "X-AnonResource-Backend", "OabVirtualDirectory", "proxyLogon.ecp", "/mapi/nspi",
                  "powershell")
PARSERS = {kind: parser for parser in (W3CParser(), OabParser()) for kind in parser.kinds}


def log_artifacts(root: Path) -> list[Artifact]:
    tree = DirectoryTree(root)
    return [a for a in classify(tree, None).artifacts if a.kind in PARSERS]


def content_literals(kinds: set[ArtifactKind]) -> dict[str, list[str] | None]:
    """Per kind: the union of the literals every interested detector needs (None: every record)."""
    from exhunt.content.bundle import ContentBundle, ContentSpec
    from exhunt.detectors.registry import create_detectors, load_content

    bundle = load_content(ContentBundle(ContentSpec()))
    detectors = create_detectors(bundle, {})
    out: dict[str, list[str] | None] = {}
    for kind in sorted(kinds):
        literals: set[str] | None = set()
        for detector in detectors:
            interest = detector.interest(kind)
            if interest is None:
                continue
            if interest.literals is None or literals is None:
                literals = None
                continue
            literals |= interest.literals
        out[kind.value] = None if literals is None else sorted(literals)
    return out


def drive(root: Path, literal_file: Path) -> dict[str, Any]:
    """The parser-mode work: every log through its parser with the prefilter. Runs in a child process."""
    per_kind: dict[str, list[str] | None] = json.loads(literal_file.read_text())
    tree = DirectoryTree(root)
    yielded = records = size = warnings = 0
    prefilters = {}
    for kind, literals in per_kind.items():
        prefilters[kind] = None if literals is None else build_prefilter(literals)
    for artifact in log_artifacts(root):
        report = ParseReport(artifact.path)
        for _record in PARSERS[artifact.kind].parse(tree, artifact, report, prefilters.get(artifact.kind.value)):
            yielded += 1
        records += report.records
        size += artifact.size
        warnings += len(report.warnings)
    return {"records": records, "yielded": yielded, "bytes": size, "warnings": warnings}


@dataclass
class Run:
    wall: float  # seconds
    cpu: float  # user + system seconds of the child (all its threads)
    rss: int  # peak resident set, KiB
    code: int
    output: bytes

    def line(self, name: str, size: int, reference: Run | None = None) -> str:
        text = (f"{name:13s}: {self.wall:6.2f} s wall {rate(size, self.wall):7.1f} MB/s | {self.cpu:6.2f} s CPU "
                f"{rate(size, self.cpu):7.1f} MB/s | peak RSS {self.rss / 1024:6.1f} MiB")
        if reference is not None:
            text += (f" | vs rg: {reference.wall / self.wall:.2f}x wall, "
                     f"{reference.cpu / self.cpu:.2f}x CPU")
        return text


TIME = Path("/usr/bin/time")


def timed(command: list[str], capture: bool = False, env: dict[str, str] | None = None) -> Run:
    """Wall time, CPU time, peak RSS, exit status and stdout of one child process.

    The peak RSS comes from ``/usr/bin/time`` when it exists: a child's own ``ru_maxrss`` also counts the
    pages it shared with this (large) Python process between fork and exec.
    """
    with tempfile.NamedTemporaryFile("r", suffix=".time") as stats:
        wrapped = [str(TIME), "-f", "%M", "-o", stats.name, *command] if TIME.exists() else command
        started = time.perf_counter()
        child = subprocess.Popen(wrapped, stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, env=env)
        output = child.stdout.read() if child.stdout is not None else b""
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - started
        lines = stats.read().split()
        peak = int(lines[-1]) if TIME.exists() and lines and lines[-1].isdigit() else usage.ru_maxrss
    return Run(elapsed, usage.ru_utime + usage.ru_stime, peak, os.waitstatus_to_exitcode(status), output)


def warm(paths: list[Path]) -> None:
    for path in paths:
        with path.open("rb") as handle:
            while handle.read(16 << 20):
                pass


def bytecode() -> None:
    """Compile exhunt's modules to bytecode first, as ``pip install`` does: an editable install run with
    PYTHONDONTWRITEBYTECODE set (as on some CI machines) would otherwise recompile every module in every
    timed run (~0.2 s), which an installed exhunt never does."""
    import compileall

    import exhunt

    package = Path(exhunt.__file__).parent
    ok = compileall.compile_dir(str(package), quiet=1)
    print(f"bytecode for {package}: {'ready' if ok else 'could not be written everywhere'}")


def rate(size: int, seconds: float) -> float:
    return size / (1 << 20) / seconds if seconds > 0 else float("inf")


def main() -> None:
    args = argparse.ArgumentParser(description="exhunt log scanning vs ripgrep")
    args.add_argument("corpus", type=Path, help="a host folder (e.g. made by bench/gen_logs.py)")
    args.add_argument("--mode", choices=("parser", "cli", "both"), default="both")
    args.add_argument("--literals", choices=("content", "list"), default="content")
    args.add_argument("--repeat", type=int, default=5,
                      help="rounds of (ripgrep, exhunt scan), alternating; best and median are reported")
    args.add_argument("--per-literal", action="store_true",
                      help="also count the lines each literal selects, per log kind (one rg run per literal)")
    args.add_argument("--gate-share", action="store_true",
                      help="only say which share of each kind's records pass the engine's literal gate (the "
                           "records the parse workers send back and the detectors judge), then stop")
    args.add_argument("--against", type=Path, metavar="SRC",
                      help="also time, in every round, `exhunt scan` run from another exhunt's source folder "
                           "(PYTHONPATH=SRC, e.g. `git archive main | tar -x -C /tmp/main` gives /tmp/main/src), "
                           "alternating which of the two goes first; wall and CPU of both are summarised")
    args.add_argument("--driver", type=Path, help=argparse.SUPPRESS)  # internal: run the parser driver
    options = args.parse_args()
    if options.driver is not None:
        print(json.dumps(drive(options.corpus, options.driver)))
        return
    if options.gate_share:
        gate_share(options.corpus.resolve())
        return

    root = options.corpus.resolve()
    artifacts = log_artifacts(root)
    files = [root / a.path for a in artifacts]
    total = sum(a.size for a in artifacts)
    kinds = {a.kind for a in artifacts}
    print(f"corpus: {root}: {len(files)} log files, {total / (1 << 20):.0f} MiB "
          f"({', '.join(sorted(k.value for k in kinds))}); hyperscan: {hyperscan_available()}")
    source = "list"
    per_kind: dict[str, list[str] | None] = {k.value: list(FIXED_LITERALS) for k in kinds}
    if options.literals == "content":
        try:
            per_kind = content_literals(kinds)
            source = "shipped detection content"
        except Exception as exc:  # the bench reports and goes on with the fixed list
            print(f"content could not be loaded ({exc}); using the fixed literal list")
    union: set[str] = set()
    for kind, literals in sorted(per_kind.items()):
        shown = "every record (a rule needs all)" if literals is None else f"{len(literals)} literals"
        print(f"  {kind}: {shown}")
        union |= set(literals or ())
    prepared = prepare_literals(union) or []
    print(f"literals from {source}: {len(union)}, {len(prepared)} after cutting to raw-safe segments")

    bytecode()
    with tempfile.TemporaryDirectory() as scratch:
        literal_file = Path(scratch) / "literals.txt"
        literal_file.write_bytes(b"".join(lit + b"\n" for lit in prepared))
        kinds_file = Path(scratch) / "kinds.json"
        kinds_file.write_text(json.dumps(per_kind))
        warm(files)
        rg = ["rg", "-i", "-c", "-F", "-f", str(literal_file), "--no-ignore", "--no-messages", "--",
              *map(str, files)]
        print(timed([rg[0], "-j1", *rg[1:]]).line("rg -i -F -j1", total))
        exhunt = Path(sys.executable).with_name("exhunt")
        scan = [str(exhunt), "scan", str(root), "--format", "jsonl", "-o", os.devnull, "--no-progress"]
        with tempfile.TemporaryDirectory() as cache:  # a cache of its own, filled by one untimed run
            env = {**os.environ, "EXHUNT_CACHE_DIR": cache}
            if options.mode in ("cli", "both"):
                subprocess.run(scan, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
                if options.against is not None:
                    subprocess.run(scan, env=_against(env, options.against), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, check=False)
            rounds(options, rg, scan, env, kinds_file, root, total)

    if options.per_literal:
        selective(root, artifacts, per_kind)
    print("targets: exhunt >= 0.5x ripgrep's throughput, peak RSS < 300 MiB")


def rounds(options: argparse.Namespace, rg: list[str], scan: list[str], env: dict[str, str], kinds_file: Path,
           root: Path, total: int) -> None:
    """``--repeat`` rounds of (ripgrep, exhunt ...) alternating, so that a slow spell of the machine hits both.

    ``exhunt scan`` runs twice a round: as a user's second and later scans run, with the compiled rules in
    the content cache, and with ``--no-cache`` (compiling them, as a first scan does)."""
    driver = [sys.executable, __file__, str(root), "--driver", str(kinds_file)]
    runs: dict[str, list[Run]] = {"rg": [], "parser": [], "cli": [], "cli-cold": [], "against": []}
    for number in range(max(1, options.repeat)):
        reference = timed(rg)
        runs["rg"].append(reference)
        print(reference.line("rg -i -F", total))
        if options.mode in ("parser", "both"):
            run = timed(driver, capture=True)
            runs["parser"].append(run)
            summary = json.loads(run.output) if run.code == 0 else {"exit code": run.code}
            print(run.line("exhunt parser", total, reference) + f"\n               {summary}")
        if options.mode in ("cli", "both"):
            plan = [("cli", scan, env), ("cli-cold", [*scan, "--no-cache"], env)]
            if options.against is not None:
                other = ("against", scan, _against(env, options.against))
                plan = [other, *plan] if number % 2 else [*plan, other]
            for name, command, environment in plan:
                run = timed(command, env=environment)
                runs[name].append(run)
                label = {"cli": "exhunt scan", "cli-cold": "  --no-cache", "against": "  --against"}[name]
                print(run.line(label, total, reference) + f"\n               exit code {run.code}")
    summarise(runs, total)


def _against(env: dict[str, str], source: Path) -> dict[str, str]:
    """The environment that runs the other exhunt: its sources first on the path; the same content cache
    folder (its entries are keyed by exhunt's version: the two never share one)."""
    return {**env, "PYTHONPATH": str(source.resolve())}


def summarise(runs: dict[str, list[Run]], total: int) -> None:
    """Best and median of each, and the ratios of the bests and of the medians (throughput, vs ripgrep)."""
    rg_walls = sorted(r.wall for r in runs["rg"])
    rg_best, rg_median = rg_walls[0], statistics.median(rg_walls)
    print(f"over {len(rg_walls)} rounds: rg best {rg_best:.2f} s ({rate(total, rg_best):.0f} MB/s), "
          f"median {rg_median:.2f} s")
    for name, label in (("parser", "exhunt parser"), ("cli", "exhunt scan (rules cached)"),
                        ("cli-cold", "exhunt scan --no-cache"), ("against", "--against (rules cached)")):
        if not runs[name]:
            continue
        walls = sorted(r.wall for r in runs[name])
        best, median = walls[0], statistics.median(walls)
        cpus = sorted(r.cpu for r in runs[name])
        peak = max(r.rss for r in runs[name]) / 1024
        print(f"{label}: best {best:.2f} s ({rate(total, best):.0f} MB/s), median {median:.2f} s; "
              f"ratio vs rg: best {rg_best / best:.2f}x, median {rg_median / median:.2f}x; "
              f"CPU best {cpus[0]:.2f} s, median {statistics.median(cpus):.2f} s; peak RSS {peak:.0f} MiB")


def selective(root: Path, artifacts: list[Artifact], per_kind: dict[str, list[str] | None]) -> None:
    """How many lines each literal makes the parsers parse: the literals that cost the most come first."""
    for kind, literals in sorted(per_kind.items()):
        files = [str(root / a.path) for a in artifacts if a.kind.value == kind]
        counts = []
        for literal in prepare_literals(literals or []) or []:
            found = subprocess.run(["rg", "-i", "-c", "-F", "--no-filename", "-e", literal.decode(), "--", *files],
                                   capture_output=True, text=True, check=False).stdout.split()
            counts.append((sum(int(n) for n in found), literal.decode()))
        busiest = ", ".join(f"{lit!r}: {n}" for n, lit in sorted(counts, reverse=True)[:6] if n)
        print(f"  lines selected in {kind} logs, busiest literals: {busiest or 'none'}")


def gate_share(root: Path) -> None:
    """Per log kind: records that pass the gate the engine builds (every interested detector's literals and
    conjunctions, ``engine._prefilter_spec``) out of all records read, and of those the records still made
    once the column gate judged the candidate lines on their columns (``parsers/columns.py``). Those are
    parsed into records, judged by the detectors' filters in the parse workers: the share sets how far a
    scan can follow rg."""
    from collections import Counter

    from exhunt.content.bundle import ContentBundle, ContentSpec
    from exhunt.detectors.base import HostContext
    from exhunt.detectors.registry import create_detectors, load_content
    from exhunt.engine import _prefilter_spec
    from exhunt.model.coverage import HostCoverage
    from exhunt.parsers.pool import PrefilterSpec, parse_all

    tree = DirectoryTree(root)
    layout = classify(tree, None)
    detectors = create_detectors(load_content(ContentBundle(ContentSpec())), {})
    context = HostContext(host=tree.name, tree=tree, artifacts=layout.artifacts, coverage=HostCoverage(),
                          exchange_root=layout.exchange_root)
    for detector in detectors:
        detector.start(context)  # interests may depend on the host (e.g. its web folders' files)
    specs: dict[ArtifactKind, tuple[PrefilterSpec, PrefilterSpec]] = {}
    passed: Counter[str] = Counter()
    made: Counter[str] = Counter()
    read: Counter[str] = Counter()
    for artifact in log_artifacts(root):
        pair = specs.get(artifact.kind)
        parser = PARSERS[artifact.kind]
        if pair is None:
            interests = [i for d in detectors if (i := d.interest(artifact.kind)) is not None]
            pair = specs[artifact.kind] = (_prefilter_spec(interests), _prefilter_spec(interests, parser.columns))
        report = ParseReport(artifact.path)
        passed[artifact.kind.value] += sum(1 for _ in parse_all(parser, tree, artifact, report, pair[0]))
        read[artifact.kind.value] += report.records
        made[artifact.kind.value] += sum(1 for _ in parse_all(parser, tree, artifact, ParseReport(artifact.path),
                                                             pair[1]))
    for kind in sorted(read):
        print(f"{kind}: {passed[kind]:,} of {read[kind]:,} records pass the gate "
              f"({100 * passed[kind] / max(read[kind], 1):.2f} %); {made[kind]:,} made into records after the "
              f"column gate ({100 * made[kind] / max(read[kind], 1):.2f} %)")
    total = max(sum(read.values()), 1)
    print(f"all: {sum(passed.values()):,} of {sum(read.values()):,} ({100 * sum(passed.values()) / total:.2f} %); "
          f"made into records: {sum(made.values()):,} ({100 * sum(made.values()) / total:.2f} %)")


if __name__ == "__main__":
    main()
