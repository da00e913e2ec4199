"""Generate a SYNTHETIC Exchange host tree of IIS, HttpProxy and ECP Server logs for benchmarks.

    python bench/gen_logs.py bench/out/host1 --size-gb 1.0
    python bench/gen_logs.py bench/out/many1 --size-gb 0.9 --shape many   # ~5,000 hourly/daily files

Mostly benign traffic built from the line makers of ``tests/logfixtures.py`` (real headers and
column lists, made-up values), with a few attack lines (ProxyLogon SSRF, POSTs to /owa/auth/x.js,
ProxyShell autodiscover, OAB virtual directory tampering) at random places. Writes big chunks: about a
minute per GB. ``--shape big`` (the default) writes few large files (Exchange rolled by size); ``--shape many``
writes what a real server keeps for twenty days: an HttpProxy file per protocol per hour and an ECP Server file
per hour (sizes by protocol and hour of day), daily IIS files, and one ProxyLogon intrusion in a few of them.
Both shapes hold benign near-miss lines (OWA sign-in, ECP pages and health checks, virtual directory URLs) that
pass the literal gate at the share the examples show, as real servers' logs do (``--no-near-miss``: the former
host, byte for byte, whose lines nearly never pass it: a flattering host).
The output must stay out of git (``bench/out/`` is ignored).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from logfixtures import (  # the fixture module lives with the tests
    ECP_ATTACK_EVENT,
    ECP_SERVER_FIELDS,
    HTTPPROXY_ATTACK_CHANGES,
    HTTPPROXY_FIELDS,
    IIS_ATTACKS,
    PROTOCOLS,
    ecp_benign_event,
    ecp_server_line,
    exchange_header,
    httpproxy_line,
    httpproxy_values,
    iis_header,
    iis_line,
)

EXCHANGE = "C/Program Files/Microsoft/Exchange Server/V15/Logging"
EXCHANGE_FILE = 64 << 20  # Exchange rolls its logs by size; bigger files keep the file count sane
POOL = 4000  # distinct benign line bodies per log type
CHUNK = 20000  # lines written at once
ATTACKS_PER_FILE = 2


def _clock(second: int) -> str:
    return f"{second // 3600 % 24:02d}:{second // 60 % 60:02d}:{second % 60:02d}"


def _days(count: int) -> list[tuple[str, str]]:
    """(ISO day, YYMMDD) from 2021-03-01 on."""
    out = []
    for index in range(count):
        day = f"2021-03-{index + 1:02d}" if index < 31 else f"2021-04-{index - 30:02d}"
        out.append((day, day[2:].replace("-", "")))
    return out


# Benign lines that hold the literal gate's words, as real Exchange servers are full of (``--near-miss``): share
# of each log's lines (by protocol for HttpProxy). The examples' hosts pass 12-19 % of IIS lines, 2.7-5.9 % of
# HttpProxy lines and 0-3.7 % of ECP Server lines to the detectors (``bench_scan.py HOST --gate-share``); without these
# lines this host passed 3 of 1.5 M HttpProxy and ECP lines and ~0 of its IIS lines. With them: about 12 %,
# 3.5 % and 2 %.
NEAR_MISS_IIS = 0.12
NEAR_MISS_PROXY = {"Owa": 0.08, "Ecp": 0.45}
NEAR_MISS_ECP = 0.02
BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/88.0.4324.190 "
    "Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 11_2_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/14.0.3 "
    "Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:86.0) Gecko/20100101 Firefox/86.0",
)
LOGON_QUERY = "url=https%3a%2f%2fmail.contoso.com%2fowa%2f&reason=0"


def _canary(rng: random.Random) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789-_") for _ in range(64))


def iis_near_miss(rng: random.Random, day: str) -> str:
    """An ordinary OWA sign-in or ECP page request: holds '/owa/auth/' or '/ecp/' and 'POST'."""
    agent = rng.choice(BROWSERS).replace(" ", "+")
    client = f"192.168.{rng.randrange(1, 250)}.{rng.randrange(1, 250)}"
    user = rng.choice(("jdoe@contoso.com", "asmith@contoso.com", "CONTOSO\\admin"))
    kind = rng.randrange(3)
    if kind == 0:
        request = f"GET /owa/auth/logon.aspx {LOGON_QUERY} 443 - {client} {agent} - 200"
    elif kind == 1:
        request = (f"POST /owa/auth.owa - 443 {user} {client} {agent} "
                   f"https://mail.contoso.com/owa/auth/logon.aspx?{LOGON_QUERY} 302")
    else:
        action, schema = rng.choice((("GetList", "MailboxService"), ("GetList", "RecipientManagement"),
                                     ("GetObject", "MailboxPropertiesService"), ("GetList", "OABVirtualDirectory")))
        request = (f"POST /ecp/DDI/DDIService.svc/{action} schema={schema}&msExchEcpCanary={_canary(rng)} 443 "
                   f"{user} {client} {agent} https://mail.contoso.com/ecp/ 200")
    return f"10.0.0.5 {request} 0 0 {rng.randrange(1, 900)}"


def httpproxy_near_miss(rng: random.Random, day: str, protocol: str) -> str:
    """Anonymous requests every front end logs: OWA's sign-in page, a load balancer's ECP health check, the
    redirect of a signed-out ECP user (HttpProxy marks them IsAuthenticated=False)."""
    values = httpproxy_values(rng, day, 0, protocol)
    values.update({"AuthenticationType": "", "IsAuthenticated": "False", "AuthenticatedUser": "",
                   "AnchorMailbox": "", "Method": "GET", "ProtocolAction": "", "RoutingType": ""})
    if protocol == "Owa":
        values.update({"UrlStem": "/owa/auth/logon.aspx", "UrlQuery": "?" + LOGON_QUERY,
                       "UserAgent": rng.choice(BROWSERS), "RoutingHint": "AnonymousResourceBackend"})
    elif rng.random() < 0.7:
        values.update({"UrlStem": "/ecp/healthcheck.htm", "UserAgent": "", "RoutingHint":
                       "AnonymousResourceBackend", "ClientIpAddress": f"10.0.0.{rng.randrange(2, 4)}"})
    else:
        values.update({"UrlStem": "/ecp/", "HttpStatus": "302", "BackEndStatus": "", "TargetServer": "",
                       "TargetServerVersion": "", "ProxyAction": "", "UserAgent": rng.choice(BROWSERS)})
    return httpproxy_line(values).split(",", 1)[1]


def ecp_near_miss(rng: random.Random) -> str:
    """An administrator setting a virtual directory's URL in the ECP (the words 'VirtualDirectory' and 'Url')."""
    directory, path = rng.choice((("Oab", "OAB"), ("Owa", "owa"), ("Ecp", "ecp"), ("WebServices",
                                                                                    "EWS/Exchange.asmx")))
    which = rng.choice(("ExternalUrl", "InternalUrl"))
    folder = path.split("/")[0]
    return (f"S:CMD=Set-{directory}VirtualDirectory.{which}='https://mail.contoso.com/{path}'."
            f"Identity='EX01\\{folder} (Default Web Site)';S:Status=Success")


