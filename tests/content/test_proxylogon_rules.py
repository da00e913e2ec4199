"""The ProxyLogon log rules (src/exhunt/rules/exchange/proxylogon): each fires on every positive sample and
stays quiet on every negative one, through the project's Sigma evaluator, with the outcome it claims;
and the real ProxyLogon telemetry of the shared corpus (OTRF Security-Datasets) trips the rules it should.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest

from exhunt.content.bundle import RULES_DIR
from exhunt.detectors.base import HostContext
from exhunt.detectors.files.samples import MemoryTree
from exhunt.detectors.sigma.compiled import CompiledRule
from exhunt.detectors.sigma.detector import SigmaDetector
from exhunt.detectors.sigma.family import SigmaContent
from exhunt.model.coverage import HostCoverage
from exhunt.model.event import Record
from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.model.finding import Finding, Outcome

PROXYLOGON = RULES_DIR / "exchange" / "proxylogon"
CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
OTRF_ZIP = CORPUS / "otrf" / "proxylogon_ssrf_rce_poc.zip"
EXPECTED_IDS = {
    "EXH-PL-26855-SSRF", "EXH-PL-26855-SSRF-PROBE", "EXH-PL-26855-BECOOKIE", "EXH-PL-26855-ANON-BACKEND",
    "EXH-PL-26855-IIS-POST", "EXH-PL-26855-ECP-APP-ERROR", "EXH-PL-26857-UM-CAST", "EXH-PL-26858-OAB-WRITE",
    "EXH-PL-27065-ECP-VDIR-SCRIPT", "EXH-PL-27065-RESET-VDIR", "EXH-PL-27065-MGMT-VDIR-SCRIPT",
    "EXH-PL-26855-IIS-PROXYLOGON-241",
}

CONTENT = SigmaContent([(str(PROXYLOGON), str(RULES_DIR))])
RULES = sorted(CONTENT.result.rules, key=lambda r: r.rule_id)


def _record(rule: CompiledRule, sample: dict[str, Any], line: int) -> Record:
    kind = rule.logsource.kinds[0]
    raw = ",".join(str(v) for v in sample.values())
    attrs = {"channel": str(sample["Channel"])} if "Channel" in sample else {}
    return Record(kind, f"sample/{kind.value}.log", dict(sample), raw=raw, line=line, offset=line * 100,
                  timestamp=str(sample.get("DateTime", "2021-03-03T04:05:06Z")), attrs=attrs)


def _run(records: list[Record], content: SigmaContent = CONTENT) -> list[Finding]:
    tree = MemoryTree({})
    ctx = HostContext(host="ex01", tree=tree, artifacts=[], coverage=HostCoverage())
    detector = SigmaDetector(content)
    for record in records:
        interest = detector.interest(record.kind)
        assert interest is not None, f"no interest in {record.kind}"
        detector.on_record(record, ctx)
    return detector.finish(ctx)


def _fired(rule: CompiledRule, sample: dict[str, Any]) -> list[Finding]:
    return [f for f in _run([_record(rule, sample, 1)]) if f.rule_id == rule.rule_id]


def test_rules_load_cleanly() -> None:
    assert CONTENT.result.errors == []
    assert CONTENT.result.unsupported == []
    assert {r.rule_id for r in RULES} == EXPECTED_IDS


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.rule_id)
def test_rule_metadata(rule: CompiledRule) -> None:
    assert rule.rule_id.startswith("EXH-PL-")
    assert rule.ext.family == "proxylogon"
    assert rule.ext.step
    assert rule.cves and all(c.startswith("CVE-2021-") for c in rule.cves)
    assert rule.attack and all(t.startswith("T") for t in rule.attack)
    assert rule.ext.samples["positive"] and rule.ext.samples["negative"]
    for outcome in rule.ext.severity:
        assert outcome in {rule.ext.default, *(o for o, _ in rule.ext.outcomes)}


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.rule_id)
def test_positive_samples_fire(rule: CompiledRule) -> None:
    literals = CONTENT.index.kind_literals(rule.logsource.kinds[0])[1]
    for sample in rule.ext.samples["positive"]:
        assert _fired(rule, sample), f"{rule.rule_id} does not fire on {sample}"
        if literals is not None:  # the prefilter must not hide the positive from the parser
            raw = ",".join(str(v) for v in sample.values()).lower()
            assert any(lit in raw for lit in literals), (rule.rule_id, sample)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.rule_id)
def test_negative_samples_stay_quiet(rule: CompiledRule) -> None:
    for sample in rule.ext.samples["negative"]:
        assert not _fired(rule, sample), f"{rule.rule_id} fires on its negative {sample}"


def _by_id(rule_id: str) -> CompiledRule:
    return next(r for r in RULES if r.rule_id == rule_id)


@pytest.mark.parametrize(("rule_id", "index", "outcome"), [
    ("EXH-PL-26855-SSRF", 0, Outcome.SUCCEEDED),
    ("EXH-PL-26855-SSRF", 1, Outcome.ATTEMPTED),
    ("EXH-PL-26855-SSRF", 2, Outcome.SUCCEEDED),  # 241 from /ecp/proxyLogon.ecp: ProxyLogon authentication
    ("EXH-PL-26855-IIS-PROXYLOGON-241", 0, Outcome.SUCCEEDED),
    ("EXH-PL-26855-IIS-PROXYLOGON-241", 1, Outcome.ATTEMPTED),
    ("EXH-PL-26855-ANON-BACKEND", 0, Outcome.SUSPICIOUS),
    ("EXH-PL-26855-ANON-BACKEND", 1, Outcome.INFORMATIONAL),  # exporttool manifest: known benign (catalogue)
    ("EXH-PL-26855-SSRF-PROBE", 0, Outcome.ATTEMPTED),
    ("EXH-PL-26855-BECOOKIE", 0, Outcome.SUCCEEDED),
    ("EXH-PL-26855-BECOOKIE", 2, Outcome.ATTEMPTED),  # aimed at autodiscover: an attempt whatever the answer
    ("EXH-PL-26855-IIS-POST", 0, Outcome.SUCCEEDED),
    ("EXH-PL-26855-IIS-POST", 2, Outcome.ATTEMPTED),
    ("EXH-PL-26858-OAB-WRITE", 0, Outcome.SUCCEEDED),
    ("EXH-PL-27065-RESET-VDIR", 0, Outcome.SUCCEEDED),
    ("EXH-PL-27065-ECP-VDIR-SCRIPT", 0, Outcome.SUCCEEDED),
    ("EXH-PL-27065-MGMT-VDIR-SCRIPT", 0, Outcome.SUCCEEDED),
])
def test_outcomes(rule_id: str, index: int, outcome: Outcome) -> None:
    rule = _by_id(rule_id)
    (finding,) = _fired(rule, rule.ext.samples["positive"][index])
    assert finding.outcome is outcome


def test_ssrf_captures_and_grading() -> None:
    rule = _by_id("EXH-PL-26855-SSRF")
    records = [_record(rule, s, i) for i, s in enumerate(rule.ext.samples["positive"], 1)]
    findings = {f.outcome: f for f in _run(records) if f.rule_id == rule.rule_id}
    ok = findings[Outcome.SUCCEEDED]
    assert ok.severity.label == "critical"
    assert ok.attr_values("target") == ["ex01.contoso.local"]
    # the 241 sample (proxyLogon.ecp) is graded succeeded as well
    assert ok.attr_values("target_path") == ["/ecp/DDI/DDIService.svc/GetList", "/ecp/proxyLogon.ecp"]
    assert ok.attr_values("client_ip") == ["203.0.113.7"]
    assert ok.attr_values("step") == ["initial-access"] and ok.attr_values("family") == ["proxylogon"]
    assert findings[Outcome.ATTEMPTED].severity.label == "medium"
    probe = _by_id("EXH-PL-26855-SSRF-PROBE")
    (low,) = [f for f in _run([_record(probe, probe.ext.samples["positive"][0], 1)])
              if f.rule_id == probe.rule_id]
    assert low.severity.label == "low"


def test_oab_write_says_where() -> None:
    rule = _by_id("EXH-PL-26858-OAB-WRITE")
    (finding,) = _fired(rule, rule.ext.samples["positive"][0])
    assert finding.attr_values("written_path") == ["C:\\inetpub\\wwwroot\\aspnet_client\\discover.aspx"]
    assert finding.attr_values("written_folder") == ["C:\\inetpub\\wwwroot\\aspnet_client"]
    assert finding.attr_values("step") == ["webshell-write"]


def test_otrf_proxylogon_telemetry() -> None:
    """Real events recorded while a public ProxyLogon proof of concept ran against a lab server."""
    if not OTRF_ZIP.is_file():
        pytest.skip(f"shared corpus not present: {OTRF_ZIP}")
    from exhunt.parsers.base import ParseReport
    from exhunt.parsers.jsonevents import JsonEventsParser

    with zipfile.ZipFile(OTRF_ZIP) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".json"))
        data = archive.read(name)
    tree = MemoryTree({"otrf/events.json": data})
    artifact = Artifact(ArtifactKind.JSON_EVENTS, "otrf/events.json", len(data))
    report = ParseReport(path=artifact.path)
    records = list(JsonEventsParser().parse(tree, artifact, report))
    assert len(records) > 10000
    findings = {(f.rule_id, f.outcome) for f in _run(records)}
    assert ("EXH-PL-27065-MGMT-VDIR-SCRIPT", Outcome.SUCCEEDED) in findings
    assert ("EXH-PL-26855-ECP-APP-ERROR", Outcome.SUCCEEDED) in findings
    assert {rule for rule, _ in findings} <= {"EXH-PL-27065-MGMT-VDIR-SCRIPT", "EXH-PL-26855-ECP-APP-ERROR"}


def test_benign_real_iis_logs_stay_quiet() -> None:
    """Real benign IIS logs (OWA, EWS, ActiveSync, edge cases) from the shared corpus: no ProxyLogon hit."""
    logs = sorted((CORPUS / "weblogs" / "plaso").glob("*.log")) + sorted(
        (CORPUS / "weblogs" / "brianary").glob("u_ex*.log"))
    if not logs:
        pytest.skip(f"shared corpus not present: {CORPUS / 'weblogs'}")
    from exhunt.parsers.base import ParseReport
    from exhunt.parsers.w3c import W3CParser

    files = {f"logs/{p.parent.name}/{p.name}": p.read_bytes() for p in logs}
    tree = MemoryTree(files)
    records: list[Record] = []
    for path, data in sorted(files.items()):
        artifact = Artifact(ArtifactKind.IIS, path, len(data))
        records.extend(W3CParser().parse(tree, artifact, ParseReport(path=path)))
    assert len(records) > 50
    assert _run(records) == []
