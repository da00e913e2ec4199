"""Shipped content compiled for tests that need it (importable from every test folder, see conftest)."""

from __future__ import annotations

from exhunt.content.bundle import ContentBundle, ContentSpec
from exhunt.detectors.files import family
from exhunt.detectors.files.rules import FileRuleSet


def shipped_file_rules() -> FileRuleSet:
    """The shipped file rules, loaded as a scan loads them; any content error fails the test."""
    bundle = ContentBundle(spec=ContentSpec())
    family.load(bundle)
    assert bundle.errors == []
    rules = bundle.parts[family.PART]
    assert isinstance(rules, FileRuleSet)
    return rules
