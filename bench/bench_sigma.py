"""Sigma evaluation cost: exhunt's EVTX parser alone vs parser + every SigmaHQ Windows rule.

Reads the readable EVTX samples of ``../shared/corpus/evtx`` ``--repeat`` times (page cache warm) and
measures, in this process, after compiling the rules once (compile time printed apart):

  p) ``EvtxParser`` yielding records (fields flattened), nothing else
  b) the same plus ``SigmaDetector.on_record`` for every record and ``finish()``

(alternating the phases ``--rounds`` times, best CPU time of each kept: the host is shared) and prints
events/s and the ratio b/p (target >= 0.5: evaluating all SigmaHQ Windows rules costs at most as much
as parsing). ``finish()`` (grouping, hashing the cited files) runs once per host and is timed apart.
Also prints candidate rules per record (what the literal index lets through).

    python bench/bench_sigma.py --repeat 3 --rounds 3 [--rules ../shared/corpus/sigmahq/rules/windows]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from exhunt.detectors.base import HostContext
from exhunt.detectors.sigma.detector import SigmaDetector
from exhunt.detectors.sigma.family import SigmaContent, shipped_sources
from exhunt.detectors.sigma.view import EventView
from exhunt.model.coverage import HostCoverage
from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.parsers.base import ParseReport
from exhunt.parsers.evtx import EvtxParser
from exhunt.sources.directory import DirectoryTree

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
DAMAGED = ("bad_chunk", "no_crc32", "bad_string_cache", "zero-data-size")


def samples() -> list[Path]:
    return sorted(p for p in (CORPUS / "evtx").rglob("*.evtx") if not any(d in p.name for d in DAMAGED))


def run(files: list[Path], repeat: int, detector: SigmaDetector | None) -> tuple[int, float, float]:
    """(events, CPU seconds reading and evaluating, CPU seconds in ``finish``)."""
    parser, events = EvtxParser(), 0
    tree = DirectoryTree(files[0].parents[1])
    ctx = HostContext("bench", tree, [], HostCoverage())
    start = time.process_time()
    for _ in range(repeat):
        for path in files:
            rel = path.relative_to(files[0].parents[1]).as_posix()
            artifact = Artifact(ArtifactKind.EVTX, rel, path.stat().st_size)
            for record in parser.parse(tree, artifact, ParseReport(rel)):
                events += 1
                if detector is not None:
                    detector.on_record(record, ctx)
    reading = time.process_time() - start
    start = time.process_time()
    if detector is not None:
        detector.finish(ctx)
    return events, reading, time.process_time() - start


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--repeat", type=int, default=3)
    args.add_argument("--rounds", type=int, default=3)
    args.add_argument("--rules", default=str(CORPUS / "sigmahq" / "rules" / "windows"))
    opts = args.parse_args()
    files = samples()
    if not files:
        raise SystemExit(f"no EVTX samples under {CORPUS / 'evtx'}")
    start = time.perf_counter()
    content = SigmaContent([*shipped_sources(), (opts.rules, None)])
    compile_s = time.perf_counter() - start
    print(f"rules: {len(content.result.rules)} evaluable, {len(content.result.unsupported)} unsupported, "
          f"{len(content.result.errors)} load errors; compiled in {compile_s:.1f} s")
    run(files, 1, SigmaDetector(content))  # warm-up: page cache, route buckets, Hyperscan databases
    t_p = t_b = t_f = float("inf")
    for _ in range(opts.rounds):  # alternate the phases and keep each one's best CPU time
        n_p, took, _ = run(files, opts.repeat, None)
        t_p = min(t_p, took)
        n_b, took, finish = run(files, opts.repeat, SigmaDetector(content))
        t_b, t_f = min(t_b, took), min(t_f, finish)
    print(f"p) EvtxParser alone          {n_p:9d} events {t_p:7.2f} s {n_p / t_p:9.0f} ev/s")
    print(f"b) EvtxParser + Sigma rules  {n_b:9d} events {t_b:7.2f} s {n_b / t_b:9.0f} ev/s")
    print(f"ratio b/p: {t_p / t_b:.2f}  (target >= 0.50);  Sigma cost {(t_b - t_p) / n_b * 1e6:.1f} us/event; "
          f"finish() once per host: {t_f:.2f} s")
    tree = DirectoryTree(files[0].parent)
    candidates = records = 0
    for path in files:
        tree = DirectoryTree(path.parent)
        for record in EvtxParser().parse(tree, Artifact(ArtifactKind.EVTX, path.name, 0), ParseReport(path.name)):
            bucket = content.index.bucket(record)
            records += 1
            if bucket is not None:
                candidates += len(bucket.candidates(EventView(record.fields, bucket.derived), record.raw))
    print(f"candidate rules per record: {candidates / max(records, 1):.2f} of {len(content.result.rules)}")


if __name__ == "__main__":
    main()
