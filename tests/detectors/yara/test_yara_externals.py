"""A user's rule folder in the signature-base style (``--yara``): rules that read the external variables
signature-base / LOKI / THOR define (filename, filepath, extension, filetype, owner) compile and see the
scanned file's values; a file that still fails is reported with its name and reason and the rest load.
The rules here are exhunt's own, written in that style (no signature-base file is copied)."""

from __future__ import annotations

from pathlib import Path

from exhunt.content.bundle import ContentBundle, ContentSpec
from exhunt.detectors.base import HostContext
from exhunt.detectors.yara import family
from exhunt.detectors.yara.compiler import EXTERNALS
from exhunt.detectors.yara.detector import YaraDetector
from exhunt.detectors.yara.sweep import facts_for
from exhunt.model.coverage import HostCoverage
from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.sources.directory import DirectoryTree

SB_STYLE = r'''
rule SB_Style_Page_In_Client_Folder : T1505_003 {
  meta:
    description = "server page in aspnet_client (signature-base style, by path and name)"
    score = 70
  condition:
    filepath contains "\\aspnet_client\\" and extension == ".aspx" and filename matches /^[a-z]{1,8}\.aspx$/
}
rule SB_Style_Exe_Named_Dll {
  meta:
    description = "executable image anywhere under inetpub (by filetype, owner unknown offline)"
    score = 40
  condition:
    filetype == "EXE" and owner == "" and filepath icontains "\\inetpub\\"
}
rule SB_Style_Inverse_Name {
  meta:
    description = "a file called like a system binary outside System32 (inverse match style)"
    score = 60
  condition:
    filename iequals "svchost.exe" and not filepath icontains "\\System32"
}
'''


def write(root: Path, rel: str, data: bytes) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_externals_are_the_signature_base_names() -> None:
    assert set(EXTERNALS) == {"filename", "filepath", "extension", "filetype", "owner"}
    facts = facts_for("C/inetpub/wwwroot/aspnet_client/system_web/Shell.ASPX", b"<%@ Page %>")
    assert facts.externals() == {"filename": "Shell.ASPX",
                                 "filepath": "C:\\inetpub\\wwwroot\\aspnet_client\\system_web",
                                 "extension": ".aspx", "filetype": "", "owner": ""}
    assert facts_for("C/inetpub/wwwroot/bin/x.dll", b"MZ\x90\x00").filetype == "EXE"


def test_signature_base_style_folder_loads_and_matches(tmp_path: Path) -> None:
    rules = tmp_path / "signature-base" / "yara"
    rules.mkdir(parents=True)
    (rules / "sb_style_ext_vars.yar").write_text(SB_STYLE)
    # a rule file using a variable no scanner defines: reported with its file and reason, the others load
    (rules / "thor_only.yar").write_text('rule needs_thor { condition: filemode == 0 }\n')
    (rules / "broken_syntax.yar").write_text('rule half {\n  condition:\n')
    evidence = tmp_path / "ev" / "web01"
    write(evidence, "C/inetpub/wwwroot/aspnet_client/system_web/errors.aspx", b'<%@ Page Language="C#" %>\n')
    write(evidence, "C/inetpub/wwwroot/bin/helper.dll", b"MZ\x90\x00" + b"\x00" * 60)
    write(evidence, "C/ProgramData/svchost.exe.dmp", b"not a dump")  # name differs: the inverse rule stays quiet

    tree = DirectoryTree(evidence, name="web01")
    artifacts = [Artifact(ArtifactKind.FILE, e.path, e.size, e.mtime) for e in tree.walk()]
    ctx = HostContext(host="web01", tree=tree, artifacts=artifacts, coverage=HostCoverage(), options={})
    bundle = ContentBundle(ContentSpec(yara_paths=(str(rules.parent),)))
    family.load(bundle)
    problems = sorted((Path(w.path).name, w.message) for w in [*bundle.errors, *bundle.unsupported])
    assert [name for name, _ in problems] == ["broken_syntax.yar", "thor_only.yar"]
    assert all(message for _, message in problems)  # each with its reason
    assert any("filemode" in message for _, message in problems)
    detector = family.create(bundle, ctx.options)
    assert isinstance(detector, YaraDetector)
    detector.start(ctx)
    for artifact in ctx.artifacts:
        detector.on_file(artifact, ctx)
    findings = detector.finish(ctx)
    user = sorted((f.rule_id.rsplit(":", 1)[-1], f.attr_values("path")[0]) for f in findings
                  if f.rule_id.startswith("YARA-"))
    assert user == [("SB_Style_Exe_Named_Dll", "C/inetpub/wwwroot/bin/helper.dll"),
                    ("SB_Style_Page_In_Client_Folder", "C/inetpub/wwwroot/aspnet_client/system_web/errors.aspx")]
