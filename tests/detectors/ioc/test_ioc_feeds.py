"""Feed loaders: STIX 2.1 bundles, MISP events, CSV, plain lists; sources, errors and unsupported kept."""

from __future__ import annotations

import json
from pathlib import Path

from exhunt.detectors.ioc.feeds import load_feed
from exhunt.detectors.ioc.indicator import IocType

SHA = "2b6f1ebb2208e93ade4a6424555d6a8341fd6d9f60c25e44afe11008f5c1aad1"


def kinds(feed_indicators: list) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return sorted((i.type.value, i.value) for i in feed_indicators)


def test_stix_bundle(tmp_path: Path) -> None:
    bundle = {"type": "bundle", "id": "bundle--1", "objects": [
        {"type": "indicator", "id": "indicator--a", "spec_version": "2.1", "name": "Web shell",
         "description": "shell hash", "pattern_type": "stix",
         "pattern": f"[file:hashes.'SHA-256' = '{SHA}' OR file:name = 'xx.aspx']"},
        {"type": "indicator", "id": "indicator--b", "pattern_type": "stix",
         "pattern": "[ipv4-addr:value ISSUBSET '198.51.100.0/24'] OR [domain-name:value = 'evil.example.net']"},
        {"type": "indicator", "id": "indicator--c", "pattern_type": "stix",
         "pattern": "[file:name = 'a.aspx' AND file:size > 10]"},
        {"type": "indicator", "id": "indicator--d", "pattern_type": "stix",
         "pattern": "[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' = 'evil-ua/1.0']"
                    " WITHIN 60 SECONDS"},
        {"type": "indicator", "id": "indicator--e", "pattern_type": "stix",
         "pattern": "[windows-registry-key:key = 'HKLM\\\\Software\\\\x']"},
        {"type": "indicator", "id": "indicator--f", "pattern_type": "stix", "pattern": "[file:name = 'x'"},
        {"type": "indicator", "id": "indicator--g", "pattern_type": "sigma", "pattern": "title: x"},
        {"type": "indicator", "id": "indicator--h", "pattern_type": "stix",
         "pattern": "[directory:path = 'C:\\\\inetpub\\\\wwwroot\\\\aspnet_client']"},
        {"type": "malware", "id": "malware--1", "name": "China Chopper"},
    ]}
    path = tmp_path / "feed.json"
    path.write_text(json.dumps(bundle))
    feed = load_feed(path)
    assert kinds(feed.indicators) == [
        ("cidr", "198.51.100.0/24"), ("domain", "evil.example.net"), ("filename", "xx.aspx"),
        ("path", "*/inetpub/wwwroot/aspnet_client/*"), ("sha256", SHA), ("user_agent", "evil-ua/1.0")]
    shell = next(i for i in feed.indicators if i.type == IocType.SHA256)
    assert shell.description == "shell hash" and shell.ref == "indicator--a" and "Web shell" in shell.source
    reasons = {w.message.split(":")[0]: w.code for w in feed.unsupported}
    assert reasons["indicator--c"] == "stix-unsupported"  # AND inside one observation
    assert reasons["indicator--d"] == "stix-approximate"  # qualifier dropped, and said so
    assert reasons["indicator--e"] == "stix-unsupported"
    assert reasons["indicator--g"] == "stix-unsupported"
    assert [e.message.split(":")[0] for e in feed.errors] == ["indicator--f"]


def test_misp_event(tmp_path: Path) -> None:
    event = {"Event": {"uuid": "5f0c-1", "info": "Exchange intrusion", "Attribute": [
        {"type": "ip-dst|port", "value": "192.0.2.10|443", "to_ids": True, "uuid": "a1", "comment": "C2"},
        {"type": "filename|sha256", "value": f"errorEE.aspx|{SHA}", "to_ids": True, "uuid": "a2"},
        {"type": "user-agent", "value": "python-requests/2.25.1", "to_ids": True, "uuid": "a3"},
        {"type": "regkey", "value": "HKLM\\x", "to_ids": True},
        {"type": "domain", "value": "benign.example.org", "to_ids": False},
    ], "Object": [{"Attribute": [{"type": "url", "value": "hxxp://evil[.]example[.]net/a", "to_ids": True}]}]}}
    path = tmp_path / "misp.json"
    path.write_text(json.dumps(event))
    feed = load_feed(path)
    assert kinds(feed.indicators) == [
        ("filename", "erroree.aspx"), ("ip", "192.0.2.10"), ("sha256", SHA),
        ("url", "http://evil.example.net/a"), ("user_agent", "python-requests/2.25.1")]
    ip = next(i for i in feed.indicators if i.type == IocType.IP)
    assert ip.description == "C2" and ip.source == "MISP event 5f0c-1: Exchange intrusion"
    assert sorted(w.message for w in feed.unsupported) == [
        "1 MISP attribute(s) of type 'domain (to_ids false)' not matched (not an indicator exhunt can look for)",
        "1 MISP attribute(s) of type 'regkey' not matched (not an indicator exhunt can look for)"]


def test_csv_with_types_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "iocs.csv"
    path.write_text("Indicator,IndicatorType,Description\n"
                    "203.0.113.7,IPv4,scanner\n"
                    f"{SHA},FileHash-SHA256,shell\n"
                    "nothex,FileHash-SHA256,broken\n"
                    "HKLM\\x,RegistryKey,unknown type\n"
                    "C:\\inetpub\\wwwroot\\aspnet_client\\,FilePath,folder\n")
    feed = load_feed(path)
    assert kinds(feed.indicators) == [("ip", "203.0.113.7"), ("path", "*/inetpub/wwwroot/aspnet_client/*"),
                                      ("sha256", SHA)]
    assert [(e.line, e.code) for e in feed.errors] == [(4, "ioc-bad-value")]
    assert [(w.line, w.code) for w in feed.unsupported] == [(5, "ioc-unsupported")]
    assert feed.indicators[0].ref.endswith("iocs.csv:2")


def test_plain_list_infers_types(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_text("# analyst list\n203.0.113.0/24\nevil.example.net\nsupp0rt.aspx\n"
                    "d41d8cd98f00b204e9800998ecf8427e\nua: Mozilla/5.0 zgrab/0.x\n"
                    "https://evil.example.net/p\nwhat is this\n")
    feed = load_feed(path)
    assert kinds(feed.indicators) == [
        ("cidr", "203.0.113.0/24"), ("domain", "evil.example.net"), ("filename", "supp0rt.aspx"),
        ("md5", "d41d8cd98f00b204e9800998ecf8427e"), ("url", "https://evil.example.net/p"),
        ("user_agent", "mozilla/5.0 zgrab/0.x")]
    assert [(w.line, w.code) for w in feed.unsupported] == [(8, "ioc-untyped")]


def test_broken_json_has_a_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"type": "bundle",\n "objects": [\n')
    feed = load_feed(path)
    assert feed.errors and feed.errors[0].line is not None and feed.indicators == []
