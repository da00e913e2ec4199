"""Every shipped file rule fires on each of its positive samples and stays quiet on each negative one."""

from __future__ import annotations

import pytest

from contentfixtures import shipped_file_rules
from exhunt.detectors.files.rules import FileRule
from exhunt.detectors.files.samples import sample_failures

SHIPPED = shipped_file_rules().rules


def test_shipped_rules_load_without_errors() -> None:
    ids = [r.rule_id for r in SHIPPED]
    assert len(ids) == len(set(ids))
    assert {"EXH-FILE-LSASS-DUMP", "EXH-FILE-MINIDUMP-STAGED", "EXH-FILE-ARCHIVE-PROGRAMDATA",
            "EXH-FILE-WEBSHELL-ASPNET-CLIENT", "EXH-FILE-WEBSHELL-EXCHANGE-AUTH"} <= set(ids)


@pytest.mark.parametrize("rule", SHIPPED, ids=lambda r: r.rule_id)
def test_rule_samples(rule: FileRule) -> None:
    assert rule.positive and rule.negative
    assert sample_failures(rule) == []


@pytest.mark.parametrize("rule", SHIPPED, ids=lambda r: r.rule_id)
def test_rule_metadata(rule: FileRule) -> None:
    assert rule.rule_id.startswith("EXH-FILE-")
    assert rule.family == "proxylogon"
    assert rule.attack and all(t.startswith("T") for t in rule.attack)
    assert all(c.startswith("CVE-") for c in rule.cves)
