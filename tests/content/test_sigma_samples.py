"""exhunt's own Sigma rules (``rules/sigma``): each loads, each positive sample fires, each negative stays
quiet, through the project's Sigma detector (routing by channel/event id, literal prefilter, matcher,
findings) exactly as a scan runs it. Then the rules meet real public data: the OTRF ProxyLogon and comsvcs
datasets must trigger them, the benign EVTX samples must not trigger any rule rated high or critical.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml

from exhunt.content.bundle import RULES_DIR
from exhunt.detectors.base import HostContext
from exhunt.detectors.sigma.compiled import CompiledRule
from exhunt.detectors.sigma.detector import SigmaDetector
from exhunt.detectors.sigma.family import SigmaContent
from exhunt.model.coverage import HostCoverage
from exhunt.model.event import Record
from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.model.finding import Finding, Severity
from exhunt.parsers.base import ParseReport
from exhunt.parsers.evtx import EvtxParser
from exhunt.parsers.jsonevents import JsonEventsParser
from exhunt.sources.base import HostTree
from exhunt.sources.directory import DirectoryTree
from exhunt.sources.ziparchive import ZipTree

SIGMA_DIR = RULES_DIR / "sigma"
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
OTRF = SHARED / "otrf"
EVTX = SHARED / "evtx"


@pytest.fixture(scope="module", params=["compiled", "cached"])
def content(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> SigmaContent:
    """The rules as compiled, and as a later run loads them from the content cache: both must behave."""
    sources = [(str(SIGMA_DIR), str(RULES_DIR))]
    if request.param == "compiled":
        return SigmaContent(sources)
    cache = str(tmp_path_factory.mktemp("sigma-cache"))
    SigmaContent(sources, cache_dir=cache)
    loaded = SigmaContent(sources, cache_dir=cache)
    assert loaded.from_cache
    return loaded


def findings(content: SigmaContent, records: Iterable[Record], tree: HostTree) -> list[Finding]:
    """What a fresh Sigma detector finds in ``records`` (one host)."""
    detector = SigmaDetector(content)
    ctx = HostContext(host="test", tree=tree, artifacts=[], coverage=HostCoverage())
    for record in records:
        detector.on_record(record, ctx)
    return detector.finish(ctx)


def hits(found: list[Finding]) -> Counter[str]:
    """Matched events per rule id."""
    counts: Counter[str] = Counter()
    for finding in found:
        counts[finding.rule_id] += finding.evidence_total
    return counts


def fired(content: SigmaContent, record: Record) -> set[str]:
    return set(hits(findings(content, [record], DirectoryTree(SIGMA_DIR))))


def sample_record(fields: dict[str, Any], kind: ArtifactKind) -> Record:
    return Record(kind=kind, path="sample", fields=dict(fields), raw=repr(fields))


def rule_files() -> list[Path]:
    return sorted(SIGMA_DIR.rglob("*.yml"))


def test_every_shipped_rule_loads(content: SigmaContent) -> None:
    assert content.result.errors == []
    assert content.result.unsupported == []
    assert len(content.result.rules) == len(rule_files()) >= 20
    ids = [r.rule_id for r in content.result.rules]
    assert len(set(ids)) == len(ids)
    assert len({r.sigma_id for r in content.result.rules}) == len(ids)


@pytest.mark.parametrize("path", rule_files(), ids=lambda p: p.stem)
def test_rule_file_conventions(path: Path) -> None:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert doc["author"] == "exhunt"
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", doc["id"])
    assert doc["status"] and doc["level"] and doc["description"]
    assert any(re.fullmatch(r"attack\.t\d{4}(\.\d{3})?", t) for t in doc["tags"])
    ext = doc["exhunt"]
    assert re.fullmatch(r"EXH-[A-Z0-9-]+", ext["rule_id"])
    assert ext["family"] and ext["step"]
    assert ext["samples"]["positive"] and ext["samples"]["negative"]


def _rules(content: SigmaContent) -> list[CompiledRule]:
    return list(content.result.rules)


@pytest.mark.parametrize("kind", [ArtifactKind.EVTX, ArtifactKind.JSON_EVENTS])
def test_positive_samples_fire_and_negative_samples_stay_quiet(content: SigmaContent, kind: ArtifactKind) -> None:
    failures: list[str] = []
    for rule in _rules(content):
        for sample in rule.ext.samples.get("positive", ()):
            if rule.rule_id not in fired(content, sample_record(sample, kind)):
                failures.append(f"{rule.rule_id}: positive did not fire: {sample}")
        for sample in rule.ext.samples.get("negative", ()):
            if rule.rule_id in fired(content, sample_record(sample, kind)):
                failures.append(f"{rule.rule_id}: negative fired: {sample}")
    assert failures == []


# --- real data -----------------------------------------------------------------------------------------

def _zip_findings(content: SigmaContent, archive: Path) -> list[Finding]:
    tree = ZipTree(archive)
    try:
        member = tree.member_names()[0]
        report = ParseReport(member)
        records = JsonEventsParser().parse(tree, Artifact(ArtifactKind.JSON_EVENTS, member, 0), report)
        found = findings(content, records, tree)
    finally:
        tree.close()
    assert report.records > 0 and not report.warnings
    return found


@pytest.mark.skipif(not (OTRF / "proxylogon_ssrf_rce_poc.zip").is_file(), reason="shared OTRF corpus absent")
def test_otrf_proxylogon_dataset_triggers_the_post_exploitation_rules(content: SigmaContent) -> None:
    found = _zip_findings(content, OTRF / "proxylogon_ssrf_rce_poc.zip")
    counts = hits(found)
    assert counts["EXH-PX-W3WP-SHELL"] == 4  # two `cmd /c whoami` under w3wp, each in Sysmon 1 and Security 4688
    assert counts["EXH-PX-WEBSHELL-FILE"] == 1  # ohyeah.aspx under FrontEnd\HttpProxy\owa\auth
    assert counts["EXH-PL-OAB-SCRIPT"] == 1  # the Set-OabVirtualDirectory with the JScript ExternalUrl
    assert set(counts) == {"EXH-PX-W3WP-SHELL", "EXH-PX-WEBSHELL-FILE", "EXH-PL-OAB-SCRIPT"}
    written = next(f for f in found if f.rule_id == "EXH-PX-WEBSHELL-FILE")
    assert written.attr_values("written_path") == [
        "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\FrontEnd\\HttpProxy\\owa\\auth\\ohyeah.aspx"]
    assert written.evidence[0].sha256 and written.evidence[0].line == written.evidence[0].record
    shell = next(f for f in found if f.rule_id == "EXH-PX-W3WP-SHELL")
    assert shell.attr_values("command_line") == ["cmd /c whoami"] and "T1059.003" in shell.attack


@pytest.mark.skipif(not (OTRF / "psh_lsass_memory_dump_comsvcs.zip").is_file(), reason="shared OTRF corpus absent")
def test_otrf_comsvcs_dataset_triggers_the_lsass_rules(content: SigmaContent) -> None:
    counts = hits(_zip_findings(content, OTRF / "psh_lsass_memory_dump_comsvcs.zip"))
    assert counts["EXH-PX-LSASS-COMSVCS"] == 2  # Sysmon 1 and Security 4688 of the same rundll32
    assert counts["EXH-PX-LSASS-DMP-FILE"] == 1  # lsass-comsvcs.dmp written


@pytest.mark.skipif(not EVTX.is_dir(), reason="shared EVTX corpus absent")
def test_benign_evtx_corpus_triggers_no_high_severity_rule(content: SigmaContent) -> None:
    tree = DirectoryTree(EVTX)
    per_file: Counter[tuple[str, str]] = Counter()
    loud: list[tuple[str, str, str]] = []
    for entry in tree.walk():
        if not entry.path.endswith(".evtx"):
            continue
        artifact = Artifact(ArtifactKind.EVTX, entry.path, entry.size)
        for finding in findings(content, EvtxParser().parse(tree, artifact, ParseReport(entry.path)), tree):
            per_file[(finding.rule_id, entry.path)] += finding.evidence_total
            if finding.severity >= Severity.HIGH:
                loud.append((finding.rule_id, finding.severity.label, entry.path))
    assert loud == []
    hits = per_file
    # the lower-rated rules do see what these samples hold: accounts created by Windows setup and admins,
    # and the Set-Mailbox forwarding of the MSExchange Management samples
    assert hits[("EXH-PX-ACCOUNT-CREATED", "plaso/System2.evtx")] == 1
    assert hits[("EXH-PX-MAIL-FORWARD", "omerbenamram-evtx/issue_201.evtx")] == 1
    assert hits[("EXH-PX-MAIL-FORWARD", "omerbenamram-evtx/MSExchange_Management_wec.evtx")] == 1
