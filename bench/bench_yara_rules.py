"""`exhunt scan --yara` with a large rule set: where a run's time goes once the compiled rules are cached.

    python bench/bench_yara_rules.py [--rule-files 700] [--rules-per-file 12] [--repeat 3] [--work DIR]

Writes (once, under ``bench/out/yara-rules`` unless ``--work`` says otherwise; never committed) a set of
synthetic rule files shaped like signature-base's (text, wide/nocase, hex and regex strings, metadata,
conditions on ``filesize``, ``uint16(0)`` and the ``filename`` external) and a host holding one small web page.
Then, each in a fresh process, with a private content cache folder:

1. ``exhunt scan HOST --yara RULES`` with an empty cache (compiles the rules, fills the cache);
2. the same again, ``--repeat`` times (the cached run);
3. ``exhunt scan HOST`` without ``--yara`` (the run's fixed costs: start-up, shipped content, the host);
4. yara-x alone: ``Rules.deserialize_from`` of the cached compiled rules, nothing else.

The cached run is (3) + (4) + what exhunt adds; the script prints that remainder.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out" / "yara-rules"
EXHUNT = [sys.executable, "-m", "exhunt.cli.main"]
ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"


def _word(rnd: random.Random, n: int) -> str:
    return "".join(rnd.choice(ALPHABET) for _ in range(n))


def _pattern(rnd: random.Random, number: int) -> str:
    kind = rnd.random()
    if kind < 0.6:
        text = _word(rnd, rnd.randint(8, 30))
        return f'$s{number} = "{text}"' + (" ascii wide nocase" if rnd.random() < 0.3 else "")
    if kind < 0.85:
        return f"$h{number} = {{ " + " ".join(f"{rnd.randint(0, 255):02X}" for _ in range(rnd.randint(6, 20))) + " }"
    return f"$r{number} = /{_word(rnd, 6)}[0-9a-f]{{8,}}{_word(rnd, 4)}/"


def write_rules(folder: Path, files: int, per_file: int) -> None:
    rnd = random.Random(7)
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(files):
        rules = []
        for index in range(per_file):
            patterns = "\n        ".join(_pattern(rnd, p) for p in range(rnd.randint(4, 12)))
            condition = rnd.choice(["uint16(0) == 0x5a4d and filesize < 2MB and 3 of them", "2 of them",
                                    "any of them and filesize < 500KB", "all of them",
                                    f"filename matches /{_word(rnd, 5)}/ or 1 of them"])
            rules.append(f"rule R{number}_{index}_{_word(rnd, 6)} {{\n    meta:\n"
                         f'        description = "synthetic rule {number}/{index} {_word(rnd, 20)}"\n'
                         f'        author = "bench"\n        score = {rnd.randint(40, 100)}\n'
                         f"    strings:\n        {patterns}\n    condition:\n        {condition}\n}}\n")
        (folder / f"rules_{number:03d}.yar").write_text("\n".join(rules), encoding="utf-8")


def _run(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


DESERIALIZE = """
import io, pickle, sys, time
from pathlib import Path
entry = max((Path(sys.argv[1]) / "yara").glob("*.pickle"), key=lambda p: p.stat().st_size)
data = pickle.loads(entry.read_bytes())["compiled"].data
import yara_x
start = time.perf_counter()
yara_x.Rules.deserialize_from(io.BytesIO(data))
print(time.perf_counter() - start, len(data))
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rule-files", type=int, default=700)
    parser.add_argument("--rules-per-file", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work", type=Path, default=OUT)
    args = parser.parse_args(argv)
    rules = args.work / f"rules-{args.rule_files}x{args.rules_per_file}"
    if not rules.is_dir():
        write_rules(rules, args.rule_files, args.rules_per_file)
    host = args.work / "host"
    page = host / "C" / "inetpub" / "wwwroot" / "default.aspx"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text('<%@ Page Language="C#" %>\n<html><body><% Response.Write("hello"); %></body></html>\n')
    out = os.devnull
    with tempfile.TemporaryDirectory(prefix="exhunt-yara-cache-") as cache:
        env = {**os.environ, "EXHUNT_CACHE_DIR": cache}
        scan = [*EXHUNT, "scan", str(host), "-q", "-f", "jsonl", "-o", out]
        first = _run([*scan, "--yara", str(rules)], env)
        cached, bare, alone = [], [], []
        for _ in range(args.repeat):  # alternating rounds
            cached.append(_run([*scan, "--yara", str(rules)], env))
            bare.append(_run(scan, env))
            done = subprocess.run([sys.executable, "-c", DESERIALIZE, cache], capture_output=True, text=True,
                                  check=True, env=env)
            seconds, size = done.stdout.split()
            alone.append(float(seconds))
    print(f"{args.rule_files} rule files x {args.rules_per_file} rules, {int(size) / (1 << 20):.1f} MiB compiled; "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"first run (compiles, fills the cache)  {first:7.2f} s")
    for name, values in (("cached run", cached), ("the same scan without --yara", bare),
                         ("yara-x deserialize_from alone", alone)):
        print(f"{name:<38} best {min(values):6.2f} s  median {statistics.median(values):6.2f} s")
    rest = statistics.median(cached) - statistics.median(bare) - statistics.median(alone)
    print(f"cached run - scan without --yara - deserialization (medians): {rest:+.2f} s (what exhunt adds)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
