"""Share of text-log lines that pass the literal gate, per kind of log: what the records path has to parse.

    python bench/gate_share.py /tmp/speed-many examples/exchange-2019-clean ../shared/corpus/weblogs

Each text log of each host is parsed serially with the prefilter the engine builds for its kind (the shipped
content), and the records that reach the detectors are counted against the file's records. A benchmark host
whose share is far below real evidence's never exercises decoding and rule evaluation (issue #13 §0).
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from exhunt.content.bundle import ContentSpec
from exhunt.content.cache import default_dir
from exhunt.detectors.registry import create_detectors
from exhunt.engine import _prefilter_spec
from exhunt.fleet.local import compiled_content
from exhunt.parsers.base import ParseReport
from exhunt.parsers.pool import PrefilterSpec, parse_all
from exhunt.parsers.registry import all_parsers
from exhunt.sources.classify import classify
from exhunt.sources.registry import open_evidence


def shares(path: Path) -> dict[str, list[int]]:
    """kind -> [files, records, records passing the gate]"""
    content = compiled_content(ContentSpec(cache_dir=str(default_dir())))
    detectors = create_detectors(content, {})
    parsers = {kind: parser for parser in all_parsers() if parser.parallel for kind in parser.kinds}
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for tree in open_evidence(path):
        layout = classify(tree, None)
        specs: dict[object, PrefilterSpec] = {}
        for artifact in layout.artifacts.of_kinds(parsers):
            spec = specs.get(artifact.kind)
            if spec is None:
                interests = [i for i in (d.interest(artifact.kind) for d in detectors) if i is not None]
                spec = specs[artifact.kind] = _prefilter_spec(interests)
            report = ParseReport(path=artifact.path)
            passed = sum(1 for _ in parse_all(parsers[artifact.kind], tree, artifact, report, spec))
            row = counts[artifact.kind.value]
            row[0] += 1
            row[1] += report.records
            row[2] += passed
        tree.close()
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("hosts", nargs="+", type=Path, help="evidence paths (folders or zips)")
    args = parser.parse_args()
    print(f"{'evidence':40} {'kind':14} {'files':>6} {'records':>10} {'pass':>8} {'share':>8}")
    for host in args.hosts:
        total = [0, 0, 0]
        for kind, (files, records, passed) in sorted(shares(host).items()):
            total = [total[0] + files, total[1] + records, total[2] + passed]
            share = passed / records if records else 0.0
            print(f"{str(host)[-40:]:40} {kind:14} {files:6} {records:10} {passed:8} {share:8.2%}")
        share = total[2] / total[1] if total[1] else 0.0
        print(f"{str(host)[-40:]:40} {'(all)':14} {total[0]:6} {total[1]:10} {total[2]:8} {share:8.2%}")


if __name__ == "__main__":
    main()
