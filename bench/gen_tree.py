"""Generate a synthetic Exchange/IIS host tree for the YARA sweep benchmark.

    python bench/gen_tree.py OUT --files 50000 --size-gb 2
    python bench/gen_tree.py OUT --files 15000 --size-gb 0.5 --shells 3500   # thousands of hits
    python bench/gen_tree.py OUT --files 12000 --size-gb 0.33 --shells 0     # benign pages only

Web roots full of benign pages (written here from templates), compiled-page caches, a few large files
(a PST exported under a web root, minidumps, big assemblies and scripts) and a few webshells copied from
exhunt's own rule samples. Deterministic for a given seed. Write it under /tmp or bench/out (git-ignored),
never into the repository.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[1] / "src" / "exhunt" / "rules" / "yara" / "samples"
V15 = "C/Program Files/Microsoft/Exchange Server/V15"
PLACES = [  # (weight, folder, extensions)
    (50, "C/inetpub/wwwroot/app{n}/{sub}", (".aspx", ".ascx", ".ashx", ".asmx", ".config", ".cs", ".js")),
    (20, V15 + "/FrontEnd/HttpProxy/{vdir}/{sub}", (".aspx", ".js", ".config", ".ashx")),
    (15, V15 + "/ClientAccess/{vdir}/{sub}", (".aspx", ".ascx", ".js", ".config", ".asmx")),
    (10, "C/Windows/Microsoft.NET/Framework64/v4.0.30319/Temporary ASP.NET Files/{vdir}/{hex}/{hex2}",
     (".dll", ".compiled")),
    (5, "C/ProgramData/Contoso/{sub}", (".js", ".config", ".cs")),
]
VDIRS = ["owa", "ecp", "ews", "oab", "mapi", "rpc", "autodiscover", "powershell", "microsoft-server-activesync"]
SUBS = ["", "auth", "scripts", "forms", "controls", "handlers", "premium", "resources", "api", "admin"]
WORDS = ["mailbox", "user", "folder", "message", "calendar", "contact", "item", "request", "response", "session",
         "token", "cookie", "quota", "display", "name", "address", "server", "site", "route", "culture", "layout",
         "theme", "header", "footer", "panel", "grid", "label"]


def page_variant(rng: random.Random, i: int) -> str:
    w = [rng.choice(WORDS) for _ in range(12)]
    return (f'<%@ Page Language="C#" AutoEventWireup="true" Inherits="Contoso.{w[0].title()}{i}Page" %>\n'
            f'<%@ Register TagPrefix="c" Namespace="Contoso.Controls" Assembly="Contoso.Web" %>\n'
            f"<script runat=\"server\">\n    // Shows the {w[1]} {w[2]} of the current {w[3]}.\n"
            f"    protected void Page_Load(object sender, EventArgs e)\n    {{\n"
            f"        string {w[4]}Id = Request.QueryString[\"{w[5]}\"] ?? string.Empty;\n"
            f"        {w[6].title()}Label.Text = Server.HtmlEncode({w[4]}Id);\n"
            f"        Title = \"{w[7]} {w[8]}\";\n    }}\n</script>\n"
            f"<html><head><title>{w[9]}</title><link rel=\"stylesheet\" href=\"/{w[10]}/site.css\" /></head>\n"
            f"<body><form runat=\"server\"><asp:Label ID=\"{w[6].title()}Label\" runat=\"server\" />\n"
            + "".join(f"<div class=\"{rng.choice(WORDS)}\">{' '.join(rng.choice(WORDS) for _ in range(14))}</div>\n"
                      for _ in range(rng.randint(20, 60)))
            + "</form></body></html>\n")


def script_variant(rng: random.Random, i: int) -> str:
    lines = [f"/* Contoso bundle {i} */", "(function () {", '  "use strict";']
    for n in range(rng.randint(40, 120)):
        a, b = rng.choice(WORDS), rng.choice(WORDS)
        lines.append(f"  function {a}{n}(x) {{ return x && x.{b} ? x.{b}.toString() : \"{a}\"; }}")
    lines.append("}());")
    return "\n".join(lines) + "\n"


def blob(rng: random.Random, size: int, head: bytes) -> bytes:
    return head + rng.randbytes(max(0, size - len(head)))


def write(root: Path, rel: str, data: bytes) -> int:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return len(data)


def folder(rng: random.Random) -> tuple[str, tuple[str, ...]]:
    _, pattern, exts = rng.choices(PLACES, weights=[w for w, _, _ in PLACES])[0]
    path = pattern.format(n=rng.randint(1, 40), sub=rng.choice(SUBS), vdir=rng.choice(VDIRS),
                          hex=f"{rng.getrandbits(32):08x}", hex2=f"{rng.getrandbits(32):08x}")
    return path.replace("//", "/").rstrip("/"), exts


def large_files(rng: random.Random, budget: int) -> list[tuple[str, bytes]]:
    each = budget // 8
    lsass = b"MDMP" + b"\0" * 60 + "C:\\Windows\\System32\\lsass.exe".encode("utf-16-le")
    return [
        ("C/inetpub/wwwroot/aspnet_client/redirsuite.aspx", blob(rng, each, b"!BDN" + b"\0" * 60)),
        ("C/Windows/Temp/debug.dmp", blob(rng, each, lsass)),
        ("C/ProgramData/Contoso/crash/w3wp.dmp", blob(rng, each, b"MDMP" + b"\0" * 60)),
        (V15 + "/FrontEnd/HttpProxy/bin/Microsoft.Exchange.Big.dll", blob(rng, each, b"MZ\x90\0" + b"\0" * 60)),
        ("C/inetpub/wwwroot/app1/bundle.min.js", (script_variant(rng, 0) * (each // 8000 + 1)).encode()[:each]),
        ("C/inetpub/wwwroot/app2/web.config", (page_variant(rng, 0) * (each // 6000 + 1)).encode()[:each]),
        ("C/Users/admin/AppData/Local/Temp/export.aspx", blob(rng, each, b"PK\x03\x04")),
        (V15 + "/FrontEnd/HttpProxy/owa/auth/big.aspx", (page_variant(rng, 1) * (each // 6000 + 1)).encode()[:each]),
    ]


def generate(out: Path, files: int, size_gb: float, seed: int = 1, shells: int = -1) -> tuple[int, int]:
    """``shells``: web shells placed (the rule samples in turn); -1: each sample once; 0: a benign tree."""
    rng = random.Random(seed)
    budget = int(size_gb * (1 << 30))
    count = total = 0
    for rel, data in large_files(rng, budget // 2):
        total += write(out, rel, data)
        count += 1
    samples = sorted(SAMPLES.glob("*/positive-*.sample"))
    chosen = samples if shells < 0 else [samples[i % len(samples)] for i in range(shells)]
    for i, sample in enumerate(chosen):
        name = sample.name.removesuffix(".sample").removeprefix("positive-")
        place, _ = folder(rng)
        total += write(out, f"{place}/s{i}_{name}", sample.read_bytes())
        count += 1
    pages = [page_variant(rng, i).encode() for i in range(200)]
    scripts = [script_variant(rng, i).encode() for i in range(200)]
    small = max(1, files - count)
    mean = max(1024, (budget - total) // small)
    for i in range(small):
        place, exts = folder(rng)
        ext = rng.choice(exts)
        target = int(min(mean * 10, max(300, rng.expovariate(1 / mean))))
        if ext in (".dll",):
            data = blob(rng, target, b"MZ\x90\0")
        else:
            pool = scripts if ext in (".js", ".cs") else pages
            parts = [f"<!-- {i} -->\n".encode()]
            size = len(parts[0])
            while size < target:
                part = pool[rng.randrange(len(pool))]
                parts.append(part)
                size += len(part)
            data = b"".join(parts)[:target]
        total += write(out, f"{place}/f{i:06d}{ext}", data)
        count += 1
    return count, total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--files", type=int, default=50000)
    parser.add_argument("--size-gb", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--shells", type=int, default=-1,
                        help="web shells to place (the rule samples in turn); default each sample once; 0: none")
    args = parser.parse_args(argv)
    repo = Path(__file__).resolve().parents[1]
    if args.out.resolve().is_relative_to(repo) and not args.out.resolve().is_relative_to(repo / "bench" / "out"):
        parser.error("write generated trees under /tmp or bench/out, never into the repository")
    if args.out.exists() and any(args.out.iterdir()):
        parser.error(f"{args.out} is not empty")
    count, total = generate(args.out, args.files, args.size_gb, args.seed, args.shells)
    print(f"wrote {count} files, {total / (1 << 20):.0f} MiB under {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
