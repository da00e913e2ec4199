"""The file detector family: loads the YAML file rules once, builds a detector per host."""

from __future__ import annotations

from typing import Any

from exhunt.content.bundle import RULES_DIR, ContentBundle
from exhunt.detectors.base import Detector
from exhunt.detectors.files.detector import FileDetector
from exhunt.detectors.files.rules import FileRuleSet, load_paths

PART = "files"
FILE_RULES_DIR = RULES_DIR / "files"


def load(bundle: ContentBundle) -> None:
    """Compile the shipped file rules into ``bundle.parts['files']``; errors go to ``bundle.errors``."""
    paths = sorted(FILE_RULES_DIR.glob("*.yaml")) if bundle.spec.shipped else []
    bundle.parts[PART] = load_paths(paths, RULES_DIR.parent, bundle.errors)


def create(bundle: ContentBundle, options: dict[str, Any]) -> Detector:
    rules = bundle.parts.get(PART)
    if not isinstance(rules, FileRuleSet):
        rules = FileRuleSet()
    return FileDetector(rules, options)
