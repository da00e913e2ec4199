"""The shipped indicator pack: every file names its source, loads cleanly, and each indicator type it
holds has a positive sample that matches and a negative one that does not."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from exhunt.content.bundle import RULES_DIR
from exhunt.detectors.ioc.feeds import load_feed
from exhunt.detectors.ioc.matcher import Hit, Matcher

PACKS = sorted((RULES_DIR / "iocs").glob("*.yaml"))


def observe(matcher: Matcher, sample: dict[str, Any]) -> list[Hit]:
    if "file" in sample:
        hits = list(matcher.match_path(sample["file"]))
        digests = {k: sample[k] for k in ("md5", "sha1", "sha256") if k in sample}
        return hits + list(matcher.match_hashes(digests))
    return matcher.match_fields(sample["fields"])


def test_packs_exist() -> None:
    assert len(PACKS) >= 2


@pytest.mark.parametrize("pack", PACKS, ids=lambda p: p.name)
def test_pack_loads_with_source_and_samples(pack: Any) -> None:
    data = yaml.safe_load(pack.read_text())
    assert data["source"]["name"] and data["source"]["url"].startswith("https://")
    feed = load_feed(pack, f"rules/iocs/{pack.name}")
    assert feed.errors == [] and feed.unsupported == []
    assert len(feed.indicators) == len(data["indicators"])
    assert all(i.source == data["source"]["name"] for i in feed.indicators)
    matcher = Matcher(feed.indicators)
    types = {i.type.value for i in feed.indicators}
    sampled = {s["type"] for s in data["samples"]}
    assert types == sampled, f"types without samples: {types - sampled}"
    for sample in data["samples"]:
        positive = [h for h in observe(matcher, sample["positive"]) if h.indicator.type.value == sample["type"]]
        assert positive, f"{sample['type']}: positive sample does not match"
        negative = observe(matcher, sample["negative"])
        assert negative == [], f"{sample['type']}: negative sample matches {negative}"
