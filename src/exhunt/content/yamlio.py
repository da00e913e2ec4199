"""Reading content YAML fast: libyaml's safe loader when PyYAML was built with it, the pure one otherwise."""

from __future__ import annotations

from typing import Any

import yaml

SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str) -> Any:
    """Like ``yaml.safe_load`` (same safe types), with the C loader when there is one."""
    return yaml.load(text, Loader=SafeLoader)
