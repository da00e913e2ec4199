"""assess_host wiring with stand-in parsers and detectors: records reach interested detectors, coverage is
accounted per source, verdicts follow the findings and the coverage."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import exhunt.engine as engine
from exhunt.content.bundle import ContentBundle, ContentSpec
from exhunt.detectors.base import Detector, HostContext, Interest
from exhunt.model.event import Record
from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.model.finding import Confidence, EvidenceRef, Finding, Outcome, Severity
from exhunt.model.result import Verdict
from exhunt.parsers.base import Parser, ParseReport, Prefilter
from exhunt.sources.base import HostTree
from exhunt.sources.directory import DirectoryTree

HTTPPROXY = "C/Program Files/Microsoft/Exchange Server/V15/Logging/HttpProxy/Ecp/HttpProxy_2021030304-1.LOG"


class LinesParser(Parser):
    name = "lines"
    kinds = frozenset({ArtifactKind.HTTPPROXY})

    def parse(self, tree: HostTree, artifact: Artifact, report: ParseReport,
              prefilter: Prefilter | None = None) -> Iterator[Record]:
        with tree.open(artifact.path) as handle:
            for number, line in enumerate(handle.read().decode().splitlines(), 1):
                report.records += 1
                report.see_time(line.split(",")[0])
                if line.startswith("bad"):
                    report.warn("garbage line", code="garbage", line=number)
                    continue
                yield Record(artifact.kind, artifact.path, {"Line": line}, raw=line, line=number,
                             timestamp=line.split(",")[0])


class NeedleDetector(Detector):
    name = "needle"

    def __init__(self) -> None:
        self.hits: list[Record] = []

    def interest(self, kind: ArtifactKind) -> Interest | None:
        return Interest(frozenset({"ServerInfo~"})) if kind is ArtifactKind.HTTPPROXY else None

    def on_record(self, record: Record, ctx: HostContext) -> None:
        if "ServerInfo~" in record.raw:
            self.hits.append(record)

    def finish(self, ctx: HostContext) -> list[Finding]:
        if not self.hits:
            return []
        return [Finding(host=ctx.host, rule_id="T-1", title="needle", severity=Severity.CRITICAL,
                        confidence=Confidence.HIGH, outcome=Outcome.SUCCEEDED, detector=self.name,
                        first_seen=self.hits[0].timestamp, last_seen=self.hits[-1].timestamp,
                        evidence=tuple(EvidenceRef(r.path, r.raw, line=r.line, sha256=ctx.sha256(r.path))
                                       for r in self.hits))]


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "all_parsers", lambda: [LinesParser()])
    monkeypatch.setattr(engine, "create_detectors", lambda bundle, options: [NeedleDetector()])


def _host(tmp_path: Path, lines: list[str]) -> HostTree:
    target = tmp_path / HTTPPROXY
    target.parent.mkdir(parents=True)
    target.write_text("\n".join(lines) + "\n")
    return DirectoryTree(tmp_path, name="ex01")


def _assess(tree: HostTree, **options: Any) -> engine.HostResult:
    return engine.assess_host(tree, ContentBundle(ContentSpec()), options)


def test_hit_becomes_compromised_verdict_with_evidence(tmp_path: Path, stubbed: None) -> None:
    tree = _host(tmp_path, ["2021-03-03T01:00:00Z,benign", "2021-03-03T02:00:00Z,ServerInfo~a]@x:444/ecp"])
    result = _assess(tree)
    assert result.verdict is Verdict.COMPROMISED
    [finding] = result.findings
    assert finding.evidence[0].line == 2
    assert finding.evidence[0].sha256 and len(finding.evidence[0].sha256) == 64
    cov = result.coverage.sources["httpproxy"]
    assert (cov.files, cov.records, cov.first_time) == (1, 2, "2021-03-03T01:00:00.000Z")


def test_clean_logs_no_sign_but_missing_sources_are_noted(tmp_path: Path, stubbed: None) -> None:
    result = _assess(_host(tmp_path, ["2021-03-03T01:00:00Z,benign"]))
    assert result.verdict is Verdict.NO_SIGN
    assert result.coverage.sources["iis"].status.value == "missing"
    assert any("IIS W3C logs missing" in note for note in result.coverage.notes)
    assert any("before that date cannot be ruled out" in note for note in result.coverage.notes)


def test_no_key_logs_could_not_assess(tmp_path: Path, stubbed: None) -> None:
    (tmp_path / "C" / "Windows").mkdir(parents=True)
    (tmp_path / "C" / "Windows" / "win.ini").write_text("x")
    result = _assess(DirectoryTree(tmp_path, name="ex01"))
    assert result.verdict is Verdict.COULD_NOT_ASSESS


def test_bad_lines_become_warnings_with_location(tmp_path: Path, stubbed: None) -> None:
    result = _assess(_host(tmp_path, ["2021-03-03T01:00:00Z,benign", "bad line"]))
    [warning] = [w for w in result.coverage.warnings if w.code == "garbage"]
    assert (warning.path, warning.line) == (HTTPPROXY, 2)


EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize("host", ["exchange-2019-compromised", "exchange-2016-proxyshell", "exchange-2019-probed"])
def test_the_record_filters_keep_every_record_a_detector_uses(host: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Parse workers send back only the records some detector may use (``Interest.record_filter``): the same
    filtering done here, in one process, gives the same result as none (web shells, requests for them,
    exploit lines writing files, ProxyLogon/ProxyShell requests and IOCs in the examples)."""
    from exhunt.detectors.registry import load_content
    from exhunt.parsers.pool import ParsePool

    content = load_content(ContentBundle(ContentSpec()))
    plain = engine.assess_host(DirectoryTree(EXAMPLES / host), content, {})
    filters: dict[ArtifactKind, Any] = {}
    serial = engine.parse_all
    kept = dropped = 0

    def plan(self: ParsePool, work: list[Any], keep: dict[ArtifactKind, Any] | None = None) -> None:
        filters.update(keep or {})

    def filtered(parser: Parser, tree: HostTree, artifact: Artifact, report: ParseReport, *args: Any
                 ) -> Iterator[Record]:
        nonlocal kept, dropped
        keep = filters.get(artifact.kind) if parser.parallel else None
        for record in serial(parser, tree, artifact, report, *args):
            if keep is None or keep(record):
                kept += 1
                yield record
            else:
                dropped += 1

    monkeypatch.setattr(ParsePool, "plan", plan)
    monkeypatch.setattr(engine, "parse_all", filtered)
    result = engine.assess_host(DirectoryTree(EXAMPLES / host), content, {})
    assert filters and dropped > 0 and kept > 0
    assert result == plain


