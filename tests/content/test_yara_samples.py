"""Every shipped YARA rule fires on each of its positive samples and stays quiet on its negatives;
the benign pages match no shipped rule at all."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from exhunt.content.bundle import RULES_DIR, ContentBundle, ContentSpec
from exhunt.detectors.yara import family
from exhunt.detectors.yara.compiler import CompiledRules
from exhunt.detectors.yara.scanner import FileScanner
from exhunt.detectors.yara.sweep import facts_for

SAMPLES = RULES_DIR / "yara" / "samples"
RULE_IDS = sorted(set(re.findall(r'\bid\s*=\s*"([^"]+)"',
                                 "\n".join(p.read_text() for p in (RULES_DIR / "yara").glob("*.yar")))))


@pytest.fixture(scope="module")
def scanner() -> FileScanner:
    bundle = ContentBundle(ContentSpec())
    family.load(bundle)
    assert bundle.errors == [] and bundle.unsupported == []
    compiled = bundle.parts["yara"]
    assert isinstance(compiled, CompiledRules)
    return FileScanner(compiled.data)


def matched_ids(scanner: FileScanner, sample: Path) -> set[str]:
    name = sample.name.removesuffix(".sample")
    for prefix in ("positive-", "negative-"):
        name = name.removeprefix(prefix)
    data = sample.read_bytes()
    result = scanner.scan_bytes(data, facts_for(f"C/inetpub/wwwroot/aspnet_client/{name}", data[:4096]))
    assert result.code == ""
    return {hit.meta_value("id") for hit in result.hits}


def test_every_rule_has_samples() -> None:
    assert len(RULE_IDS) >= 10
    for rule_id in RULE_IDS:
        folder = SAMPLES / rule_id
        assert list(folder.glob("positive-*.sample")), f"{rule_id}: no positive sample"
        assert list(folder.glob("negative-*.sample")), f"{rule_id}: no negative sample"


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_rule_samples(scanner: FileScanner, rule_id: str) -> None:
    for sample in sorted((SAMPLES / rule_id).glob("positive-*.sample")):
        assert rule_id in matched_ids(scanner, sample), f"{sample.name} should match {rule_id}"
    for sample in sorted((SAMPLES / rule_id).glob("negative-*.sample")):
        assert rule_id not in matched_ids(scanner, sample), f"{sample.name} should not match {rule_id}"


def test_benign_pages_stay_quiet(scanner: FileScanner) -> None:
    benign = sorted((SAMPLES / "benign").glob("*.sample"))
    assert len(benign) >= 6
    for sample in benign:
        assert matched_ids(scanner, sample) == set(), sample.name


def test_negatives_of_every_rule_match_nothing_unexpected(scanner: FileScanner) -> None:
    # a negative sample of one rule must not be caught by another shipped rule either
    for sample in sorted(SAMPLES.glob("*/negative-*.sample")):
        assert matched_ids(scanner, sample) == set(), sample.name


@pytest.mark.skipif(shutil.which("yara") is None, reason="yara command-line tool not installed")
def test_shipped_rules_compile_with_classic_yara(tmp_path: Path) -> None:
    # the bench compares against the yara tool with the same rules: keep them compatible
    for rule_file in sorted((RULES_DIR / "yara").glob("*.yar")):
        run = subprocess.run(["yara", "-w", *[a for n in ("filename", "filepath", "extension", "filetype", "owner")
                                              for a in ("-d", f"{n}=")], str(rule_file), str(tmp_path)],
                             capture_output=True, text=True, check=False)
        assert run.returncode == 0, f"{rule_file.name}: {run.stderr}"
