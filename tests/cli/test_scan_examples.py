"""`exhunt scan` end to end: the bundled example hosts, the JSONL schema, exit codes, determinism, and
malformed input (warnings with their location, the rest still scanned, no crash)."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import orjson
import pytest

from exhunt.cli.main import main
from exhunt.cli.status import ExitCode
from logfixtures import HTTPPROXY_FIELDS

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
V15 = "C/Program Files/Microsoft/Exchange Server/V15"
FINDING_KEYS = {"type", "schema", "host", "rule_id", "title", "severity", "confidence", "outcome", "detector",
                "cves", "attack", "first_seen", "last_seen", "description", "evidence_total", "evidence",
                "attributes", "evidence_class", "status"}
HOST_KEYS = {"type", "schema", "host", "evidence", "verdict", "verdict_reasons", "finding_count", "coverage",
             "exposure", "timeline", "tlp"}


def scan(tmp_path: Path, *evidence: Path, name: str = "out.jsonl") -> tuple[int, list[dict[str, Any]]]:
    out = tmp_path / name
    code = main(["scan", *map(str, evidence), "-f", "jsonl", "-o", str(out), "--no-progress"])
    return code, [orjson.loads(line) for line in out.read_bytes().splitlines()]


def hosts(lines: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {line["host"]: line for line in lines if line["type"] == "host"}


@pytest.mark.parametrize(("host", "verdict", "code"), [
    ("exchange-2019-compromised", "compromised", ExitCode.FINDINGS),
    ("exchange-2019-clean", "no sign found", ExitCode.CLEAN),
    ("exchange-2019-probed", "exploitation attempted", ExitCode.FINDINGS),
    ("exchange-2016-proxyshell", "compromised", ExitCode.FINDINGS),
])
def test_example_hosts_verdicts_and_exit_codes(tmp_path: Path, host: str, verdict: str, code: ExitCode) -> None:
    got, lines = scan(tmp_path, EXAMPLES / host)
    assert hosts(lines)[host]["verdict"] == verdict
    assert got == code


def test_compromised_example_chain_and_evidence(tmp_path: Path) -> None:
    _, lines = scan(tmp_path, EXAMPLES / "exchange-2019-compromised")
    findings = [line for line in lines if line["type"] == "finding"]
    rules = {f["rule_id"] for f in findings}
    assert {"EXH-PL-26855-SSRF", "EXH-PL-27065-ECP-VDIR-SCRIPT", "EXH-PL-26858-OAB-WRITE", "EXH-PL-26857-UM-CAST",
            "EXH-FILE-WEBSHELL-EXCHANGE-AUTH", "EXH-FILE-LSASS-DUMP", "EXH-PX-W3WP-SHELL"} <= rules
    ssrf = next(f for f in findings if f["rule_id"] == "EXH-PL-26855-SSRF" and f["outcome"] == "succeeded")
    ref = ssrf["evidence"][0]
    assert ref["path"].startswith(f"{V15}/Logging/HttpProxy/") and ref["line"] > 0 and len(ref["sha256"]) == 64
    data = (EXAMPLES / "exchange-2019-compromised" / ref["path"]).read_bytes()
    assert data[ref["offset"]:].startswith(ref["excerpt"][:60].encode())
    assert ssrf["cves"] == ["CVE-2021-26855"] and "T1190" in ssrf["attack"]
    shell = next(f for f in findings if f["rule_id"] == "EXH-FILE-WEBSHELL-EXCHANGE-AUTH")
    assert shell["outcome"] == "confirmed"
    host = hosts(lines)["exchange-2019-compromised"]
    steps = [entry["step"] for entry in host["timeline"]]
    assert steps.index("initial-access") < steps.index("webshell-write") < steps.index("credential-access")
    assert host["exposure"]["label"].startswith("Exchange Server 2019")


def test_jsonl_schema(tmp_path: Path) -> None:
    _, lines = scan(tmp_path, EXAMPLES / "exchange-2019-compromised", EXAMPLES / "exchange-2019-clean")
    kinds = [line["type"] for line in lines]
    assert kinds == sorted(kinds, key=lambda k: k != "finding"), "findings first, then hosts"
    for line in lines:
        assert line["schema"] == 1
        if line["type"] == "finding":
            assert FINDING_KEYS <= set(line) <= FINDING_KEYS | {"evidence_files"}
            if "evidence_files" in line:  # every file that gave evidence, counted
                assert sum(f["count"] for f in line["evidence_files"]) == line["evidence_total"]
            assert line["severity"] in {"info", "low", "medium", "high", "critical"}
            assert line["outcome"] in {"attempted", "succeeded", "suspicious", "confirmed", "informational"}
            assert line["evidence_class"] in {"compromise", "attempt", "weak", "known-benign", "context"}
            assert line["status"] in {"", "suppressed: known benign"}
            assert line["evidence_total"] >= len(line["evidence"]) >= 1
            for ref in line["evidence"]:
                assert "path" in ref and not ref["path"].startswith("/")
        else:
            assert set(line) == HOST_KEYS
            for source in line["coverage"]["sources"]:
                assert source["status"] in {"read", "partial", "missing", "unreadable", "not_applicable"}


def test_same_input_same_output(tmp_path: Path) -> None:
    host = EXAMPLES / "exchange-2019-compromised"
    _, first = scan(tmp_path, host, name="a.jsonl")
    _, second = scan(tmp_path, host, name="b.jsonl")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert first == second


def _httpproxy_line(n: int, anchor: str = "Smtp:alice@contoso.com") -> str:
    values = [""] * len(HTTPPROXY_FIELDS)
    values[0] = f"2021-03-03T04:{n // 60 % 60:02d}:{n % 60:02d}.000Z"
    values[7], values[9], values[15], values[17], values[19], values[20] = (
        "Ecp", "/ecp/default.aspx", anchor, "10.0.0.9", "200", "200")
    return ",".join(values)


def test_malformed_input_warns_with_location_and_scans_the_rest(tmp_path: Path) -> None:
    host = tmp_path / "ex09"
    logs = host / V15 / "Logging" / "HttpProxy" / "Ecp"
    logs.mkdir(parents=True)
    header = ("#Software: Microsoft Exchange Server\r\n#Version: 15.02.0792.003\r\n"
              f"#Fields: {','.join(HTTPPROXY_FIELDS)}\r\n")
    body = [_httpproxy_line(n) for n in range(2000)]
    body[1500] = _httpproxy_line(1500, "ServerInfo~a]@ex01.contoso.local:444/ecp/DDI/DDIService.svc/GetList?#")
    body[10] = "garbage that is no csv row at all"
    (logs / "HttpProxy_2021030304-1.LOG").write_text(header + "\r\n".join(body) + "\r\n", encoding="utf-8")
    (logs / "HttpProxy_2021030305-1.LOG").write_bytes(b"MZ\x90\x00\x03\x00\x00\x00" + bytes(range(256)) * 40)
    long_line = _httpproxy_line(1) + "x" * (10 << 20)
    (logs / "HttpProxy_2021030306-1.LOG").write_text(header + long_line + "\r\n" + _httpproxy_line(2) + "\r\n")
    (logs / "HttpProxy_2021030307-1.LOG").write_bytes((header + _httpproxy_line(3) + "\r\n").encode()
                                                         + _httpproxy_line(4).encode()[:40])
    (logs / "HttpProxy_2021030308-1.LOG").write_bytes(header.encode() + _httpproxy_line(5).encode()
                                                         .replace(b"alice", b"al\xff\xfece") + b"\r\n")
    (logs / "HttpProxy_2021030309-1.LOG").write_bytes(b"")
    code, lines = scan(tmp_path, host)
    result = hosts(lines)["ex09"]
    assert result["verdict"] == "compromised", "the SSRF row after the garbage is still found"
    warnings = result["coverage"]["warnings"]
    by_file = {w["path"].rsplit("/", 1)[-1]: w for w in warnings}
    assert by_file["HttpProxy_2021030304-1.LOG"]["line"] == 14  # 3 header lines + row 11
    assert by_file["HttpProxy_2021030305-1.LOG"]["code"] == "binary"
    assert by_file["HttpProxy_2021030306-1.LOG"]["code"] == "too-long"
    assert by_file["HttpProxy_2021030307-1.LOG"]["code"] == "truncated"
    assert by_file["HttpProxy_2021030308-1.LOG"]["code"] == "decode"
    assert by_file["HttpProxy_2021030309-1.LOG"]["code"] == "empty"
    assert code == ExitCode.FINDINGS


def test_zip_with_traversal_names_is_read_safely(tmp_path: Path) -> None:
    archive = tmp_path / "ex10.zip"
    source = EXAMPLES / "exchange-2019-probed"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(source.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(source).as_posix())
        zf.writestr("../../outside.aspx", "<%eval(Request.Item[\"x\"],\"unsafe\");%>")
    code, lines = scan(tmp_path, archive)
    result = hosts(lines)["ex10"]
    assert result["verdict"] == "exploitation attempted"
    assert any(w["code"] == "unsafe-name" for w in result["coverage"]["warnings"])
    assert not (tmp_path.parent / "outside.aspx").exists()
    assert code == ExitCode.FINDINGS


def test_evidence_without_exchange_logs_could_not_assess(tmp_path: Path) -> None:
    (tmp_path / "ex11" / "C" / "Windows").mkdir(parents=True)
    (tmp_path / "ex11" / "C" / "Windows" / "win.ini").write_text("[fonts]\n")
    code, lines = scan(tmp_path, tmp_path / "ex11")
    assert hosts(lines)["ex11"]["verdict"] == "could not assess"
    assert code == ExitCode.PARTIAL
