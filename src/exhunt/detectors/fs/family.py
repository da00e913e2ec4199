"""The file-system family: loads ``rules/fs/*.yaml`` once, builds a detector per host."""

from __future__ import annotations

from typing import Any

from exhunt.content.bundle import RULES_DIR, ContentBundle
from exhunt.detectors.base import Detector
from exhunt.detectors.files.rules import FileRuleSet
from exhunt.detectors.fs.detector import FsDetector
from exhunt.detectors.fs.rules import FsRuleSet, load_paths
from exhunt.model.coverage import InputWarning

PART = "fs"
FS_RULES_DIR = RULES_DIR / "fs"


def load(bundle: ContentBundle) -> None:
    """Compile ``rules/fs``; a `written_by` naming no `written_paths` source of the file rules is an error."""
    paths = sorted(FS_RULES_DIR.glob("*.yaml")) if bundle.spec.shipped else []
    bundle.parts[PART] = rules = load_paths(paths, RULES_DIR.parent, bundle.errors)
    files = bundle.parts.get("files")
    if not isinstance(files, FileRuleSet):  # loaded alone (tests): nothing to check against
        return
    known = {w.name for w in files.written_paths}
    for rule in rules.rules:
        for name in rule.written_by:
            if name not in known:
                bundle.errors.append(InputWarning(path=rule.origin, code="content", message=(
                    f"{rule.rule_id}: written_by names no written_paths source of the file rules: {name}")))


def create(bundle: ContentBundle, options: dict[str, Any]) -> Detector:
    rules = bundle.parts.get(PART)
    if not isinstance(rules, FsRuleSet):
        rules = FsRuleSet()
    # the log lines that say where an exploit wrote a file are the file rules' content (`written_paths`)
    files = bundle.parts.get("files")
    written = list(files.written_paths) if isinstance(files, FileRuleSet) else []
    return FsDetector(rules, options, written)
