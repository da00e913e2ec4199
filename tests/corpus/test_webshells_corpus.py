"""Web shells found by their content: the real public sets of ``../shared/corpus/webshells-dev``.

Every file is copied, under its real extension, into an ordinary site folder of a host tree
(``C/inetpub/wwwroot/site/``: no Exchange folder, no ``aspnet_client``), so only what the file holds can
tell. The host goes through ``assess_host``, the function ``exhunt scan`` runs per host. Floors: at least
95 % of the malicious pages flagged at medium or above; none of the benign pages (CMS pages, handlers,
controls, Exchange ``web.config`` files) flagged above informational. Misses are named in the message.
Skips when the shared corpus is absent (a clone outside this workspace).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from exhunt.content.bundle import ContentBundle, ContentSpec
from exhunt.detectors.registry import load_content
from exhunt.engine import assess_host
from exhunt.model.finding import Severity
from exhunt.model.result import HostResult
from exhunt.sources.registry import open_evidence

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "webshells-dev"
SITE = "C/inetpub/wwwroot/site"
RECALL_FLOOR = 0.95

pytestmark = pytest.mark.skipif(not (CORPUS / "malicious").is_dir() or not (CORPUS / "benign").is_dir(),
                                reason=f"shared web shell corpus absent: {CORPUS}")


def plant(kind: str, root: Path) -> dict[str, str]:
    """Copy one set into a host tree; {host-relative path: corpus-relative name}."""
    placed: dict[str, str] = {}
    for index, source in enumerate(sorted((CORPUS / kind).rglob("*.sample"))):
        name = source.name.removesuffix(".sample")
        relative = f"{SITE}/{index:03d}-{name}"  # the index keeps same-named files of different sources apart
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        placed[relative] = source.relative_to(CORPUS).as_posix()
    return placed


def scan(root: Path) -> HostResult:
    [tree] = open_evidence(root)
    try:
        return assess_host(tree, load_content(ContentBundle(ContentSpec())), {})
    finally:
        tree.close()


def worst(result: HostResult, placed: dict[str, str]) -> dict[str, tuple[Severity, list[str]]]:
    """Per planted file: the highest severity of the findings citing it and their rule ids."""
    found: dict[str, tuple[Severity, list[str]]] = {}
    for finding in result.findings:
        for path in {ref.path for ref in finding.evidence if ref.path in placed}:
            severity, rules = found.get(path, (Severity.INFO, []))
            found[path] = (max(severity, finding.severity), sorted({*rules, finding.rule_id}))
    return found


@pytest.fixture(scope="module")
def malicious(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], HostResult]:
    root = tmp_path_factory.mktemp("webshells") / "web01"
    placed = plant("malicious", root)
    return placed, scan(root)


@pytest.fixture(scope="module")
def benign(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], HostResult]:
    root = tmp_path_factory.mktemp("benign-pages") / "web02"
    placed = plant("benign", root)
    return placed, scan(root)


def test_real_web_shells_flagged_by_content(malicious: tuple[dict[str, str], HostResult]) -> None:
    placed, result = malicious
    assert len(placed) >= 100, f"expected the ~111 dev web shells, found {len(placed)}"
    found = worst(result, placed)
    flagged = [path for path in placed if path in found and found[path][0] >= Severity.MEDIUM]
    misses = sorted(placed[path] for path in placed if path not in flagged)
    recall = len(flagged) / len(placed)
    assert recall >= RECALL_FLOOR, (f"{len(flagged)}/{len(placed)} flagged at medium or above "
                                    f"({recall:.3f} < {RECALL_FLOOR}); missed:\n" + "\n".join(misses))


def test_real_benign_pages_stay_quiet(benign: tuple[dict[str, str], HostResult]) -> None:
    placed, result = benign
    assert len(placed) >= 200, f"expected the ~251 dev benign pages, found {len(placed)}"
    found = worst(result, placed)
    loud = sorted(f"{placed[path]}: {found[path][0].label} {', '.join(found[path][1])}"
                  for path in placed if path in found and found[path][0] > Severity.INFO)
    assert loud == [], f"{len(loud)} benign page(s) flagged above informational:\n" + "\n".join(loud)


def test_no_coverage_gap_on_the_planted_pages(malicious: tuple[dict[str, str], HostResult]) -> None:
    # every planted page was swept: none skipped, timed out or unreadable ("not checked" is not "clean")
    placed, result = malicious
    warned = sorted({w.path for w in result.coverage.warnings if w.path in placed})
    assert warned == [], "pages not fully checked:\n" + "\n".join(placed[p] for p in warned)
