#!/usr/bin/env python3
"""(Re)generate exhunt's bundled example evidence under examples/ (synthetic, deterministic).

    python scripts/make_examples.py            # rewrites <repo>/examples
    python scripts/make_examples.py OUT_DIR    # writes the same tree elsewhere

Fixed seeds and dates: two runs give byte-identical files. ``generate(out_dir)`` is the API tests use.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from exgen.common import HostFiles
from exgen.proxylogon import clean, compromised, probed
from exgen.proxyshell import proxyshell
from exgen.readme import readme

HOSTS: list[Callable[[], HostFiles]] = [compromised, clean, probed, proxyshell]


def build() -> list[HostFiles]:
    return [make() for make in HOSTS]


def generate(out_dir: Path) -> None:
    """Write every example host and examples/README.md under ``out_dir`` (host folders are replaced)."""
    hosts = build()
    out_dir.mkdir(parents=True, exist_ok=True)
    for host in hosts:
        root = out_dir / host.name
        if root.exists():
            shutil.rmtree(root)
        for rel in sorted(host.files):
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(host.files[rel])
            when = host.mtimes.get(rel)
            if when is not None:
                stamp = when.timestamp()
                os.utime(path, (stamp, stamp))
    (out_dir / "README.md").write_bytes(readme(hosts).encode("utf-8"))
    # the logs' CRLF and the JSON exports' LF must survive any checkout (core.autocrlf)
    (out_dir / ".gitattributes").write_bytes(b"* -text\n")


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent / "examples"
    generate(out)
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    count = sum(1 for p in out.rglob("*") if p.is_file())
    print(f"wrote {count} files, {total / 1e6:.2f} MB under {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
