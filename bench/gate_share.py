"""Share of text-log lines that pass the literal gate, per kind of log: what the records path has to parse.

    python bench/gate_share.py /tmp/speed-many examples/exchange-2019-clean ../shared/corpus/weblogs

Each host is assessed serially with the shipped content, and the records of each text log that reach the
detectors are counted against the file's records. A benchmark host
whose share is far below real evidence's never exercises decoding and rule evaluation (issue #13 §0).
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import exhunt.engine as engine
from exhunt.content.bundle import ContentSpec
from exhunt.content.cache import default_dir
from exhunt.fleet.local import compiled_content
from exhunt.model.event import Record
from exhunt.model.evidence import Artifact
from exhunt.parsers.base import Parser, ParseReport, Prefilter
from exhunt.parsers.pool import PrefilterSpec
from exhunt.sources.base import HostTree
from exhunt.sources.registry import open_evidence


def shares(path: Path) -> dict[str, list[int]]:
    """kind -> [files, records, records passing the gate], counted in the engine's own serial parse (the
    detectors' interests depend on the host: a request to a file present is wanted)."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    serial = engine.parse_all

    def counted(parser: Parser, tree: HostTree, artifact: Artifact, report: ParseReport, spec: PrefilterSpec,
                gate: Prefilter | None = None, skip: int = 0) -> Iterator[Record]:
        row = counts[artifact.kind.value]
        if parser.parallel:
            for record in serial(parser, tree, artifact, report, spec, gate, skip):
                row[2] += 1
                yield record
            row[0] += 1
            row[1] += report.records
        else:
            yield from serial(parser, tree, artifact, report, spec, gate, skip)

    content = compiled_content(ContentSpec(cache_dir=str(default_dir())))
    engine.parse_all = counted  # type: ignore[assignment]
    try:
        for tree in open_evidence(path):
            engine.assess_host(tree, content, {"parse_workers": 1})
            tree.close()
    finally:
        engine.parse_all = serial
    return {kind: row for kind, row in counts.items() if row[0]}


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
