"""The YARA family: compile shipped and user rules once per run, build one detector per host."""

from __future__ import annotations

from typing import Any

from exhunt.content.bundle import RULES_DIR, ContentBundle
from exhunt.detectors.base import Detector
from exhunt.detectors.yara.compiler import CompiledRules, compile_files, shipped_files, user_files
from exhunt.detectors.yara.detector import YaraDetector

PART = "yara"


def load(bundle: ContentBundle) -> None:
    files = shipped_files(RULES_DIR) if bundle.spec.shipped else []
    files += user_files(bundle.spec.yara_paths, bundle.errors)
    bundle.parts[PART] = compile_files(files, bundle.errors, bundle.unsupported) if files else None


def create(bundle: ContentBundle, options: dict[str, Any]) -> Detector:
    compiled = bundle.parts.get(PART)
    if "yara_hash_all" not in options and options.get("ioc_hash_scope", "swept") != "none":
        # hash indicators are loaded: hash every swept file during the scan, in the scan's workers,
        # instead of reading every file a second time for the IOC detector
        options = {**options, "yara_hash_all": bool(getattr(bundle.parts.get("ioc"), "wants_hashes", False))}
    return YaraDetector(compiled if isinstance(compiled, CompiledRules) else None, options)
