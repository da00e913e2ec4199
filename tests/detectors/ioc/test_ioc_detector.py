"""The IOC detector on a synthetic host: events and files, shipped pack plus a user feed."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from exhunt.content.bundle import ContentBundle, ContentSpec
from exhunt.detectors.base import HostContext
from exhunt.detectors.ioc import family
from exhunt.model.coverage import HostCoverage
from exhunt.model.event import Record
from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.model.finding import Outcome
from exhunt.sources.directory import DirectoryTree

SHELL = b'<%@ Page Language="C#"%><% Response.Write("synthetic test page"); %>\n'
IIS_LOG = "C/inetpub/logs/LogFiles/W3SVC1/u_ex210303.log"


def make_host(tmp_path: Path) -> tuple[HostContext, ContentBundle]:
    root = tmp_path / "ex01"
    page = root / "C/inetpub/wwwroot/aspnet_client/system_web/zz.aspx"
    page.parent.mkdir(parents=True)
    page.write_bytes(SHELL)
    (root / "C/Users/bob").mkdir(parents=True)
    (root / "C/Users/bob/readme.txt").write_bytes(b"nothing to see")
    feed = tmp_path / "feed.csv"
    feed.write_text("value,type,notes\n"
                    f"{hashlib.sha256(SHELL).hexdigest()},sha256,test shell\n"
                    "198.51.100.0/24,cidr,test range\n")
    tree = DirectoryTree(root, name="ex01")
    artifacts = [Artifact(ArtifactKind.FILE, e.path, e.size, e.mtime) for e in tree.walk()]
    ctx = HostContext("ex01", tree, artifacts, HostCoverage())
    bundle = ContentBundle(ContentSpec(ioc_paths=(str(feed),)))
    family.load(bundle)
    assert bundle.errors == []
    return ctx, bundle


def iis(line: int, ip: str, ua: str, stem: str = "/owa/auth/x.js") -> Record:
    raw = f"2021-03-03 06:49:{line:02d} 10.0.0.5 POST {stem} - 443 - {ip} {ua.replace(' ', '+')} - 200 0 0 15"
    return Record(ArtifactKind.IIS, IIS_LOG, {"c-ip": ip, "cs(User-Agent)": ua, "cs-uri-stem": stem}, raw=raw,
                  line=line, offset=100 * line, timestamp=f"2021-03-03T06:49:{line:02d}Z")


def test_events_and_files(tmp_path: Path) -> None:
    ctx, bundle = make_host(tmp_path)
    detector = family.create(bundle, {})
    interest = detector.interest(ArtifactKind.IIS)
    assert interest is not None and interest.literals is not None
    assert {"203.160.69.66", "198.51.100.", "python-requests/2.25.1"} <= interest.literals
    assert detector.interest(ArtifactKind.FILE) is None
    for record in [iis(10, "203.160.69.66", "python-requests/2.25.1"), iis(11, "203.160.69.66", "Mozilla/5.0"),
                   iis(12, "198.51.100.23", "Mozilla/5.0"), iis(13, "192.0.2.1", "Mozilla/5.0")]:
        detector.on_record(record, ctx)
    for artifact in ctx.artifacts:
        detector.on_file(artifact, ctx)
    findings = detector.finish(ctx)
    by_rule = {(f.rule_id, f.attr_values("indicator")[0]): f for f in findings}
    assert sorted(by_rule) == [
        ("EXH-IOC-CIDR", "198.51.100.0/24"),
        ("EXH-IOC-IP", "203.160.69.66"),
        ("EXH-IOC-PATH", "C:\\inetpub\\wwwroot\\aspnet_client\\*.aspx"),
        ("EXH-IOC-SHA256", hashlib.sha256(SHELL).hexdigest()),
        ("EXH-IOC-USER-AGENT", "python-requests/2.25.1"),
    ]
    ip = by_rule[("EXH-IOC-IP", "203.160.69.66")]
    assert ip.evidence_total == 2 and [e.line for e in ip.evidence] == [10, 11]
    assert ip.first_seen == "2021-03-03T06:49:10Z" and ip.last_seen == "2021-03-03T06:49:11Z"
    assert "Volexity" in ip.attr_values("ioc_source")[0] and ip.outcome == Outcome.SUSPICIOUS
    sha = by_rule[("EXH-IOC-SHA256", hashlib.sha256(SHELL).hexdigest())]
    assert sha.attr_values("file_name") == ["zz.aspx"] and sha.severity.label == "high"
    assert sha.evidence[0].sha256 == hashlib.sha256(SHELL).hexdigest()
    assert sha.description.startswith("test shell") and sha.attr_values("ioc_source") == [str(tmp_path / "feed.csv")]
    path = by_rule[("EXH-IOC-PATH", "C:\\inetpub\\wwwroot\\aspnet_client\\*.aspx")]
    assert path.attr_values("step") == ["webshell-write"] and "T1505.003" in path.attack


def test_no_indicators_no_interest(tmp_path: Path) -> None:
    bundle = ContentBundle(ContentSpec(shipped=False))
    family.load(bundle)
    detector = family.create(bundle, {})
    assert detector.interest(ArtifactKind.IIS) is None


def test_raw_gate_skips_only_what_cannot_match(tmp_path: Path) -> None:
    ctx, bundle = make_host(tmp_path)
    detector = family.create(bundle, {})
    no_raw = Record(ArtifactKind.EVTX, "C/Windows/System32/winevt/Logs/Security.evtx",
                    {"IpAddress": "203.160.69.66", "EventID": 4625}, record=41)  # no raw text: fields decide
    benign = iis(20, "192.0.2.44", "Mozilla/5.0")
    upper = Record(ArtifactKind.JSON_EVENTS, "events.json", {"SourceIp": "203.160.69.66"},
                   raw='{"SourceIp": "203.160.69.66"}', line=3)
    for record in (no_raw, benign, upper):
        detector.on_record(record, ctx)
    ip = [f for f in detector.finish(ctx) if f.rule_id == "EXH-IOC-IP"]
    assert len(ip) == 1 and ip[0].evidence_total == 2
    assert sorted(ip[0].attr_values("source_kind")) == ["evtx", "json_events"]


def test_hash_scope_none_is_said(tmp_path: Path) -> None:
    ctx, bundle = make_host(tmp_path)
    detector = family.create(bundle, {"ioc_hash_scope": "none"})
    for artifact in ctx.artifacts:
        detector.on_file(artifact, ctx)
    findings = detector.finish(ctx)
    assert [f.rule_id for f in findings] == ["EXH-IOC-PATH"]  # names and paths still checked
    assert any("ioc_hash_scope=none" in note for note in ctx.coverage.notes)


def test_hashes_come_from_the_yara_sweep(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from exhunt.detectors.ioc import detector as ioc_detector
    from exhunt.detectors.yara import family as yara_family

    ctx, bundle = make_host(tmp_path)
    yara_family.load(bundle)
    sweep = yara_family.create(bundle, {})
    iocs = family.create(bundle, {})
    sweep.start(ctx)  # hashes every swept file as it reads it, because hash indicators are loaded
    assert sorted(ctx.digests) == ["C/inetpub/wwwroot/aspnet_client/system_web/zz.aspx"]

    def no_second_read(*_: object) -> None:
        raise AssertionError("file read a second time for hashing")

    monkeypatch.setattr(ioc_detector, "hash_file", no_second_read)
    for artifact in ctx.artifacts:
        iocs.on_file(artifact, ctx)
    assert "EXH-IOC-SHA256" in {f.rule_id for f in iocs.finish(ctx)}
    assert ctx.sha256("C/inetpub/wwwroot/aspnet_client/system_web/zz.aspx") == hashlib.sha256(SHELL).hexdigest()
