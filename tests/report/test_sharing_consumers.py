"""The sharing formats, checked on the bundled examples by the software that consumes them: stix2-validator
(default and --interop), the stix2 library, PyMISP, mitreattack-python's layer loader, a Timesketch-shaped
import check, DuckDB queries, and the HTML rendered by headless Chromium. Plus what the indicators must never
be: hashes of log files, ordinary browser user agents, whole paths as file names, false dates."""

from __future__ import annotations

import copy
import csv
import io
import json
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import duckdb
import orjson
import pytest

from exhunt.content.bundle import ContentSpec
from exhunt.fleet.local import assess_paths
from exhunt.fleet.store import write_results
from exhunt.model.finding import Confidence, EvidenceRef, Finding, Outcome, Severity
from exhunt.model.result import HostResult, Verdict
from exhunt.report.indicators import is_browser_agent
from exhunt.report.registry import reporters
from exhunt.report.settings import ReportSettings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:86.0) Gecko/20100101 Firefox/86.0"
# stix2-validator 3.3's interop schema for vulnerability requires a property literally named
# "external_references:" (a typo in schemas-2.1/interop/vulnerability.json), which no STIX object can carry.
VALIDATOR_SCHEMA_TYPO = "'external_references:' is a required property"


@pytest.fixture(scope="module")
def examples() -> list[HostResult]:
    hosts = sorted(p for p in EXAMPLES.iterdir() if p.is_dir())
    return assess_paths(hosts, ContentSpec(), {}, jobs=1)


def render(name: str, results: list[HostResult], **settings: str) -> str:
    buffer = io.StringIO()
    reporters(ReportSettings(**settings))[name].write(results, buffer)  # type: ignore[arg-type]
    return buffer.getvalue()


def log_hashes(results: list[HostResult]) -> set[str]:
    """SHA-256 of every file cited by line or record: logs, evidence integrity, never indicators."""
    return {ref.sha256 for r in results for f in r.findings for ref in f.evidence
            if ref.sha256 and (ref.line is not None or ref.record is not None)}


def test_examples_cite_log_hashes_and_a_browser_agent(examples: list[HostResult]) -> None:
    """The premise of the indicator tests: the examples do hold what must not be shared."""
    assert len(log_hashes(examples)) >= 3
    assert any(v == FIREFOX for r in examples for f in r.findings for v in f.attr_values("user_agent"))


def test_stix_indicators_are_fit_to_share(examples: list[HostResult]) -> None:
    bundle = orjson.loads(render("stix", examples))
    patterns = [o["pattern"] for o in bundle["objects"] if o["type"] == "indicator"]
    assert patterns
    for digest in log_hashes(examples):
        assert not any(digest in p for p in patterns), "a log file's hash is not an indicator"
    assert not any("Firefox/" in p for p in patterns), "an ordinary browser user agent is not an indicator"
    assert any("antSword" in p for p in patterns) and any("zgrab" in p for p in patterns)
    names = [p for p in patterns if p.startswith("[file:name")]
    assert names
    for pattern in names:
        name = pattern.split("'")[1]
        assert "\\" not in name and "/" not in name, pattern
    assert any("parent_directory_ref.path = 'C:\\\\inetpub\\\\wwwroot\\\\aspnet_client\\\\system_web'" in p
               for p in patterns)


@pytest.mark.parametrize("name", ["stix", "misp", "navigator", "csv", "timesketch", "html", "jsonl"])
def test_no_false_dates(examples: list[HostResult], name: str) -> None:
    text = render(name, examples)
    assert "1970-01-01" not in text and "1601-01-01" not in text


