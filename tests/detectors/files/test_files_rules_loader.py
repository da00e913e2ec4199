"""The file-rule loader: every problem is reported with its file and line; good rules still load."""

from __future__ import annotations

from pathlib import Path

from exhunt.detectors.files.rules import FileRuleSet, load_paths, load_text
from exhunt.model.coverage import InputWarning

GOOD_RULE = """\
  - id: EXH-TEST-GOOD
    title: good
    family: test
    step: staging
    attack: [T1560.001]
    severity: medium
    extensions: [.zip]
    magic: {mode: describe, any: [zip]}
    samples:
      positive: [{path: "C/ProgramData/a.zip", head_hex: "504b0304"}]
      negative: [{path: "C/ProgramData/a.txt", head_text: "x"}]
"""


def _load(text: str) -> tuple[FileRuleSet, list[InputWarning]]:
    errors: list[InputWarning] = []
    rules = FileRuleSet()
    load_text(text, "rules/files/t.yaml", rules, errors)
    return rules, errors


def test_good_rule_loads() -> None:
    rules, errors = _load('magic:\n  zip: {hex: "504b0304", extensions: [zip]}\nrules:\n' + GOOD_RULE)
    assert errors == []
    (rule,) = rules.rules
    assert rule.origin == "rules/files/t.yaml:4"
    assert rule.extensions == frozenset({".zip"})
    assert rule.signatures[0].extensions == frozenset({".zip"})


def test_bad_rule_reported_with_line_and_others_still_load() -> None:
    bad = """\
  - id: EXH-TEST-BAD
    title: bad
    family: test
    step: not-a-step
    severity: medium
"""
    rules, errors = _load('magic:\n  zip: {hex: "504b0304"}\nrules:\n' + bad + GOOD_RULE)
    assert [r.rule_id for r in rules.rules] == ["EXH-TEST-GOOD"]
    assert len(errors) == 1
    assert errors[0].path == "rules/files/t.yaml"
    assert errors[0].line == 4
    assert "not-a-step" in errors[0].message


def test_problems_are_named() -> None:
    cases = {
        "unknown keys": GOOD_RULE.replace("    title: good\n", "    title: good\n    pathz: [x]\n"),
        "unknown signature": GOOD_RULE.replace("any: [zip]", "any: [zap]"),
        "unknown list": GOOD_RULE.replace("    extensions: [.zip]\n", '    paths: ["${nope}"]\n'),
        "positive and one negative": GOOD_RULE.replace(
            '      negative: [{path: "C/ProgramData/a.txt", head_text: "x"}]\n', ""),
        "unclosed": GOOD_RULE.replace("    extensions: [.zip]\n", '    paths: ["a/{b"]\n'),
    }
    for needle, rule in cases.items():
        rules, errors = _load('magic:\n  zip: {hex: "504b0304"}\nrules:\n' + rule)
        assert rules.rules == [], needle
        assert len(errors) == 1 and needle in errors[0].message, (needle, errors)
        assert errors[0].line == 4, needle


def test_duplicate_ids_and_yaml_errors(tmp_path: Path) -> None:
    text = 'magic:\n  zip: {hex: "504b0304"}\nrules:\n' + GOOD_RULE + GOOD_RULE
    (tmp_path / "a.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "b.yaml").write_text("rules: [\n  - id: x\n", encoding="utf-8")
    errors: list[InputWarning] = []
    rules = load_paths(sorted(tmp_path.glob("*.yaml")), tmp_path, errors)
    assert [r.rule_id for r in rules.rules] == ["EXH-TEST-GOOD"]
    assert [(e.path, e.line) for e in errors] == [("a.yaml", 15), ("b.yaml", 2)]
    assert "duplicate" in errors[0].message and "YAML" in errors[1].message
