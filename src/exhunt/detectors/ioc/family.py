"""The IOC family: read the shipped pack and the user's feeds once, build one detector per host."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from exhunt.content.bundle import RULES_DIR, ContentBundle
from exhunt.detectors.base import Detector
from exhunt.detectors.ioc.detector import IocDetector
from exhunt.detectors.ioc.feeds import load_feed
from exhunt.detectors.ioc.indicator import Indicator
from exhunt.detectors.ioc.matcher import Matcher
from exhunt.model.coverage import InputWarning

PART = "ioc"
FEED_SUFFIXES = (".json", ".csv", ".tsv", ".txt", ".lst", ".ioc", ".yaml", ".yml")


def feed_files(spec_paths: tuple[str, ...], shipped: bool, errors: list[InputWarning]) -> list[tuple[Path, str]]:
    files: list[tuple[Path, str]] = []
    if shipped and (RULES_DIR / "iocs").is_dir():
        files += [(p, f"rules/iocs/{p.name}") for p in sorted((RULES_DIR / "iocs").iterdir())
                  if p.is_file() and p.suffix.lower() in (".yaml", ".yml")]
    for given in spec_paths:
        path = Path(given)
        if path.is_dir():
            files += [(p, str(p)) for p in sorted(path.rglob("*"))
                      if p.is_file() and p.suffix.lower() in FEED_SUFFIXES]
        elif path.is_file():
            files.append((path, str(path)))
        else:
            errors.append(InputWarning(path=given, message="indicator feed not found", code="content-missing"))
    return files


def load(bundle: ContentBundle) -> None:
    indicators: list[Indicator] = []
    for path, origin in feed_files(bundle.spec.ioc_paths, bundle.spec.shipped, bundle.errors):
        feed = load_feed(path, origin)
        indicators += feed.indicators
        bundle.errors += feed.errors
        bundle.unsupported += feed.unsupported
    bundle.parts[PART] = Matcher(indicators)


def create(bundle: ContentBundle, options: dict[str, Any]) -> Detector:
    matcher = bundle.parts.get(PART)
    return IocDetector(matcher if isinstance(matcher, Matcher) else None, options)
