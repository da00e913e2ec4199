"""Silent loss inside logs (#14): damaged text and event logs are read as far as they can be, and what was
lost is said, with its location, in coverage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hostilefixtures import IIS_LOG, findings, hosts, iis_text, jsonl, make_host, scan, warnings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EVTX_SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "evtx" / "omerbenamram-evtx"
SECURITY_JSON = "C/Windows/System32/winevt/Logs/exported/Security.jsonl"


def _scan(tmp_path: Path, files: dict[str, bytes]) -> tuple[int, dict[str, Any], list[dict[str, Any]]]:
    host = make_host(tmp_path / "ex01", files)
    out = tmp_path / "out.jsonl"
    code = scan(host, "-f", "jsonl", "-o", out)
    lines = jsonl(out)
    return code, hosts(lines)["ex01"], lines


def _source(host: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in host["coverage"]["sources"] if s["source"] == name)


def _iis_rules(lines: list[dict[str, Any]]) -> set[str]:
    return {f["rule_id"] for f in findings(lines, "ex01") if f["evidence"][0]["path"] == IIS_LOG}


def test_one_nul_byte_early_in_a_log_costs_its_line_only(tmp_path: Path) -> None:
    lines = iis_text().split("\r\n")
    lines[8] = lines[8][:10] + "\x00" + lines[8][10:]  # one NUL inside a line, far in the first 64 KiB
    lines[9] = "\x00" * 300 + lines[9]  # a preallocated region before a line
    code, host, found = _scan(tmp_path, {IIS_LOG: "\r\n".join(lines).encode()})
    assert code == 1 and "EXH-PL-26855-IIS-POST" in _iis_rules(found)
    [nul] = warnings(host, "nul-bytes")
    assert nul["path"] == IIS_LOG and nul["line"] == 9 and "lines 9-10" in nul["message"]
    assert "1 line(s) unreadable" in nul["message"]
    assert _source(host, "iis")["status"] == "partial"


def test_a_utf16_iis_log_is_parsed(tmp_path: Path) -> None:
    code, host, found = _scan(tmp_path, {IIS_LOG: b"\xff\xfe" + iis_text().encode("utf-16-le")})
    assert code == 1 and "EXH-PL-26855-IIS-POST" in _iis_rules(found)
    assert _source(host, "iis")["records"] > 40


def test_cr_only_line_endings_are_read(tmp_path: Path) -> None:
    code, host, found = _scan(tmp_path, {IIS_LOG: iis_text().replace("\r\n", "\r").encode()})
    assert code == 1 and "EXH-PL-26855-IIS-POST" in _iis_rules(found)
    assert _source(host, "iis")["records"] == 43 and warnings(host, "cr-only")


def test_garbled_lines_are_not_counted_as_records(tmp_path: Path) -> None:
    lines = iis_text().split("\r\n")
    lines[6:6] = ["this line is garbage", "and so is this one"]
    text = "\r\n".join(lines)
    _, host, _ = _scan(tmp_path, {IIS_LOG: text.encode()})
    assert _source(host, "iis")["records"] == 43
    assert len(warnings(host, "bad-line")) == 2


def test_a_malformed_fields_header_is_warned_and_repaired(tmp_path: Path) -> None:
    text = iis_text()
    start = text.index("#Fields: ") + len("#Fields: ")
    end = text.index("\r\n", start)
    text = f"{text[:start]}['{text[start:end]}']{text[end:]}"
    code, host, found = _scan(tmp_path, {IIS_LOG: text.encode()})
    assert code == 1 and "EXH-PL-26855-IIS-POST" in _iis_rules(found)
    assert warnings(host, "bad-header")


def test_a_json_export_with_one_bad_first_line(tmp_path: Path) -> None:
    events = (EXAMPLES / "exchange-2019-compromised" / SECURITY_JSON).read_bytes()
    _, host, _ = _scan(tmp_path, {SECURITY_JSON: b'{"System": {"EventID": 46\n' + events})
    source = _source(host, "json_events")
    assert source["status"] == "read" and source["records"] == len(events.splitlines())
    assert [w["line"] for w in warnings(host, "bad-json") if "line" in w] == [1]


@pytest.mark.skipif(not EVTX_SAMPLES.is_dir(), reason=f"shared EVTX corpus absent: {EVTX_SAMPLES}")
def test_a_truncated_evtx_is_partial_and_says_what_is_missing(tmp_path: Path) -> None:
    data = (EVTX_SAMPLES / "security.evtx").read_bytes()
    path = "C/Windows/System32/winevt/Logs/Security.evtx"
    _, host, _ = _scan(tmp_path, {path: data[: 4096 + 65536 * 3 + 1000]})
    assert _source(host, "evtx")["status"] == "partial"
    [cut] = warnings(host, "truncated")
    assert cut["path"] == path and "23 chunk(s) are lost" in cut["message"]


def test_a_hostile_host_gives_the_same_bytes_twice(tmp_path: Path) -> None:
    lines = iis_text().split("\r\n")
    lines[8] = "\x00" + lines[8]
    host = make_host(tmp_path / "ex01", {IIS_LOG: "\r\n".join(lines).encode(), "C/Temp/\x1b[2J.txt": b"x"})
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert scan(host, "-f", "jsonl", "-o", first) == scan(host, "-f", "jsonl", "-o", second) == 1
    assert first.read_bytes() == second.read_bytes()