def test_usual_prefilters_are_what_a_host_without_picked_files_asks_for_per_kind_of_log() -> None:
    """Worked out on a host without files (nothing read); one spec per distinct need, literals only, no EVTX
    (gated per route). The Dask client builds their databases once for its workers (tests/fleet)."""
    from exhunt.fleet.local import compiled_content

    content = compiled_content(ContentSpec())
    specs = engine.usual_prefilters(content, {})
    assert specs and len(set(specs)) == len(specs)
    assert all(spec.mode == "literals" and spec.literals for spec in specs)
    assert engine.usual_prefilters(content, {}) == specs  # the same, in the same order
    with pytest.raises(OSError):
        engine._NoFiles().open("C/inetpub/wwwroot/x.aspx")
    assert list(engine._NoFiles().walk()) == []


def test_usual_prefilters_are_the_ones_a_clean_host_asks_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """The specs the Dask client builds for its workers must be those a host asks for, column gate included
    (a spec that differs compiles another database, and the handed one is never used)."""
    from exhunt.fleet.local import compiled_content
    from exhunt.parsers.pool import ParsePool

    asked: list[Any] = []
    planned = ParsePool.plan

    def plan(self: ParsePool, parallel: Any, keep: Any) -> None:
        asked.extend(spec for _, _, _, spec in parallel if spec.mode == "literals")
        planned(self, parallel, keep)

    monkeypatch.setattr(ParsePool, "plan", plan)
    content = compiled_content(ContentSpec())
    root = Path(__file__).resolve().parents[1] / "examples" / "exchange-2019-clean"
    engine.assess_host(DirectoryTree(root), content, {})
    assert asked, "the clean example reads text logs through literals"
    usual = engine.usual_prefilters(content, {})
    assert any(spec.scoped for spec in asked)  # the IIS and CSV logs' column gate is part of what is asked
    assert set(asked) <= set(usual)


NO_LITERAL_RULE = """title: Java payload in a query (synthetic test rule)
id: 2f7c1c1e-5d2a-4c53-9a83-3d0c2b1e9a10
status: test
logsource: {category: webserver}
detection:
    keywords: ['%2']
    condition: keywords
level: high
"""


def test_a_log_every_line_of_which_a_rule_reads_is_parsed_by_the_workers(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A user's Sigma rule with no literal the scan can look for (its keyword is shorter than any) makes a kind
    of log read whole: its files still go to the parse workers, which keep back the records no detector uses, and the
    result is the serial one."""
    import shutil

    from exhunt.fleet.local import compiled_content
    from exhunt.parsers.pool import ParsePool

    host = tmp_path / "host"
    shutil.copytree(EXAMPLES / "exchange-2019-compromised", host)
    log = host / "C/inetpub/logs/LogFiles/W3SVC1/u_ex210304.log"
    with log.open("a", encoding="ascii", newline="") as handle:
        handle.write("2021-03-04 23:59:00 10.10.10.11 GET /ecp/x.aspx q=%2F%24%7B%23a 443 - 203.0.113.9 "
                     "curl/7.68.0 - 200 0 0 12\r\n")
    rule = tmp_path / "rules" / "java.yml"
    rule.parent.mkdir()
    rule.write_text(NO_LITERAL_RULE, encoding="utf-8")
    content = compiled_content(ContentSpec(sigma_paths=(str(rule),)))
    sent: list[Any] = []
    planned = ParsePool.plan

    def plan(self: ParsePool, work: list[Any], keep: Any = None) -> None:
        sent.extend(spec.mode for _, _, artifact, spec in work if artifact.kind is ArtifactKind.IIS)
        planned(self, work, keep)

    monkeypatch.setattr(ParsePool, "plan", plan)
    serial = engine.assess_host(DirectoryTree(host), content, {})
    sent.clear()
    parallel = engine.assess_host(DirectoryTree(host), content, {"parse_workers": 2})
    assert sent and set(sent) == {"all"}
    assert parallel == serial
    assert any("Java payload" in finding.title for finding in parallel.findings)
