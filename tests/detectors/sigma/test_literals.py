"""Required-literal extraction (the prefilter must never drop a record a rule would match)."""

from __future__ import annotations

from sigma.rule import SigmaRule

from exhunt.detectors.sigma.compile import condition_trees
from exhunt.detectors.sigma.literals import Literals, fragments, trees_literals


def lits(detection: str) -> Literals:
    rule = SigmaRule.from_yaml("title: t\nlogsource: {product: windows}\ndetection:\n" + detection)
    return trees_literals(condition_trees(rule.detection))


def sel(item: str) -> str:
    return f"  sel:\n    {item}\n  condition: sel\n"


def test_longest_wildcard_free_fragment_lowercased() -> None:
    assert lits(sel("Image|endswith: '\\PowerShell.exe'")) == frozenset({"powershell.exe"})
    assert lits(sel("F: 'abc*defghi?jk'")) == frozenset({"defghi"})


def test_breakers_cut_fragments() -> None:
    # backslashes, quotes, spaces and '+' may be written differently in raw lines (JSON, CSV, IIS)
    assert fragments("C:\\Windows\\System32 -x 'a'+b?c") == ["c:", "windows", "system32", "-x", "a", "b", "c"]
    assert lits(sel("F|contains: ' -EncodedCommand '")) == frozenset({"-encodedcommand"})


def test_or_is_union_and_is_best_child() -> None:
    assert lits(sel("F|contains: ['mimikatz', 'sekurlsa']")) == frozenset({"mimikatz", "sekurlsa"})
    det = "  a:\n    F|contains: 'xy'\n  b:\n    G|contains: 'longliteral'\n  condition: a and b\n"
    assert lits(det) == frozenset({"longliteral"})
    det = "  a:\n    F|contains: 'xyz1'\n  b:\n    G: null\n  condition: a or b\n"
    assert lits(det) is None


def test_not_numbers_and_short_values_give_no_constraint() -> None:
    assert lits("  a:\n    F: 'abcdef'\n  condition: not a\n") is None
    assert lits(sel("EventID: 4688")) is None
    assert lits(sel("F: 'x'")) is None
    det = "  a:\n    EventID: 4688\n    F|contains: 'evil'\n  condition: a\n"
    assert lits(det) == frozenset({"evil"})


def test_superstrings_are_dropped_from_unions() -> None:
    assert lits(sel("F|contains: ['cmd', 'cmd.exe']")) == frozenset({"cmd"})


def test_regex_literals() -> None:
    assert lits(sel("F|re: 'foo[0-9]+barbaz'")) == frozenset({"barbaz"})
    assert lits(sel("F|re: '(abcd|efgh)x'")) == frozenset({"abcd", "efgh"})
    assert lits(sel("F|re: '(abcd)?x'")) is None
    assert lits(sel("F|re: '[a-z]+'")) is None


def test_windash_and_base64offset_expansions_are_unions() -> None:
    # '-enc', '/enc' and the unicode dashes (cut as non-ASCII) all contain 'enc'
    assert lits(sel("F|windash|contains: ' -enc'")) == frozenset({"enc"})
    got = lits(sel("F|base64offset|contains: 'http://'"))
    assert got is not None and len(got) == 3


def test_weak_fields_yield_to_any_other_required_literal() -> None:
    rule = SigmaRule.from_yaml("title: t\nlogsource: {product: windows}\ndetection:\n"
                               "  a:\n    Provider_Name: 'Service Control Manager'\n"
                               "  b:\n    ServiceName|contains: ['pwdump', 'winexesvc']\n  condition: a and b\n")
    trees = condition_trees(rule.detection)
    assert trees_literals(trees) == frozenset({"control"})  # longest fragment (ties: first in order)
    assert trees_literals(trees, frozenset({"provider_name"})) == frozenset({"pwdump", "winexesvc"})
    only_weak = SigmaRule.from_yaml("title: t\nlogsource: {product: windows}\ndetection:\n"
                                    "  a:\n    Provider_Name: 'Service Control Manager'\n  condition: a\n")
    assert trees_literals(condition_trees(only_weak.detection), frozenset({"provider_name"})) == frozenset(
        {"control"})  # still a valid constraint when nothing else is required


def test_common_tokens_yield_to_rarer_fragments() -> None:
    common = frozenset({"windows", "system32", "service"})
    rule = SigmaRule.from_yaml("title: t\nlogsource: {product: windows}\ndetection:\n"
                               "  a:\n    Image|endswith: '\\\\Windows\\\\System32\\\\at.exe'\n  condition: a\n")
    trees = condition_trees(rule.detection)
    assert trees_literals(trees) == frozenset({"system32"})
    assert trees_literals(trees, common=common) == frozenset({"at.exe"})
    only_common = SigmaRule.from_yaml("title: t\nlogsource: {product: windows}\ndetection:\n"
                                      "  a:\n    ServiceName|contains: 'WCE SERVICE'\n"
                                      "  b:\n    ImagePath|contains: '\\\\Windows\\\\'\n  condition: a and b\n")
    assert trees_literals(condition_trees(only_common.detection), common=common) == frozenset({"wce"})
