"""The detector families exhunt runs, in order. Written by hand: add a line per family.

Each family has a loader, which compiles its content into the bundle once before any evidence is read
(collecting errors with file and line), and a factory, which builds a fresh per-host detector.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from exhunt.content.bundle import ContentBundle
from exhunt.detectors.base import Detector


@dataclass(frozen=True)
class DetectorFamily:
    name: str
    load: Callable[[ContentBundle], None]
    create: Callable[[ContentBundle, dict[str, Any]], Detector]


def families() -> list[DetectorFamily]:
    from exhunt.detectors.files import family as files_family
    from exhunt.detectors.fs import family as fs_family
    from exhunt.detectors.ioc import family as ioc_family
    from exhunt.detectors.sigma import family as sigma_family
    from exhunt.detectors.yara import family as yara_family

    return [
        DetectorFamily("sigma", sigma_family.load, sigma_family.create),
        DetectorFamily("files", files_family.load, files_family.create),
        DetectorFamily("yara", yara_family.load, yara_family.create),
        DetectorFamily("ioc", ioc_family.load, ioc_family.create),
        DetectorFamily("fs", fs_family.load, fs_family.create),
    ]


def load_content(bundle: ContentBundle) -> ContentBundle:
    for family in families():
        family.load(bundle)
    return bundle


def create_detectors(bundle: ContentBundle, options: dict[str, Any]) -> list[Detector]:
    return [family.create(bundle, options) for family in families()]
