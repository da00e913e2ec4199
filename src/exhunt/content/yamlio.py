"""Reading content YAML fast: libyaml's safe loader when PyYAML was built with it, the pure one otherwise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str) -> Any:
    """Like ``yaml.safe_load`` (same safe types), with the C loader when there is one."""
    return yaml.load(text, Loader=SafeLoader)


def rule_files(root: Path) -> list[Path]:
    """The YAML files of a rule folder (``root`` itself when it is a file), sorted."""
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in (".yml", ".yaml"))
