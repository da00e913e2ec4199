"""Literal requirements: the conjunctions of literal groups a rule needs, for the text-log prefilter."""

from __future__ import annotations

from sigma.rule import SigmaRule

from exhunt.detectors.sigma.compile import condition_trees
from exhunt.detectors.sigma.requirements import trees_requirements


def _requirements(detection: str) -> set[frozenset[frozenset[str]]] | None:
    rule = SigmaRule.from_yaml(f"""
title: t
logsource: {{category: webserver}}
detection:
{detection}
""")
    found = trees_requirements(condition_trees(rule.detection))
    return None if found is None else {frozenset(conjunction) for conjunction in found}


def test_and_of_selections_keeps_every_group() -> None:
    found = _requirements("""
  post: {cs-method: POST}
  js: {cs-uri-stem|endswith: ['.js', 'main.css'], cs-uri-stem|startswith: ['/ecp/', '/owa/auth/']}
  condition: post and js
""")
    groups = {frozenset({"post"}), frozenset({".js", "main.css"}), frozenset({"/ecp/", "/owa/auth/"})}
    assert found == {frozenset(groups)}


def test_or_gives_alternatives_and_not_adds_nothing() -> None:
    found = _requirements("""
  a: {cs-uri-query|contains: 'ServerInfo~'}
  b: {cs-uri-stem|contains: 'autodiscover.json', cs-uri-query|contains: 'powershell'}
  f: {c-ip|startswith: '10.'}
  condition: (a or b) and not f
""")
    assert found == {frozenset({frozenset({"autodiscover.json"}), frozenset({"powershell"})}),
                     frozenset({frozenset({"serverinfo~"})})}


def test_unconstrained_branch_means_no_requirement() -> None:
    assert _requirements("""
  a: {cs-uri-query|contains: 'ServerInfo~'}
  b: {sc-status: 500}
  condition: a or b
""") is None
