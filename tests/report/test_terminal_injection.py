"""#14 item 3: everything from the evidence reaching the console is data. Control characters are shown escaped,
rich markup in names and excerpts is never interpreted, and no line can be forged (generated at test time)."""

from __future__ import annotations

import io
from pathlib import Path

from exhunt.cli.main import main
from exhunt.model.coverage import HostCoverage, InputWarning
from exhunt.model.finding import Confidence, EvidenceRef, Finding, Outcome, Severity
from exhunt.model.result import HostResult, Verdict
from exhunt.report.registry import reporters
from exhunt.report.safetext import visible

ESC_CLEAR = "\x1b[2J"
TITLE = "\x1b]0;owned\x07"
RLO = "\u202e"
LINK = "[link=javascript:alert(1)]click[/link]"
FORGED = "x\nVerdict:  NO SIGN FOUND \ny"


def hostile_result() -> HostResult:
    finding = Finding(
        host=f"ex{ESC_CLEAR}01", rule_id="EXH-TEST", title=f"title {LINK}", severity=Severity.HIGH,
        confidence=Confidence.HIGH, outcome=Outcome.SUCCEEDED, detector="files",
        first_seen="2021-03-03T04:00:00Z",
        evidence=(EvidenceRef(f"C/inetpub/{FORGED}{RLO}xpsa.aspx", f"{TITLE}excerpt {LINK} :smile:", line=3),),
        attributes=(("client_ip", f"203.0.113.9{ESC_CLEAR}"),))
    coverage = HostCoverage(warnings=[InputWarning(f"C/{LINK}.log", f"bad {ESC_CLEAR} line\rCR", line=2)],
                            notes=[f"note {RLO}"])
    return HostResult(host=f"[bold]ex01{ESC_CLEAR}", evidence=f"/cases/{LINK}", verdict=Verdict.COMPROMISED,
                      verdict_reasons=[f"reason{FORGED}"], findings=[finding], coverage=coverage,
                      timeline=[{"time": "2021-03-03T04:00:00.000Z", "step": f"s{ESC_CLEAR}", "rule_id": "R",
                                 "title": LINK, "outcome": "succeeded", "evidence": "C/a:1"}])


def assert_inert(text: str, verdict_lines: int | None = None) -> None:
    assert "\x1b" not in text and "\x07" not in text and "\r" not in text and RLO not in text
    if verdict_lines is not None:
        forged = [line for line in text.splitlines() if line.startswith("Verdict:  NO SIGN FOUND")]
        assert len(forged) == verdict_lines, "a newline in evidence forged a line"


def test_visible_escapes_controls_and_bidi() -> None:
    assert visible("a\x1b[2Jb\nc\u202ed\x85") == "a\\x1b[2Jb\\nc\\u202ed\\x85"
    assert visible("plain ünïcode") == "plain ünïcode"


def test_console_report_shows_evidence_as_data() -> None:
    buffer = io.StringIO()
    reporters()["console"].write([hostile_result(), HostResult("h2", "/h2", Verdict.COULD_NOT_ASSESS)], buffer)
    text = buffer.getvalue()
    assert_inert(text, verdict_lines=0)
    assert "[link=javascript:alert(1)]click[/link]" in text, "markup printed as typed, not interpreted"
    assert "\\x1b[2J" in text and "\\u202e" in text and "\\n" in text
    assert ":smile:" in text and "[bold]ex01" in text


def test_scan_console_of_a_hostile_folder_name(tmp_path: Path, capsys: object) -> None:
    """A folder name with markup and an escape sequence, scanned for real: the console and stderr stay inert."""
    host = tmp_path / f"{LINK}{ESC_CLEAR}"
    logs = host / "C" / "inetpub" / "logs" / "LogFiles" / "W3SVC1"
    logs.mkdir(parents=True)
    (logs / "u_ex210303.log").write_text(
        "#Software: Microsoft Internet Information Services 10.0\r\n#Version: 1.0\r\n#Date: 2021-03-03 00:00:00\r\n"
        "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) "
        "cs(Referer) sc-status sc-substatus sc-win32-status time-taken\r\n"
        "2021-03-03 01:00:00 10.0.0.1 GET /owa/ - 443 - 198.51.100.7 Mozilla/5.0 - 200 0 0 10\r\n",
        encoding="utf-8")
    out = tmp_path / "report.txt"
    main(["scan", str(host), "-o", str(out)])
    captured = capsys.readouterr()  # type: ignore[attr-defined]
    assert_inert(out.read_text(encoding="utf-8"))
    assert_inert(captured.err)
    assert "\\x1b[2J" in out.read_text(encoding="utf-8")


def test_a_folder_that_is_not_evidence_is_refused_early(tmp_path: Path, capsys: object) -> None:
    """Like /usr/share/doc: many sub-folders of documents, no evidence: one clear message, no host scanned.
    The folder is reported as a host that could not be assessed (exit 3), as any evidence argument that cannot
    be opened is: in a fleet, one wrong argument must not cancel the others."""
    for index in range(40):
        folder = tmp_path / "doc" / f"package-{index}"
        folder.mkdir(parents=True)
        (folder / "copyright").write_text("text", encoding="utf-8")
        (folder / "changelog.json").write_text("{}", encoding="utf-8")
    assert main(["scan", str(tmp_path / "doc"), "--no-progress"]) == 3
    captured = capsys.readouterr()  # type: ignore[attr-defined]
    shown = " ".join((captured.out + captured.err).split())
    assert "40 sub-folders" in shown and "not scanned as hosts" in shown
    assert shown.count("Verdict:") == 1  # one refusal, not 40 hosts


def test_a_hostile_rule_file_name_in_a_content_error_stays_text(tmp_path: Path, capsys: object) -> None:
    """``--sigma`` pointed at a folder holding a broken rule whose name carries markup and an escape: the
    content error is shown as text (no markup error stops the report, no control code reaches stderr)."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / f"bad[red]{ESC_CLEAR}.yml").write_text("title: [unclosed\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    code = main(["scan", str(Path(__file__).resolve().parents[2] / "examples" / "exchange-2019-clean"),
                 "--sigma", str(rules), "-f", "jsonl", "-o", str(out), "--no-progress"])
    captured = capsys.readouterr()  # type: ignore[attr-defined]
    assert code in (0, 1) and out.exists()
    assert_inert(captured.err)
    assert "content error" in captured.err and "bad[red]\\x1b[2J.yml" in captured.err  # the tag shown, not applied
