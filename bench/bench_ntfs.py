"""NTFS metadata throughput and memory: a generated 1 GB ``$MFT`` and a 1 GB mostly-sparse USN journal ``$J``.

Generates (once, under ``bench/out/ntfs`` unless ``--work`` says otherwise; never committed) a synthetic ``$MFT``
of ``--mft-mb`` MiB (1024-byte FILE records with fixups, $STANDARD_INFORMATION, $FILE_NAME and $DATA, 1,000
folders, 1 % of entries not in use, web pages and dumps among them) and a ``$J`` of ``--usn-mb`` MiB whose first
90 % is zeros (a hole in the file, as the journal's deallocated head is sparse on disk) followed by USN_RECORD_V2
records. Then measures, each phase in a fresh Python process so that peak memory belongs to one phase:

  m0) reference: the ``mft`` package's own iteration, ``PyMftParser(path).entries()`` to the end
  m1) reference: the same, reading each entry's ``full_path`` and ``flags`` (what exhunt needs of every entry)
  mx) exhunt: ``MftParser`` + the file-system detector (shipped ``rules/fs``) over every entry, then ``finish``
  j0) reference: reading the ``$J`` file in 1 MiB blocks (the disk and page cache alone)
  jx) exhunt: ``UsnParser`` + the file-system detector, then ``finish``: every record counted and timed, the
      records whose name a rule may select (the detector's literals, as ``exhunt scan`` passes them) decoded

and prints records/s, the ratios mx/m0, mx/m1 and jx's MiB/s against j0, and each phase's peak RSS.

    python bench/bench_ntfs.py [--mft-mb 1024] [--usn-mb 1024] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import struct
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

TEMPLATES = 4096  # distinct file records, repeated with their entry number patched
FOLDERS = 1000
SPARSE_SHARE = 0.9


def _mft(path: Path, size_mb: int) -> None:
    from exgen.ntfs import _entry, compose_mft

    base = datetime(2021, 3, 1, tzinfo=UTC)
    head, _ = compose_mft([], base)  # entries 0-15: the metafiles
    # entries 16.. : inetpub, inetpub/wwwroot, inetpub/wwwroot/aspnet_client, Windows, Windows/Temp, dir0005...
    named = (("inetpub", 5), ("wwwroot", 16), ("aspnet_client", 17), ("Windows", 5), ("Temp", 19))
    folders = []
    for i in range(FOLDERS):
        name, parent = named[i] if i < len(named) else (f"dir{i:04d}", 5)
        folders.append(_entry(16 + i, name, parent, (base,) * 4, (base,) * 4, True, True, None, 0))
    first_file = 16 + FOLDERS
    templates = []
    for i in range(TEMPLATES):
        when = base + timedelta(seconds=37 * i, microseconds=i * 1013)
        t4 = (when, when, when, when)
        if i % 97 == 0:
            name, parent = f"shell{i}.aspx", 18  # inetpub/wwwroot/aspnet_client
        elif i % 89 == 0:
            name, parent = f"mem{i}.dmp", 20  # Windows/Temp
        else:
            name, parent = f"file{i:05d}.{('dll', 'log', 'txt', 'js', 'css', 'xml')[i % 6]}", 16 + 5 + i % (FOLDERS - 5)
        templates.append(_entry(first_file + i, name, parent, t4, t4, False, i % 100 != 0, b"", 4096 + i))
    target = size_mb << 20
    with path.open("wb") as out:
        out.write(head)
        out.write(b"".join(folders))
        number = first_file
        written = len(head) + len(folders) * 1024
        chunk: list[bytes] = []
        while written < target:
            record = bytearray(templates[(number - first_file) % TEMPLATES])
            struct.pack_into("<I", record, 0x2C, number & 0xFFFFFFFF)
            chunk.append(bytes(record))
            number += 1
            written += 1024
            if len(chunk) == 4096:
                out.write(b"".join(chunk))
                chunk.clear()
        out.write(b"".join(chunk))


def _usn(path: Path, size_mb: int) -> None:
    from exgen.ntfs import USN_CLOSE, USN_DATA_EXTEND, USN_FILE_CREATE, USN_FILE_DELETE, usn_record

    base = datetime(2021, 3, 1, tzinfo=UTC)
    target = size_mb << 20
    sparse = int(target * SPARSE_SHARE) // (1 << 20) << 20
    reasons = (USN_FILE_CREATE, USN_FILE_CREATE | USN_DATA_EXTEND | USN_CLOSE, USN_DATA_EXTEND,
               USN_FILE_DELETE | USN_CLOSE)
    pages = []
    for p in range(64):
        page = bytearray()
        i = 0
        while True:
            n = p * 64 + i
            name = f"shell{n}.aspx" if n % 97 == 0 else f"file{n:05d}.{('dll', 'log', 'tmp')[n % 3]}"
            record = usn_record(1016 + n, 16 + 5 + n % 900, 0, base + timedelta(seconds=n), reasons[n % 4], name)
            if len(page) + len(record) > 4096:
                break
            page += record
            i += 1
        pages.append(bytes(page.ljust(4096, b"\0")))
    with path.open("wb") as out:
        out.truncate(sparse)  # a hole: the journal's deallocated head
        out.seek(sparse)
        written = sparse
        index = 0
        while written < target:
            out.write(pages[index % len(pages)])
            written += 4096
            index += 1


def build(work: Path, mft_mb: int, usn_mb: int) -> tuple[Path, Path]:
    work.mkdir(parents=True, exist_ok=True)
    mft_path, usn_path = work / f"MFT-{mft_mb}", work / f"J-{usn_mb}"
    if not mft_path.is_file() or mft_path.stat().st_size < mft_mb << 20:
        _mft(mft_path, mft_mb)
    if not usn_path.is_file() or usn_path.stat().st_size < usn_mb << 20:
        _usn(usn_path, usn_mb)
    return mft_path, usn_path


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def phase_m0(mft_path: Path, _usn: Path) -> dict[str, Any]:
    import mft

    count = 0
    start = time.perf_counter()
    for _entry in mft.PyMftParser(str(mft_path)).entries():
        count += 1
    return {"records": count, "seconds": time.perf_counter() - start}


def phase_m1(mft_path: Path, _usn: Path) -> dict[str, Any]:
    import mft

    count = 0
    start = time.perf_counter()
    for entry in mft.PyMftParser(str(mft_path)).entries():
        if not isinstance(entry, Exception):
            _ = (entry.full_path, entry.flags)
        count += 1
    return {"records": count, "seconds": time.perf_counter() - start}


def _detect(path: Path, kind_name: str) -> dict[str, Any]:
    from exhunt.content.bundle import ContentBundle, ContentSpec
    from exhunt.detectors.base import HostContext
    from exhunt.detectors.fs import family
    from exhunt.engine import _prefilter_spec
    from exhunt.model.coverage import HostCoverage
    from exhunt.model.evidence import Artifact, ArtifactKind
    from exhunt.parsers.base import ParseReport
    from exhunt.parsers.mft import MftParser
    from exhunt.parsers.usn import UsnParser
    from exhunt.sources.directory import DirectoryTree

    bundle = ContentBundle(spec=ContentSpec())
    family.load(bundle)
    detector = family.create(bundle, {})
    tree = DirectoryTree(path.parent)
    ctx = HostContext(host="bench", tree=tree, artifacts=[], coverage=HostCoverage())
    detector.start(ctx)
    kind = ArtifactKind.MFT if kind_name == "mft" else ArtifactKind.USN
    parser = MftParser() if kind is ArtifactKind.MFT else UsnParser()
    artifact = Artifact(kind, path.name, path.stat().st_size)
    report = ParseReport(path.name)
    interest = detector.interest(kind)
    prefilter = _prefilter_spec([interest]).build() if interest is not None else None  # as `exhunt scan` does
    start = time.perf_counter()
    for record in parser.parse(tree, artifact, report, prefilter):
        detector.on_record(record, ctx)
    findings = detector.finish(ctx)
    return {"records": report.records, "seconds": time.perf_counter() - start, "findings": len(findings),
            "warnings": len(report.warnings), "first_time": report.first_time}


def phase_mx(mft_path: Path, _usn: Path) -> dict[str, Any]:
    return _detect(mft_path, "mft")


def phase_j0(_mft: Path, usn_path: Path) -> dict[str, Any]:
    start = time.perf_counter()
    total = 0
    with usn_path.open("rb") as handle:
        while block := handle.read(1 << 20):
            total += len(block)
    return {"records": 0, "bytes": total, "seconds": time.perf_counter() - start}


def phase_jx(_mft: Path, usn_path: Path) -> dict[str, Any]:
    result = _detect(usn_path, "usn")
    result["bytes"] = usn_path.stat().st_size
    return result


PHASES = {"m0": phase_m0, "m1": phase_m1, "mx": phase_mx, "j0": phase_j0, "jx": phase_jx}
LABELS = {"m0": "mft package: entries()", "m1": "mft package: entries() + full_path, flags",
          "mx": "exhunt MftParser + fs detector", "j0": "read $J in 1 MiB blocks",
          "jx": "exhunt UsnParser + fs detector"}


def run_phase(name: str, args: argparse.Namespace) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--phase", name, "--work", str(args.work), "--mft-mb",
                          str(args.mft_mb), "--usn-mb", str(args.usn_mb)],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"phase {name} failed:\n{out.stderr}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mft-mb", type=int, default=1024)
    parser.add_argument("--usn-mb", type=int, default=1024)
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "out" / "ntfs")
    parser.add_argument("--phase", choices=sorted(PHASES))
    parser.add_argument("--repeat", type=int, default=1, help="rounds of every phase; medians printed")
    args = parser.parse_args()
    mft_path, usn_path = args.work / f"MFT-{args.mft_mb}", args.work / f"J-{args.usn_mb}"
    if args.phase:
        result = PHASES[args.phase](mft_path, usn_path)
        result["peak_rss_mb"] = peak_mb()
        print(json.dumps(result))
        return
    started = time.perf_counter()
    mft_path, usn_path = build(args.work, args.mft_mb, args.usn_mb)
    print(f"$MFT {mft_path.stat().st_size / (1 << 20):.0f} MiB, $J {usn_path.stat().st_size / (1 << 20):.0f} MiB "
          f"({SPARSE_SHARE:.0%} sparse head) in {args.work} (ready in {time.perf_counter() - started:.0f} s)")
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in PHASES}
    for _ in range(args.repeat):
        for name in PHASES:
            runs[name].append(run_phase(name, args))
    seconds = {name: statistics.median(r["seconds"] for r in rs) for name, rs in runs.items()}
    for name, rs in runs.items():
        r = rs[-1]
        rate = f"{r['records'] / seconds[name]:>10.0f} rec/s" if r["records"] else f"{'':>16}"
        extra = f"  {r['bytes'] / (1 << 20) / seconds[name]:7.0f} MiB/s" if "bytes" in r else ""
        print(f"{LABELS[name]:<44} {r['records']:>9} records {seconds[name]:7.2f} s {rate}{extra}  "
              f"peak RSS {max(x['peak_rss_mb'] for x in rs):6.0f} MiB")
    mx, jx = runs["mx"][-1], runs["jx"][-1]
    print(f"fs findings: $MFT {mx['findings']}, $J {jx['findings']}; warnings: {mx['warnings']}, {jx['warnings']}; "
          f"journal starts {jx['first_time']}")
    print(f"ratio exhunt $MFT / mft entries(): {seconds['m0'] / seconds['mx']:.2f}; "
          f"/ entries()+full_path: {seconds['m1'] / seconds['mx']:.2f}")
    print(f"ratio exhunt $J / plain read: {seconds['j0'] / seconds['jx']:.2f}"
          f" (medians of {args.repeat} round(s), each phase in its own process)")


if __name__ == "__main__":
    main()