class Writer:
    def __init__(self, root: Path, seed: int, near_miss: bool = False) -> None:
        self.root = root
        self.rng = random.Random(seed)
        # the near-miss lines come from their own generator: without them the host is the former one, byte for byte
        self.near = random.Random(seed + 2) if near_miss else None
        self.attacks: list[dict[str, object]] = []
        self.bytes = 0
        self.pools: dict[tuple[str, str, str], list[str]] = {}
        self.near_pools: dict[tuple[str, str, str], list[str]] = {}

    def _near(self, key: tuple[str, str, str], share: float, make: Callable[[random.Random], str]
              ) -> tuple[float, list[str]] | None:
        """The share of a log's benign lines to write as near-miss ones, and their bodies (``POOL // 8``)."""
        if self.near is None or share <= 0:
            return None
        pool = self.near_pools.get(key)
        if pool is None:
            pool = self.near_pools[key] = [make(self.near) for _ in range(POOL // 8)]
        return share, pool

    def _write(self, path: Path, header: str, body_for: list[str], size: int, stamp: str, attack: list[str],
               start_second: int = 0, near: tuple[float, list[str]] | None = None) -> None:
        """Write ``size`` bytes of lines: stamp.format(second) + a pooled body, attacks at random lines.
        ``near``: (share, bodies): that share of the benign lines written with a near-miss body instead, drawn
        from ``self.near``; the lines, sizes and attacks are otherwise those written without (the file is as
        long in lines as it would have been, its attacks on the same lines)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        rng = self.rng
        written = 0
        line_no = header.count("\n")
        second = start_second
        average = sum(len(b) for b in body_for[:200]) / 200 + 30
        total_lines = max(1, int(size / average))
        attack_at = sorted(rng.sample(range(total_lines), min(len(attack), total_lines)))
        with path.open("wb") as out:
            out.write(header.encode())
            written += len(header)
            index = 0
            shift = 0  # bytes the near-miss bodies of this chunk wrote fewer than the bodies they replaced
            real = len(header)  # bytes written (``written`` counts as without near-miss lines)
            while written < size:
                lines = []
                floor = 1000 if size >= 16 << 20 else 1  # small files: no 1000-line minimum
                wanted = min(CHUNK, max(floor, int((size - written) / average) + 1))
                for body in rng.choices(body_for, k=wanted):
                    if attack_at and index == attack_at[0]:
                        attack_at.pop(0)
                        text = attack.pop(0).replace("{STAMP}", stamp.format(clock=_clock(second),
                                                                              ms=rng.randrange(1000)))
                        self.attacks.append({"path": path.relative_to(self.root).as_posix(),
                                             "line": line_no + index + 1, "text": text[:120]})
                        lines.append(text)
                    else:
                        line = stamp.format(clock=_clock(second), ms=rng.randrange(1000))
                        if near is not None and self.near is not None and self.near.random() < near[0]:
                            shift += len(body)  # counted as the former body, so the main sequence stays the same
                            body = self.near.choice(near[1])
                            shift -= len(body)
                        lines.append(line + body)
                    index += 1
                    if rng.random() < 0.1:
                        second = min(second + 1, 86399)
                chunk = ("\r\n".join(lines) + "\r\n").encode()
                out.write(chunk)
                written += len(chunk) + shift
                real += len(chunk)
                shift = 0
        self.bytes += real

    def iis(self, day: str, short: str, size: int, attacks_in_file: int = ATTACKS_PER_FILE) -> None:
        pool = [iis_line(self.rng, day, 0).split(" ", 2)[2] for _ in range(POOL)]
        attacks = [a.format(d="{STAMP}", t="").replace("{STAMP}  ", "{STAMP}", 1) for a in IIS_ATTACKS]
        chosen = self.rng.sample(attacks, attacks_in_file)
        path = self.root / "C/inetpub/logs/LogFiles/W3SVC1" / f"u_ex{short}.log"
        near = self._near(("iis", day, ""), NEAR_MISS_IIS, lambda rng: iis_near_miss(rng, day))
        self._write(path, iis_header(day), pool, size, f"{day} {{clock}} ", chosen, near=near)

    def httpproxy(self, day: str, protocol: str, number: int, size: int, attacks_in_file: int = ATTACKS_PER_FILE,
                  hour: int = 0) -> None:
        key = ("httpproxy", day, protocol)
        pool = self.pools.get(key) or self.pools.setdefault(key, [
            httpproxy_line(httpproxy_values(self.rng, day, 0, protocol)).split(",", 1)[1] for _ in range(POOL // 4)])
        attacks = []
        for change in HTTPPROXY_ATTACK_CHANGES:
            values = httpproxy_values(self.rng, day, 0, protocol)
            values.update(change)
            attacks.append("{STAMP}" + httpproxy_line(values).split(",", 1)[1])
        path = (self.root / EXCHANGE / "HttpProxy" / protocol
                / f"HttpProxy_{day.replace('-', '')}{hour:02d}-{number}.LOG")
        near = self._near(key, NEAR_MISS_PROXY.get(protocol, 0.0), lambda rng: httpproxy_near_miss(rng, day, protocol))
        self._write(path, exchange_header("HttpProxy Logs", HTTPPROXY_FIELDS, day), pool, size,
                    f"{day}T{{clock}}.{{ms:03d}}Z,", attacks[:attacks_in_file], hour * 3600, near)

    def ecp(self, day: str, number: int, size: int, attacks_in_file: int = 1, hour: int = 0) -> None:
        key = ("ecp", day, "")
        pool = self.pools.get(key) or self.pools.setdefault(key, [
            ecp_server_line(self.rng, day, 0, ecp_benign_event(self.rng)).split(",", 1)[1] for _ in range(POOL)])
        attack = "{STAMP}" + ecp_server_line(self.rng, day, 0, ECP_ATTACK_EVENT).split(",", 1)[1]
        path = self.root / EXCHANGE / "ECP" / "Server" / f"ECPServer_{day.replace('-', '')}{hour:02d}-{number}.LOG"
        near = self._near(key, NEAR_MISS_ECP,
                          lambda rng: ecp_server_line(rng, day, 0, ecp_near_miss(rng)).split(",", 1)[1])
        self._write(path, exchange_header("ECP Server Logs", ECP_SERVER_FIELDS, day), pool, size,
                    f"{day}T{{clock}}.{{ms:03d}}Z,", [attack][:attacks_in_file], hour * 3600, near)


def generate(root: Path, size_gb: float, seed: int = 2021, near_miss: bool = True) -> Writer:
    total = int(size_gb * (1 << 30))
    writer = Writer(root, seed, near_miss)
    iis_share, proxy_share, ecp_share = int(total * 0.45), int(total * 0.45), int(total * 0.10)
    days = _days(max(1, iis_share // (100 << 20)))
    for day, short in days:
        writer.iis(day, short, iis_share // len(days))
    files = max(len(PROTOCOLS), proxy_share // EXCHANGE_FILE)
    for index in range(files):
        day = days[index % len(days)][0]
        writer.httpproxy(day, PROTOCOLS[index % len(PROTOCOLS)], index // len(PROTOCOLS) + 1, proxy_share // files)
    ecp_files = max(1, ecp_share // EXCHANGE_FILE)
    for index in range(ecp_files):
        writer.ecp(days[index % len(days)][0], index + 1, ecp_share // ecp_files)
    return writer


# Relative size of one hour of HttpProxy log per protocol on a mid-size server, and of each hour of the day.
PROTOCOL_WEIGHT = {"Owa": 8, "Ews": 6, "Eas": 7, "Mapi": 6, "RpcHttp": 2, "Autodiscover": 3, "Ecp": 1.2,
                   "PowerShell": 0.6, "Oab": 0.4}
HOUR_WEIGHT = [0.3] * 6 + [0.8, 1.5, 2, 2, 2, 1.8, 1.5, 2, 2, 2, 1.8, 1.2, 0.8, 0.6, 0.5, 0.4, 0.3, 0.3]
INTRUSION_DAY = 2  # the third day: one ProxyLogon intrusion, early morning


def generate_many(root: Path, size_gb: float, seed: int = 2021, days: int = 20, near_miss: bool = True) -> Writer:
    """Twenty days as a real Exchange server writes them: ~4,800 hourly files and the daily IIS logs."""
    total = int(size_gb * (1 << 30))
    writer = Writer(root, seed, near_miss)
    rng = random.Random(seed + 1)
    iis_share, proxy_share, ecp_share = int(total * 0.40), int(total * 0.55), int(total * 0.05)
    calendar = _days(days)
    protocol_total = sum(PROTOCOL_WEIGHT.values()) * sum(HOUR_WEIGHT) * days
    for index, (day, short) in enumerate(calendar):
        attack_day = index == INTRUSION_DAY
        writer.iis(day, short, int(iis_share / days * rng.uniform(0.8, 1.2)), 2 if attack_day else 0)
        for hour, hour_weight in enumerate(HOUR_WEIGHT):
            for protocol, weight in PROTOCOL_WEIGHT.items():
                size = int(proxy_share * weight * hour_weight / protocol_total * rng.uniform(0.7, 1.3))
                attacks = 2 if attack_day and hour == 4 and protocol == "Ecp" else 0
                writer.httpproxy(day, protocol, 1, max(size, 2000), attacks, hour)
            size = int(ecp_share * hour_weight / (sum(HOUR_WEIGHT) * days) * rng.uniform(0.7, 1.3))
            writer.ecp(day, 1, max(size, 1000), 1 if attack_day and hour == 5 else 0, hour)
    return writer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="output folder (the host root); use bench/out/... or /tmp")
    parser.add_argument("--size-gb", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--shape", choices=("big", "many"), default="big",
                        help="few big files (default) or ~5,000 hourly/daily files as a real server keeps them")
    parser.add_argument("--near-miss", action=argparse.BooleanOptionalAction, default=True,
                        help="benign lines that pass the literal gate at the examples' share (default); "
                             "--no-near-miss writes the former host, byte for byte (nearly no line passes the gate: "
                             "5 of 3.75 M on the many-files host)")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.shape == "many":
        writer = generate_many(args.out, args.size_gb, args.seed, near_miss=args.near_miss)
    else:
        writer = generate(args.out, args.size_gb, args.seed, near_miss=args.near_miss)
    listing = args.out.parent / f"{args.out.name}.attacks.json"  # beside the host, not inside it
    listing.write_text(json.dumps(writer.attacks, indent=1) + "\n")
    elapsed = time.perf_counter() - started
    files = sum(1 for p in args.out.rglob("*") if p.is_file())
    print(f"wrote {writer.bytes / (1 << 20):.0f} MiB in {files} files under {args.out} in {elapsed:.1f} s; "
          f"{len(writer.attacks)} attack lines listed in {listing}")


if __name__ == "__main__":
    main()
