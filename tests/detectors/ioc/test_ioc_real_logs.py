"""The shipped indicator pack over real public IIS logs (plaso test data): quiet on benign Exchange
traffic, and it fires when one line's client address is swapped for a published one."""

from __future__ import annotations

from pathlib import Path

import pytest

from exhunt.content.bundle import ContentBundle, ContentSpec
from exhunt.detectors.base import HostContext
from exhunt.detectors.ioc import family
from exhunt.model.coverage import HostCoverage
from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.parsers.base import ParseReport
from exhunt.parsers.registry import parser_for
from exhunt.sources.directory import DirectoryTree

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus" / "weblogs" / "plaso"


def findings_for(root: Path) -> list[str]:
    tree = DirectoryTree(root, name="web01")
    artifacts = [Artifact(ArtifactKind.IIS, e.path, e.size, e.mtime) for e in tree.walk()]
    ctx = HostContext("web01", tree, artifacts, HostCoverage())
    bundle = ContentBundle(ContentSpec())
    family.load(bundle)
    detector = family.create(bundle, {})
    parser = parser_for(ArtifactKind.IIS)
    assert parser is not None
    for artifact in artifacts:
        for record in parser.parse(tree, artifact, ParseReport(artifact.path)):
            detector.on_record(record, ctx)
    return [f"{f.rule_id} {f.attr_values('indicator')[0]} line {f.evidence[0].line}" for f in detector.finish(ctx)]


@pytest.mark.skipif(not (CORPUS / "iis7_owa.log").is_file(), reason="shared corpus weblogs/plaso not present")
def test_benign_exchange_traffic_is_quiet_and_a_published_address_is_found(tmp_path: Path) -> None:
    assert findings_for(CORPUS) == []
    lines = (CORPUS / "iis7_owa.log").read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)
    lines[2] = lines[2].replace(" 77.123.22.98 ", " 203.160.69.66 ")  # synthetic: one address swapped
    (tmp_path / "u_ex151231.log").write_text("".join(lines), encoding="utf-8")
    assert findings_for(tmp_path) == ["EXH-IOC-IP 203.160.69.66 line 3"]
