"""Every reporter: deterministic, evidence escaped or defused, sharing formats valid for their consumers."""

from __future__ import annotations

import csv
import io
from dataclasses import replace

import orjson
import pytest
import stix2
from stix2patterns.validator import run_validator

from exhunt.model.finding import EvidenceRef
from exhunt.model.result import HostResult, Verdict
from exhunt.report.registry import reporters

HOSTILE = '<script>alert("x")</script>=cmd|\' /c calc\'!A0'


def render(name: str, results: list[HostResult]) -> str:
    buffer = io.StringIO()
    reporters()[name].write(results, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("name", sorted(reporters()))
def test_same_input_same_output(name: str, results: list[HostResult]) -> None:
    assert render(name, results) == render(name, results)
    assert render(name, results)


def test_jsonl_lines_and_types(results: list[HostResult]) -> None:
    lines = [orjson.loads(line) for line in render("jsonl", results).splitlines()]
    assert [line["type"] for line in lines] == ["finding", "finding", "host", "host"]
    finding = lines[0]
    assert finding["evidence"][0] == {"path": "C/Logging/HttpProxy/Ecp/HttpProxy_1.LOG", "excerpt": HOSTILE,
                                      "line": 12, "offset": 3456, "sha256": "a" * 64,
                                      "timestamp": "2021-03-03T04:01:02.123Z"}
    assert finding["evidence_total"] == 7
    assert finding["cves"] == ["CVE-2021-26855"] and finding["attack"] == ["T1190"]
    host = lines[2]
    assert host["verdict"] == "compromised" and host["finding_count"] == 2
    assert host["coverage"]["warnings"][0]["line"] == 4


def test_html_escapes_evidence(results: list[HostResult]) -> None:
    html = render("html", results)
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert" in html
    assert "Content-Security-Policy" in html


def test_csv_defuses_formulas(results: list[HostResult]) -> None:
    rows = list(csv.reader(io.StringIO(render("csv", results))))
    assert rows[0][:4] == ["datetime", "timestamp", "timestamp_desc", "message"]
    excerpts = [row[-1] for row in rows[1:]]
    assert all(not e.startswith(("=", "+", "-", "@")) for e in excerpts)


def test_csv_defuses_formulas_in_every_column_from_evidence(results: list[HostResult]) -> None:
    """Host names and paths come from the evidence too (#14): no cell may start a formula."""
    hostile = HostResult(host="=HYPERLINK(\"http://x\")", evidence="/e", verdict=Verdict.COMPROMISED,
                         findings=[replace(results[0].findings[0], host="@SUM(1)", evidence=(
                             EvidenceRef(" -2+3", "+cmd", line=1, timestamp="2021-03-03T04:01:02Z"),))])
    rows = list(csv.reader(io.StringIO(render("csv", [hostile]))))
    assert len(rows) == 2
    for value in rows[1]:
        assert not value.lstrip(" ").startswith(("=", "+", "-", "@")), value


def test_stix_bundle_is_valid_stix21(results: list[HostResult]) -> None:
    bundle = orjson.loads(render("stix", results))
    parsed = stix2.parse(bundle, allow_custom=False)
    kinds = {obj["type"] for obj in bundle["objects"]}
    assert {"report", "indicator", "attack-pattern", "vulnerability", "relationship"} <= kinds
    patterns = [obj["pattern"] for obj in bundle["objects"] if obj["type"] == "indicator"]
    assert "[ipv4-addr:value = '203.0.113.9']" in patterns
    assert not any("10.0.0.5" in p for p in patterns), "internal addresses are not shared"
    for pattern in patterns:
        assert run_validator(pattern) == [], pattern
    assert parsed.id.startswith("bundle--")


def test_misp_event_shape(results: list[HostResult]) -> None:
    events = orjson.loads(render("misp", results))["response"]
    event = events[0]["Event"]
    values = {(a["type"], a["value"]) for a in event["Attribute"]}
    assert ("ip-src", "203.0.113.9") in values and ("vulnerability", "CVE-2021-26855") in values
    files = [{a["object_relation"]: a["value"] for a in o["Attribute"]} for o in event["Object"]]
    assert {"filename": "a.aspx", "path": "C:\\x\\owa\\auth", "sha256": "b" * 64} in files
    assert {"name": 'misp-galaxy:mitre-attack-pattern="Exploit Public-Facing Application - T1190"'} in event["Tag"]


def test_navigator_layer(results: list[HostResult]) -> None:
    layer = orjson.loads(render("navigator", results))
    assert [t["techniqueID"] for t in layer["techniques"]] == ["T1190", "T1505", "T1505.003"]
    parent = layer["techniques"][1]
    assert parent["showSubtechniques"] is True and "score" not in parent, "opened to show its scored sub-technique"
    assert layer["domain"] == "enterprise-attack"


def test_console_shows_verdict_and_evidence(results: list[HostResult]) -> None:
    text = render("console", results)
    assert "COMPROMISED" in text and "EXH-PL-26855-SSRF" in text and "HttpProxy_1.LOG:12" in text
    assert "IIS W3C logs missing" in text


def test_no_time_means_no_date_not_a_false_one() -> None:
    """A host whose evidence holds no time: STIX writes no report rather than a dated one, MISP no date."""
    from pymisp import MISPEvent

    bare = HostResult(host="ex09", evidence="/cases/ex09", verdict=Verdict.COULD_NOT_ASSESS)
    bundle = orjson.loads(render("stix", [bare]))
    assert [o["type"] for o in bundle["objects"]] == ["marking-definition"]
    stix2.parse(bundle, allow_custom=False)
    event = orjson.loads(render("misp", [bare]))
    assert "date" not in event["Event"]
    loaded = MISPEvent()
    loaded.load(event)
    assert "no time known" in render("misp", [bare])


def test_scan_time_is_used_and_said_when_the_evidence_has_none() -> None:
    from exhunt.report.settings import ReportSettings

    bare = HostResult(host="ex09", evidence="/cases/ex09", verdict=Verdict.COULD_NOT_ASSESS)
    buffer = io.StringIO()
    reporters(ReportSettings(scan_time="2026-12-03T08:00:00.000Z"))["stix"].write([bare], buffer)
    report = next(o for o in orjson.loads(buffer.getvalue())["objects"] if o["type"] == "report")
    assert report["published"] == "2026-12-03T08:00:00.000Z" and "the scan's time" in report["description"]


def test_tlp_clear_is_stix_white(results: list[HostResult]) -> None:
    from exhunt.report.settings import ReportSettings

    buffer = io.StringIO()
    reporters(ReportSettings(tlp="clear"))["stix"].write(results, buffer)
    refs = {r for o in orjson.loads(buffer.getvalue())["objects"] for r in o["object_marking_refs"]}
    assert refs == {stix2.TLP_WHITE.id}
    with pytest.raises(ValueError):
        ReportSettings(tlp="purple")


def test_html_puts_verdict_and_chain_before_exposure(results: list[HostResult]) -> None:
    results[0].exposure = {"build": "15.2.792.3", "label": "Exchange Server 2019 CU8", "build_source": "logs",
                           "open_cves": [{"cve": "CVE-2021-26855", "title": "SSRF", "fixed_from": "2021-03-02"}],
                           "history": [{"build": "15.2.792.3", "label": "CU8", "first_seen": "2021-03-01",
                                        "last_seen": "2021-03-05"}],
                           "families": [{"id": "proxylogon", "name": "ProxyLogon", "exposed_now": True,
                                         "open_cves": ["CVE-2021-26855"], "summary": "exposed",
                                         "windows": [{"builds": ["15.2.792.3"], "from": "2021-03-01",
                                                      "until": None, "during_exploitation": "yes"}]}]}
    html = render("html", results)
    host = html[html.index('<section id="host-1"'):]
    assert host.index('class="verdict') < host.index("Attack chain") < host.index("<h3>Exposure")
    assert '<table class="families">' in host and "CVE-2021-26855" in host
    assert host.index("<h3>Exposure") < host.index("<h3>Findings") < host.index("Exposure assessment as data")
    assert html.index("TLP:AMBER") < html.index("<h1>")
