"""Correlation at scale: time `correlate.verdict.conclude()` (file ties, ordering, the chain) as findings grow.

    python bench/bench_correlate.py [--sizes 1000,10000,100000] [--reference-up-to 4000]

The findings look like a web-shell sweep on one host: suspicious files found by content (YARA, file rules),
about one in five requested in an IIS line, plus log findings whose excerpts are request lines. The
reference is the former all-pairs tie search, run in the same process on the sizes up to
``--reference-up-to`` (it grows with the square of the findings). Prints seconds per size and the growth
ratio between sizes; the target is findings x10 -> time x10 or less.
"""

from __future__ import annotations

import argparse
import importlib
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "correlate"))

from exhunt.correlate import chains
from exhunt.correlate.verdict import conclude
from exhunt.model.coverage import HostCoverage
from exhunt.model.finding import Confidence, EvidenceRef, Finding, Outcome, Severity


def findings(count: int, seed: int = 13) -> list[Finding]:
    rng = random.Random(seed)
    out: list[Finding] = []
    shells = max(1, count * 7 // 10)
    for i in range(shells):
        folder = rng.choice(("inetpub/wwwroot/aspnet_client/system_web", "Program Files/Microsoft/Exchange Server/"
                                                                         "V15/FrontEnd/HttpProxy/owa/auth"))
        name = f"s{i:06d}.aspx"
        path = f"C/{folder}/{name}"
        out.append(Finding(
            host="bench", rule_id=f"EXH-YARA-{i % 17}", title="web shell", severity=Severity.HIGH,
            confidence=Confidence.MEDIUM, outcome=Outcome.SUSPICIOUS, detector=rng.choice(("yara", "files")),
            first_seen=f"2021-03-0{1 + i % 9}T0{i % 10}:00:00.000Z",
            evidence=(EvidenceRef(path, "<%@ Page Language=\"Jscript\"%><%eval(Request.Item[\"x\"]);%>",
                                  sha256="0" * 64),),
            attributes=(("file_name", name), ("path", path), ("step", "webshell-write"))))
    for i in range(count - shells):
        target = f"s{rng.randrange(shells * 5):06d}.aspx"  # one in five names a shell that exists
        line = (f"2021-03-03 04:{i % 60:02d}:00 10.0.0.5 POST /owa/auth/{target} - 443 - 203.0.113.{i % 250} "
                "Mozilla/5.0 - 200 0 0 15")
        out.append(Finding(
            host="bench", rule_id=f"EXH-IIS-{i % 5}", title="request", severity=Severity.MEDIUM,
            confidence=Confidence.MEDIUM, outcome=Outcome.ATTEMPTED, detector="sigma",
            first_seen=f"2021-03-03T04:{i % 60:02d}:00.000Z",
            evidence=(EvidenceRef(f"C/inetpub/logs/LogFiles/W3SVC1/u_ex2103{i % 28 + 1:02d}.log", line,
                                  line=i + 1),),
            attributes=(("client_ip", f"203.0.113.{i % 250}"), ("step", "webshell-use"))))
    return out


def timed(run: object, items: list[Finding]) -> float:
    start = time.perf_counter()
    run(items)  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="500,1000,2000,4000,10000,100000")
    parser.add_argument("--reference-up-to", type=int, default=4000)
    args = parser.parse_args()
    try:  # the former all-pairs implementation, kept by the tests as their reference
        _reference_confirm = importlib.import_module("test_chains_index")._reference_confirm
    except ImportError:
        _reference_confirm = None
    print(f"{'findings':>9} {'conclude() s':>13} {'growth':>7} {'per finding':>12} {'all-pairs ties s':>17} "
          f"{'ratio':>7}")
    previous: tuple[int, float] | None = None
    for size in (int(s) for s in args.sizes.split(",")):
        items = findings(size)
        seconds = timed(lambda fs: conclude("bench", "bench", fs, HostCoverage(), {}), items)
        growth = f"{seconds / previous[1]:.1f}x/{size / previous[0]:.0f}x" if previous else "-"
        ref = ""
        ratio = ""
        if _reference_confirm is not None and size <= args.reference_up_to:
            new_ties = timed(chains.confirm_files, items)
            old_ties = timed(_reference_confirm, items)
            assert chains.confirm_files(items) == _reference_confirm(items), "indexed ties differ from all-pairs"
            ref = f"{old_ties:.3f}"
            ratio = f"{old_ties / new_ties:.0f}x"
        print(f"{size:>9} {seconds:>13.3f} {growth:>7} {seconds / size * 1e6:>10.1f}us {ref:>17} {ratio:>7}")
        previous = (size, seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
