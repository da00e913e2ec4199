"""Peak memory of `exhunt scan` against the number of files and the width of log lines (#14).

    python bench/bench_memory.py [OUT] [--files 5000 20000] [--wide-mb 48] [--jobs 1 2]

Writes, under OUT (default: a temporary folder; never the repository): one host per file count, each
holding that many small ASP.NET pages under a web root plus one IIS log, and one host holding a single
IIS log of 500 columns in which every line is a candidate for the shipped rules (a public ProxyLogon
indicator on each line). Each scan runs in a fresh process (`-f jsonl -o /dev/null`); its peak RSS is
the largest resident size of that process and of every worker it waited for (``wait4``'s rusage). The
reference is the same scan of a host with only the IIS log, measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IIS = "C/inetpub/logs/LogFiles/W3SVC1"
HEADER = ("#Software: Microsoft Internet Information Services 10.0\r\n#Version: 1.0\r\n"
          "#Date: 2021-03-03 00:00:00\r\n#Fields: {fields}\r\n")
NAMES = ["date", "time", "s-ip", "cs-method", "cs-uri-stem", "cs-uri-query", "s-port", "cs-username", "c-ip",
         "cs(User-Agent)", "sc-status"]


def write_iis(folder: Path, lines: int = 2000) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "u_ex210303.log").open("w", newline="") as out:
        out.write(HEADER.format(fields=" ".join(NAMES)))
        for n in range(lines):
            out.write(f"2021-03-03 00:{n // 60 % 60:02d}:{n % 60:02d} 10.0.0.5 GET /owa/ - 443 - 192.168.1.{n % 250} "
                      "Mozilla/5.0 200\r\n")


def make_files_host(root: Path, files: int) -> Path:
    if root.is_dir():
        return root
    write_iis(root / IIS)
    page = "<%@ Page Language=\"C#\" %>\n" + "<div>hello world</div>\n" * 80
    for n in range(files):
        folder = root / f"C/inetpub/wwwroot/app{n % 50}/sub{n % 7}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"page{n}.aspx").write_text(page)
    return root


def make_wide_host(root: Path, megabytes: int, columns: int = 500) -> Path:
    if root.is_dir():
        return root
    folder = root / IIS
    folder.mkdir(parents=True)
    extra = columns - len(NAMES)
    with (folder / "u_ex210303.log").open("w", newline="") as out:
        out.write(HEADER.format(fields=" ".join(NAMES + [f"x-col{k}" for k in range(extra)])))
        size, n = 0, 0
        while size < megabytes << 20:
            line = (f"2021-03-03 00:{n // 60 % 60:02d}:{n % 60:02d} 10.0.0.5 POST /ecp/y.js - 443 - 203.0.113.50 "
                    "python-requests/2.25.1 200 " + " ".join(f"v{n % 97}_{k}" for k in range(extra)) + "\r\n")
            out.write(line)
            size, n = size + len(line), n + 1
    return root


def peak_rss(host: Path, jobs: int) -> tuple[float, float, int]:
    """(peak RSS in MiB, seconds, exit code) of one scan in a fresh process."""
    command = [sys.executable, "-c", "import sys; from exhunt.cli.main import main; sys.exit(main())", "scan",
               str(host), "-j", str(jobs), "--no-progress", "-f", "jsonl", "-o", os.devnull]
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    return usage.ru_maxrss / 1024, time.monotonic() - started, os.waitstatus_to_exitcode(status)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", type=Path)
    parser.add_argument("--files", type=int, nargs="+", default=[5000, 20000])
    parser.add_argument("--wide-mb", type=int, default=48)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    base = args.out or Path(tempfile.mkdtemp(prefix="exhunt-memory-"))
    try:
        cases = [("reference: one IIS log", make_files_host(base / "files-0", 0))]
        cases += [(f"{n} files", make_files_host(base / f"files-{n}", n)) for n in args.files]
        cases.append((f"{args.wide_mb} MiB log, 500 columns, every line a candidate",
                       make_wide_host(base / f"wide-{args.wide_mb}", args.wide_mb)))
        print("| host | -j | peak RSS | time | exit |\n|---|---|---|---|---|")
        for label, host in cases:
            for jobs in args.jobs:
                rss, seconds, code = peak_rss(host, jobs)
                print(f"| {label} | {jobs} | {rss:.0f} MiB | {seconds:.1f} s | {code} |", flush=True)
    finally:
        if args.out is None:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