def test_stix_validator_default_and_interop(examples: list[HostResult]) -> None:
    from stix2validator import ValidationOptions, validate_string

    text = render("stix", examples)
    default = validate_string(text, ValidationOptions())
    assert default.is_valid and not default.errors
    # the only warnings are the UUIDv5 ids, kept for byte-for-byte determinism ({103}; docs/sharing.md)
    assert all("{103}" in str(w) for w in default.warnings)
    interop = validate_string(text, ValidationOptions(interop=True))
    assert [str(e) for e in interop.errors if VALIDATOR_SCHEMA_TYPO not in str(e)] == []
    bundle = orjson.loads(text)
    identity = next(o["id"] for o in bundle["objects"] if o["type"] == "identity")
    for obj in bundle["objects"]:
        assert obj["created_by_ref"] == identity
        assert obj["object_marking_refs"] == ["marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"]
    patterns = [o for o in bundle["objects"] if o["type"] == "attack-pattern"]
    assert patterns and all(o["kill_chain_phases"] and not o["name"].startswith("T") for o in patterns)
    shell = next(o for o in patterns if o["external_references"][0]["external_id"] == "T1505.003")
    assert shell["name"] == "Server Software Component: Web Shell"
    assert shell["kill_chain_phases"] == [{"kill_chain_name": "mitre-attack", "phase_name": "persistence"}]


def test_stix_parses_with_stix2_and_tlp_follows_the_choice(examples: list[HostResult]) -> None:
    import stix2

    parsed = stix2.parse(orjson.loads(render("stix", examples, tlp="red")), allow_custom=False)
    assert all(o.object_marking_refs == [stix2.TLP_RED.id] for o in parsed.objects)


def test_misp_single_and_multi_host_load_with_pymisp(examples: list[HostResult], tmp_path: Path) -> None:
    from pymisp import MISPEvent

    single = tmp_path / "one.json"
    single.write_text(render("misp", examples[:1]), encoding="utf-8")
    event = MISPEvent()
    event.load_file(str(single))
    assert event.info.startswith("exhunt: ")
    multi = orjson.loads(render("misp", examples))
    assert set(multi) == {"response"} and len(multi["response"]) == len(examples)
    multi_file = tmp_path / "all.json"
    multi_file.write_text(json.dumps(multi), encoding="utf-8")
    loaded = MISPEvent()
    loaded.load_file(str(multi_file))  # PyMISP takes the first event of a response collection
    to_ids: dict[tuple[str, str], set[bool]] = {}
    for raw in multi["response"]:
        one = MISPEvent()
        one.load(copy.deepcopy(raw))  # PyMISP consumes the dict it loads
        assert "tlp:amber" in {t.name for t in one.tags}
        assert not any(t.name.startswith("mitre-attack:") for t in one.tags)
        attributes = list(one.attributes) + [a for o in one.objects for a in o.attributes]
        for attribute in attributes:
            to_ids.setdefault((attribute.type, attribute.value), set()).add(bool(attribute.to_ids))
            if attribute.type == "filename":
                assert "\\" not in attribute.value and "/" not in attribute.value
            assert attribute.value not in log_hashes(examples)
            assert not (attribute.type == "user-agent" and is_browser_agent(attribute.value))
    assert all(len(v) == 1 for v in to_ids.values()), "the same value gets the same to_ids everywhere"
    compromised = next(r for r in multi["response"] if "2019-compromised" in r["Event"]["info"])
    assert 'misp-galaxy:mitre-attack-pattern="Server Software Component: Web Shell - T1505.003"' in {
        t["name"] for t in compromised["Event"]["Tag"]}
    # dates from the evidence: the clean host's $MFT reaches back to the server's installation (2019-06-14)
    assert {r["Event"].get("date") for r in multi["response"]} <= {"2021-03-01", "2021-03-03", "2021-03-04",
                                                                  "2021-08-13", "2021-02-28", "2021-07-30",
                                                                  "2019-06-14"}


def _finding(attack: tuple[str, ...]) -> Finding:
    return Finding(host="h", rule_id="SIGMA-X", title="t", severity=Severity.HIGH, confidence=Confidence.HIGH,
                   outcome=Outcome.SUCCEEDED, detector="sigma", attack=attack, first_seen="2021-03-03T04:00:00Z",
                   evidence=(EvidenceRef("C/a.log", "x", line=1, timestamp="2021-03-03T04:00:00Z"),))


