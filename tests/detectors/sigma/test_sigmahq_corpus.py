"""Proof against SigmaHQ (``../shared/corpus``): the whole rule set loads, and every rule with a
regression sample fires on it, read by exhunt's own EVTX parser and from the JSON rendering.

Skips when the shared corpus is absent (a fresh clone outside the workspace).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from exhunt.detectors.base import HostContext
from exhunt.detectors.sigma.detector import SigmaDetector
from exhunt.detectors.sigma.family import SigmaContent
from exhunt.model.coverage import HostCoverage
from exhunt.model.event import Record
from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.parsers.base import ParseReport
from exhunt.parsers.evtx import EvtxParser
from exhunt.parsers.winevent import flatten_event
from exhunt.sources.directory import DirectoryTree

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus"
SIGMAHQ = CORPUS / "sigmahq"
REGRESSION = CORPUS / "sigmahq-regression"

pytestmark = pytest.mark.skipif(not SIGMAHQ.is_dir() or not REGRESSION.is_dir(),
                                reason=f"shared SigmaHQ corpus not found at {CORPUS}")


@pytest.fixture(scope="module")
def content() -> SigmaContent:
    return SigmaContent([(str(SIGMAHQ), None)])


def json_documents(path: Path) -> list[dict[str, Any]]:
    """The sample's events: one or several pretty-printed JSON objects, one after the other."""
    text, decoder, docs, at = path.read_text(encoding="utf-8"), json.JSONDecoder(), [], 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at >= len(text):
            return docs
        doc, at = decoder.raw_decode(text, at)
        docs.append(doc)


def fired_ids(content: SigmaContent, folder: Path) -> tuple[set[str], set[str]]:
    """Rule ids fired on the folder's .evtx (EvtxParser) and .json (flattened) samples."""
    tree = DirectoryTree(folder)
    ctx = HostContext("sample", tree, [], HostCoverage())
    evtx_detector, json_detector = SigmaDetector(content), SigmaDetector(content)
    for path in sorted(folder.glob("*.evtx")):
        artifact = Artifact(ArtifactKind.EVTX, path.name, path.stat().st_size)
        for record in EvtxParser().parse(tree, artifact, ParseReport(path.name)):
            evtx_detector.on_record(record, ctx)
    for path in sorted(folder.glob("*.json")):
        for n, doc in enumerate(json_documents(path), 1):
            fields = flatten_event(doc["Event"])
            record = Record(ArtifactKind.JSON_EVENTS, path.name, fields, raw=json.dumps(doc), record=n,
                            timestamp=fields.get("TimeCreated"))
            json_detector.on_record(record, ctx)
    return ({f.rule_id for f in evtx_detector.finish(ctx)}, {f.rule_id for f in json_detector.finish(ctx)})


def test_sigmahq_loads_and_every_rule_of_a_read_logsource_runs(content: SigmaContent) -> None:
    result = content.result
    codes = Counter(p.code for p in result.unsupported)
    print(f"\nSigmaHQ: {result.files} files, {result.documents} rules, {len(result.rules)} evaluable, "
          f"{len(result.unsupported)} unsupported {dict(sorted(codes.items()))}, {len(result.errors)} load errors")
    assert result.errors == []
    assert len(result.rules) >= 2900
    # the only rules of a logsource exhunt reads that cannot run are those needing placeholder values
    assert set(codes) <= {"logsource", "placeholder"}
    assert codes["placeholder"] <= 5
    windows_unread = {p.message for p in result.unsupported if "product=windows" in p.message}
    assert windows_unread <= {f"logsource not read by exhunt (product=windows, category={c})"
                              for c in ("file_access", "file_rename")}  # Kernel-File ETW, not an event log


def test_regression_samples_fire_their_rule(content: SigmaContent) -> None:
    by_id = {r.sigma_id: r for r in content.result.rules}
    skipped = {p.rule: p.message for p in content.result.unsupported}
    passed, failures, not_applicable = 0, [], []
    for info in sorted(REGRESSION.rglob("info.yml")):
        rule_id = yaml.safe_load(info.read_text(encoding="utf-8"))["rule_metadata"][0]["id"]
        if rule_id not in by_id:
            assert rule_id in skipped, f"{info}: rule {rule_id} neither loaded nor reported unsupported"
            not_applicable.append(f"{rule_id}: {skipped[rule_id]}")
            continue
        from_evtx, from_json = fired_ids(content, info.parent)
        missing = [kind for kind, fired in (("evtx", from_evtx), ("json", from_json)) if rule_id not in fired]
        if missing:
            failures.append(f"{by_id[rule_id].file}: did not fire on {', '.join(missing)} sample")
        else:
            passed += 1
    total = passed + len(failures)
    print(f"\nSigmaHQ regression: {passed}/{total} rules fire on their own samples "
          f"({100 * passed / total:.1f}%); not applicable: {not_applicable}")
    assert total >= 90
    assert failures == []
