"""Small synthetic Exchange hosts for the hostile-evidence tests, written at test time (nothing hostile is
committed): one IIS log and one HttpProxy log holding public ProxyLogon indicators, plus helpers to run the
CLI in this process and read its JSON lines."""

from __future__ import annotations

import random
import zipfile
from pathlib import Path
from typing import Any

import orjson

from exhunt.cli.main import main
from logfixtures import (
    HTTPPROXY_ATTACK_CHANGES,
    HTTPPROXY_FIELDS,
    IIS_ATTACKS,
    exchange_header,
    httpproxy_line,
    httpproxy_values,
    iis_header,
    iis_line,
)

DAY = "2021-03-03"
IIS_LOG = "C/inetpub/logs/LogFiles/W3SVC1/u_ex210303.log"
PROXY_LOG = "C/Program Files/Microsoft/Exchange Server/V15/Logging/HttpProxy/Ecp/HttpProxy_2021030300-1.LOG"
ATTACK_STEM = "/ecp/y.js"  # requested in both logs (a public ProxyLogon indicator)


def iis_text(count: int = 40, seed: int = 7) -> str:
    """A synthetic IIS log (CRLF) with the attack lines in its middle."""
    rng = random.Random(seed)
    lines = [iis_line(rng, DAY, 60 + n) for n in range(count)]
    attacks = [a.format(d=DAY, t=f"00:30:{n:02d}") for n, a in enumerate(IIS_ATTACKS)]
    lines[count // 2:count // 2] = attacks
    return iis_header(DAY) + "".join(line + "\r\n" for line in lines)


def proxy_text(count: int = 30, seed: int = 8, extra: str = "") -> str:
    rng = random.Random(seed)
    rows = [httpproxy_line(httpproxy_values(rng, DAY, 60 + n, "Ecp")) for n in range(count)]
    for n, change in enumerate(HTTPPROXY_ATTACK_CHANGES):
        values = httpproxy_values(rng, DAY, 1800 + n, "Ecp")
        values.update(change)
        rows.insert(count // 2, httpproxy_line(values))
    if extra:
        rows.insert(2, extra)
    return exchange_header("HttpProxy Logs", HTTPPROXY_FIELDS, DAY) + "".join(r + "\r\n" for r in rows)


def make_host(root: Path, files: dict[str, bytes] | None = None) -> Path:
    """A host folder with the two logs (replaced or completed by ``files``)."""
    content = {IIS_LOG: iis_text().encode(), PROXY_LOG: proxy_text().encode(), **(files or {})}
    for rel, data in content.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return root


def zip_folder(folder: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            out.write(path, path.relative_to(folder).as_posix())
    return target


def scan(*args: str | Path) -> int:
    """``exhunt scan`` in this process (one process: -j 1 unless the caller says otherwise)."""
    argv = ["scan", "--no-progress", *[str(a) for a in args]]
    if "-j" not in argv:
        argv += ["-j", "1"]
    return main(argv)


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def hosts(lines: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {line["host"]: line for line in lines if line["type"] == "host"}


def findings(lines: list[dict[str, Any]], host: str) -> list[dict[str, Any]]:
    return [line for line in lines if line["type"] == "finding" and line["host"] == host]


def warnings(host_line: dict[str, Any], code: str) -> list[dict[str, Any]]:
    return [w for w in host_line["coverage"]["warnings"] if w["code"] == code]