def test_navigator_layer_loads_and_checks_ids(examples: list[HostResult], tmp_path: Path) -> None:
    from mitreattack.navlayers import Layer

    extra = HostResult(host="h", evidence="/h", verdict=Verdict.COMPROMISED,
                       findings=[_finding(("T1685", "T1685.005", "T1003.001"))])
    path = tmp_path / "layer.json"
    path.write_text(render("navigator", [*examples, extra]), encoding="utf-8")
    layer = Layer()
    layer.from_file(str(path))
    data = orjson.loads(path.read_bytes())
    ids = {t["techniqueID"] for t in data["techniques"]}
    assert "T1685" not in ids and "T1685.005" not in ids
    assert "T1685" in data["description"] and "T1685.005" in data["description"]
    shown = {t["techniqueID"] for t in data["techniques"] if t.get("showSubtechniques")}
    assert {"T1003", "T1505"} <= shown
    assert data["versions"]["attack"] == "16"


def test_timesketch_csv_and_jsonl(examples: list[HostResult]) -> None:
    rows = list(csv.DictReader(io.StringIO(render("csv", examples))))
    lines = [orjson.loads(line) for line in render("timesketch", examples).splitlines()]
    assert rows and len(rows) == len(lines)
    for row in [*rows, *lines]:
        assert row["message"] and row["timestamp_desc"] and row["datetime"]
        moment = datetime.fromisoformat(str(row["datetime"]).replace("Z", "+00:00"))
        assert int(row["timestamp"]) == int(moment.timestamp() * 1_000_000)
        assert row["timestamp_desc"] in {"Log line time", "Event record time", "File modification time",
                                         "Finding first seen (the evidence has no time of its own)"}
    descs = {row["timestamp_desc"] for row in lines}
    assert {"Log line time", "Event record time", "File modification time"} <= descs
    assert [r["datetime"] for r in lines] == sorted(r["datetime"] for r in lines)


def test_case_store_schema_queries(examples: list[HostResult], tmp_path: Path) -> None:
    db = tmp_path / "case.duckdb"
    write_results(db, examples)
    write_results(db, examples[:1])  # a rescan replaces, ids are stable
    con = duckdb.connect(str(db))
    kinds = dict(con.execute("select column_name, data_type from information_schema.columns "
                             "where table_name = 'findings'").fetchall())
    assert kinds["first_seen"] == "TIMESTAMP" and kinds["finding_id"] == "VARCHAR"
    total = con.execute("select sum(len(evidence)) from (select finding_id, list(seq) as evidence "
                        "from evidence group by 1)").fetchone()
    joined = con.execute("select count(*) from evidence e join findings f using (finding_id)").fetchone()
    assert total == joined
    assert con.execute("select count(*) from findings").fetchone() == (sum(len(r.findings) for r in examples),)
    shared = con.execute("select value, count(distinct host) from indicators where type = 'user-agent' "
                         "group by 1 order by 1").fetchall()
    assert ("Mozilla/5.0 zgrab/0.x", 2) in shared
    assert not any(v == FIREFOX for v, _ in shared)
    assert con.execute("select count(*) from coverage where year(first_time) < 1990").fetchone() == (0,)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (Debian package `chromium`)")
def test_html_in_headless_chromium_verdict_and_chain_first(examples: list[HostResult], tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render("html", examples), encoding="utf-8")
    assert CHROMIUM is not None
    dom = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                          "--disable-extensions", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
                          "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120, check=True).stdout
    assert "<script" not in dom
    assert dom.index('id="tlp"') < dom.index("<h1>")
    section = dom[dom.index('<section id="host-'):]
    section = section[:section.index("</section>")]
    for later in ("<h3>Exposure", "<h3>Findings", "<h3>Coverage"):
        assert section.index('class="verdict') < section.index('<h3 class="chain">') < section.index(later)
    assert '<table class="families">' in dom
