"""All detection content, loaded and compiled once before any evidence is read."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exhunt.model.coverage import InputWarning

RULES_DIR = Path(__file__).resolve().parent.parent / "rules"


@dataclass(frozen=True, slots=True)
class ContentSpec:
    """What content to load: plain data, so it can cross to worker processes and cluster nodes."""

    sigma_paths: tuple[str, ...] = ()  # user rule folders/files, on top of the shipped rules
    yara_paths: tuple[str, ...] = ()
    ioc_paths: tuple[str, ...] = ()
    shipped: bool = True
    # values of Sigma ``|expand`` placeholders: (("admin_hosts", ("ADM01", "ADM02")), ...)
    sigma_placeholders: tuple[tuple[str, tuple[str, ...]], ...] = ()
    cache_dir: str | None = None  # where compiled content is kept between runs (content/cache.py); None: not


@dataclass
class ContentBundle:
    """Compiled content. Each engine's part is filled by that engine's loader; errors are collected."""

    spec: ContentSpec
    parts: dict[str, Any] = field(default_factory=dict)  # engine name -> compiled content
    errors: list[InputWarning] = field(default_factory=list)  # content problems, with file:line
    unsupported: list[InputWarning] = field(default_factory=list)  # rules that cannot be evaluated, why
