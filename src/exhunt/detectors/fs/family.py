"""The file-system family: loads ``rules/fs/*.yaml`` once, builds a detector per host."""

from __future__ import annotations

from typing import Any

from exhunt.content.bundle import RULES_DIR, ContentBundle
from exhunt.detectors.base import Detector
from exhunt.detectors.fs.detector import FsDetector
from exhunt.detectors.fs.rules import FsRuleSet, load_paths

PART = "fs"
FS_RULES_DIR = RULES_DIR / "fs"


def load(bundle: ContentBundle) -> None:
    paths = sorted(FS_RULES_DIR.glob("*.yaml")) if bundle.spec.shipped else []
    bundle.parts[PART] = load_paths(paths, RULES_DIR.parent, bundle.errors)


def create(bundle: ContentBundle, options: dict[str, Any]) -> Detector:
    rules = bundle.parts.get(PART)
    if not isinstance(rules, FsRuleSet):
        rules = FsRuleSet()
    return FsDetector(rules, options)
