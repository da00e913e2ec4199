"""The Sigma family as the registry runs it: load into a bundle, errors and unsupported rules reported
with their file, a detector per host, content that crosses process boundaries."""

from __future__ import annotations

import pickle
from pathlib import Path

from exhunt.content.bundle import ContentBundle, ContentSpec
from exhunt.detectors.sigma import family
from exhunt.detectors.sigma.detector import SigmaDetector
from exhunt.detectors.sigma.family import SigmaContent
from exhunt.model.evidence import ArtifactKind

EXPAND = """\
title: Logon from an admin workstation
id: 0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d
logsource: {product: windows, service: security}
detection:
  sel:
    EventID: 4624
    WorkstationName|expand: '%admin_hosts%'
  condition: sel
level: low
"""
LINUX = EXPAND.replace("{product: windows, service: security}", "{product: linux, service: auditd}").replace(
    "0a1b2c3d", "1a1b2c3d")


def user_rules(tmp_path: Path) -> Path:
    (tmp_path / "expand.yml").write_text(EXPAND, encoding="utf-8")
    (tmp_path / "linux.yml").write_text(LINUX, encoding="utf-8")
    (tmp_path / "broken.yml").write_text("title: [unclosed\n", encoding="utf-8")
    return tmp_path


def test_load_reports_problems_with_their_file_and_keeps_going(tmp_path: Path) -> None:
    bundle = ContentBundle(ContentSpec(sigma_paths=(str(user_rules(tmp_path)),)))
    family.load(bundle)
    content = bundle.parts["sigma"]
    assert isinstance(content, SigmaContent)
    assert [(w.path, w.code) for w in bundle.errors] == [("broken.yml", "yaml")]
    assert sorted((w.path, w.code) for w in bundle.unsupported) == [("expand.yml", "placeholder"),
                                                                   ("linux.yml", "logsource")]
    assert "rule 0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d" in next(
        w.message for w in bundle.unsupported if w.path == "expand.yml")
    shipped = [r for r in content.result.rules if r.file.startswith(("sigma/", "exchange/"))]
    assert shipped and all(r.ext.rule_id for r in shipped)  # exhunt's own rules load alongside
    assert isinstance(family.create(bundle, {}), SigmaDetector)


def test_a_regex_python_cannot_compile_makes_its_rule_unsupported(tmp_path: Path) -> None:
    """In the detection and in an exhunt outcome block alike (``\\p{Lu}``: RE2, which pySigma checks
    regexes with, knows it; Python's ``re`` does not)."""
    bad = r"'\p{Lu}x'"
    detection = EXPAND.replace("WorkstationName|expand: '%admin_hosts%'", f"WorkstationName|re: {bad}")
    outcome = EXPAND.replace("WorkstationName|expand: '%admin_hosts%'", "WorkstationName: ADM01").replace(
        "0a1b2c3d", "2a1b2c3d") + (f"exhunt:\n  rule_id: EXH-TEST-REGEX\n  outcome:\n"
                                  f"    succeeded: {{ok: {{WorkstationName|re: {bad}}}, condition: ok}}\n")
    (tmp_path / "detection.yml").write_text(detection, encoding="utf-8")
    (tmp_path / "outcome.yml").write_text(outcome, encoding="utf-8")
    content = SigmaContent([(str(tmp_path), None)])
    assert sorted((p.file, p.code) for p in content.result.unsupported) == [("detection.yml", "regex"),
                                                                           ("outcome.yml", "regex")]
    assert all("not supported by Python" in p.message for p in content.result.unsupported)
    assert content.result.rules == [] and content.result.errors == []


def test_placeholders_from_the_spec(tmp_path: Path) -> None:
    spec = ContentSpec(sigma_paths=(str(user_rules(tmp_path) / "expand.yml"),), shipped=False,
                       sigma_placeholders=(("admin_hosts", ("ADM01",)),))
    bundle = ContentBundle(spec)
    family.load(bundle)
    assert bundle.unsupported == [] and len(bundle.parts["sigma"].result.rules) == 1


def test_missing_user_path_is_a_content_error(tmp_path: Path) -> None:
    bundle = ContentBundle(ContentSpec(sigma_paths=(str(tmp_path / "nope"),), shipped=False))
    family.load(bundle)
    assert [w.code for w in bundle.errors] == ["read"]


def test_content_pickles_as_sources_and_recompiles(tmp_path: Path) -> None:
    content = SigmaContent([(str(user_rules(tmp_path)), None)], {"admin_hosts": ["ADM01"]})
    data = pickle.dumps(content)
    assert len(data) < 2000  # sources only, no closures or Hyperscan databases
    again = pickle.loads(data)
    assert [r.rule_id for r in again.result.rules] == [r.rule_id for r in content.result.rules]
    assert SigmaDetector(again).interest(ArtifactKind.EVTX) is not None


FILTER = """\
title: Our admin jump host runs these tools
logsource: {product: windows, category: process_creation}
filter:
  rules: [cmd_from_w3wp]
  selection:
    Computer: 'JUMP01'
  condition: not selection
"""
BASE = """\
title: cmd from w3wp
name: cmd_from_w3wp
logsource: {product: windows, category: process_creation}
detection:
  sel:
    Image|endswith: '\\\\cmd.exe'
  condition: sel
"""


def test_sigma_filters_from_another_file_apply(tmp_path: Path) -> None:
    from exhunt.detectors.sigma.view import EventView

    (tmp_path / "rule.yml").write_text(BASE, encoding="utf-8")
    (tmp_path / "filters").mkdir()
    (tmp_path / "filters" / "jump.yml").write_text(FILTER, encoding="utf-8")
    content = SigmaContent([(str(tmp_path), None)])
    assert content.result.errors == [] and content.result.filters == 1
    (rule,) = content.result.rules
    assert rule.matcher(EventView({"Image": "C:\\\\Windows\\\\cmd.exe", "Computer": "EX01"}))
    assert not rule.matcher(EventView({"Image": "C:\\\\Windows\\\\cmd.exe", "Computer": "JUMP01"}))


def test_duplicate_rule_ids_are_reported_once_loaded(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(EXPAND.replace("%admin_hosts%", "adm01"), encoding="utf-8")
    (tmp_path / "b.yml").write_text(EXPAND.replace("%admin_hosts%", "adm02"), encoding="utf-8")
    content = SigmaContent([(str(tmp_path), None)])
    assert [r.file for r in content.result.rules] == ["a.yml"]
    assert [(p.file, p.code) for p in content.result.errors] == [("b.yml", "duplicate")]


def test_a_rule_from_the_cache_builds_its_matcher_when_first_evaluated(tmp_path: Path) -> None:
    """Loading compiled rules (the cache, a worker) unpickles their programs only; a rule's matcher (and its
    regular expressions) is built at its first evaluation, and decides as the one built at compile time."""
    from exhunt.detectors.sigma.view import EventView

    content = SigmaContent([(str(user_rules(tmp_path)), None)], {"admin_hosts": ["ADM01"]})
    compiled = content.result.rules
    loaded = pickle.loads(pickle.dumps(compiled))
    assert all("matcher" not in vars(rule) and "outcomes" not in vars(rule.ext) for rule in loaded)
    for event in ({"EventID": 4624, "WorkstationName": "ADM01"}, {"EventID": 4624, "WorkstationName": "PC7"}):
        view = EventView(event)
        assert [r.matcher(view) for r in loaded] == [r.matcher(view) for r in compiled]
    assert all("matcher" in vars(rule) for rule in loaded)  # built once, then an ordinary attribute
    assert pickle.loads(pickle.dumps(loaded[0])).ext.outcomes == ()
