"""The YARA family: compile shipped and user rules once per run, build one detector per host."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from exhunt.content.bundle import RULES_DIR, ContentBundle
from exhunt.content.cache import ContentCache, ContentKey, installed_version
from exhunt.detectors.base import Detector
from exhunt.detectors.yara.compiler import CompiledRules, RuleFile, compile_files, shipped_files, user_files
from exhunt.detectors.yara.detector import YaraDetector
from exhunt.model.coverage import InputWarning

PART = "yara"


def load(bundle: ContentBundle) -> None:
    files = shipped_files(RULES_DIR) if bundle.spec.shipped else []
    files += user_files(bundle.spec.yara_paths, bundle.errors)
    bundle.parts[PART] = compile_cached(files, bundle.errors, bundle.unsupported, bundle.spec.cache_dir) \
        if files else None


def compile_cached(files: Sequence[RuleFile], errors: list[InputWarning], unsupported: list[InputWarning],
                   cache_dir: str | None) -> CompiledRules | None:
    """``compile_files``, or its result (rules, errors, unsupported rules) kept from an earlier run on the
    same files in the content cache (``content/cache.py``: same guards as the Sigma rules): a large rule
    set such as signature-base takes seconds to compile and milliseconds to load."""
    if not cache_dir:
        return compile_files(files, errors, unsupported)
    cache = ContentCache(Path(cache_dir), PART)
    key = ContentKey(PART)
    key.add("yara-x", installed_version("yara_x", "yara-x"))
    for rule_file in files:
        key.add("rule-file", rule_file.origin, str(rule_file.shipped))
        key.add_file(rule_file.path, rule_file.origin)
    digest = key.digest()
    state = cache.load(digest)
    if isinstance(state, dict) and isinstance(state.get("compiled"), CompiledRules | None) \
            and isinstance(state.get("errors"), list) and isinstance(state.get("unsupported"), list):
        errors.extend(state["errors"])
        unsupported.extend(state["unsupported"])
        return cast("CompiledRules | None", state["compiled"])
    new_errors: list[InputWarning] = []
    new_unsupported: list[InputWarning] = []
    compiled = compile_files(files, new_errors, new_unsupported)
    errors.extend(new_errors)
    unsupported.extend(new_unsupported)
    cache.store(digest, {"compiled": compiled, "errors": new_errors, "unsupported": new_unsupported})
    return compiled



def create(bundle: ContentBundle, options: dict[str, Any]) -> Detector:
    compiled = bundle.parts.get(PART)
    if "yara_hash_all" not in options and options.get("ioc_hash_scope", "swept") != "none":
        # hash indicators are loaded: hash every swept file during the scan, in the scan's workers,
        # instead of reading every file a second time for the IOC detector
        options = {**options, "yara_hash_all": bool(getattr(bundle.parts.get("ioc"), "wants_hashes", False))}
    return YaraDetector(compiled if isinstance(compiled, CompiledRules) else None, options)
