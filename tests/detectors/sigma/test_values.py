"""Sigma semantics, one modifier or condition form at a time (synthetic one-line rules and events)."""

from __future__ import annotations

from typing import Any

import pytest
from sigma.rule import SigmaRule

from exhunt.detectors.sigma.compile import CompileContext, compile_rule
from exhunt.detectors.sigma.values import Unsupported
from exhunt.detectors.sigma.view import EventView


def match(detection: str, event: dict[str, Any], ctx: CompileContext | None = None) -> bool:
    text = "title: t\nlogsource: {product: windows}\ndetection:\n" + detection
    rule = SigmaRule.from_yaml(text)
    return compile_rule(rule, ctx or CompileContext())(EventView(event))


def sel(item: str) -> str:
    return f"  sel:\n    {item}\n  condition: sel\n"


@pytest.mark.parametrize(("item", "value", "expected"), [
    ("Image: 'C:\\Windows\\cmd.exe'", "c:\\windows\\CMD.EXE", True),  # case-insensitive equality
    ("Image: 'C:\\Windows\\cmd.exe'", "c:\\windows\\cmd.exe.bak", False),
    ("Image|contains: 'WINDOWS'", "c:\\windows\\x", True),
    ("Image|startswith: 'c:\\win'", "C:\\Windows\\x", True),
    ("Image|startswith: 'c:\\win'", "D:\\Windows\\x", False),
    ("Image|endswith: '\\cmd.exe'", "C:\\x\\CMD.exe", True),
    ("Image|endswith: '\\cmd.exe'", "C:\\x\\xcmd.exe", False),
    ("Image: 'c:\\\\*\\cmd.exe'", "C:\\Windows\\System32\\cmd.exe", True),  # '\\*': \ then wildcard
    ("Image: 'c:\\*\\cmd.exe'", "C:*\\cmd.exe", True),  # '\*' is a literal star
    ("Image: 'c:\\w?ndows'", "C:\\Windows", True),
    ("Image: 'c:\\w?ndows'", "C:\\Wiindows", False),
    ("Image: 'a\\*b'", "a*b", True),  # escaped wildcard is literal
    ("Image: 'a\\*b'", "axxb", False),
    ("Image: 'a\\?b'", "a?b", True),
    ("Image: '*'", "", True),
    ("Image|cased: 'CmD'", "CmD", True),
    ("Image|cased: 'CmD'", "cmd", False),
])
def test_strings(item: str, value: str, expected: bool) -> None:
    assert match(sel(item), {"Image": value}) is expected


def test_field_names_ignore_case_and_missing_field_does_not_match() -> None:
    assert match(sel("image: 'x'"), {"IMAGE": "X"})
    assert not match(sel("Image: 'x'"), {"Other": "x"})


def test_value_list_is_or_and_all_is_and() -> None:
    assert match(sel("CommandLine|contains: ['aa', 'bb']"), {"CommandLine": "xx bb"})
    assert not match(sel("CommandLine|contains|all: ['aa', 'bb']"), {"CommandLine": "xx bb"})
    assert match(sel("CommandLine|contains|all: ['aa', 'bb']"), {"CommandLine": "bb aa"})


@pytest.mark.parametrize(("item", "value", "expected"), [
    ("F|re: '^a.c$'", "abc", True),
    ("F|re: '^a.c$'", "ABC", False),  # case-sensitive by default
    ("F|re|i: '^a.c$'", "ABC", True),
    ("F|re: 'b'", "abc", True),  # unanchored search
    ("F|re|m: '^b$'", "a\nb\nc", True),
    ("F|re: '^b$'", "a\nb\nc", False),
    ("F|re|s: 'a.c'", "a\nc", True),
    ("F|re: 'a.c'", "a\nc", False),
])
def test_regex(item: str, value: str, expected: bool) -> None:
    assert match(sel(item), {"F": value}) is expected


def test_base64_and_base64offset() -> None:
    assert match(sel("F|base64: 'hello'"), {"F": "aGVsbG8="})
    assert match(sel("F|base64offset|contains: 'http://'"), {"F": "xx aHR0cDovL yy"})
    assert match(sel("F|base64offset|contains: 'http://'"), {"F": "xx odHRwOi8v yy"})
    assert not match(sel("F|base64offset|contains: 'http://'"), {"F": "plain http://"})


def test_wide_utf16() -> None:
    wide = "p\x00s\x00"
    assert match(sel("F|wide|contains: 'ps'"), {"F": f"x{wide}y"})
    assert match(sel("F|utf16|contains: 'ps'"), {"F": f"x\ufeff{wide}y"})
    assert match(sel("F|utf16be|contains: 'ps'"), {"F": "\x00p\x00s"})
    assert match(sel("F|wide|base64offset|contains: 'ps'"), {"F": "cABzA"})


@pytest.mark.parametrize("value", ["x -enc y", "x /enc y", "x \u2013enc y", "x \u2014enc y", "x \u2015enc y"])
def test_windash(value: str) -> None:
    assert match(sel("F|windash|contains: ' -enc '"), {"F": value})


def test_cidr() -> None:
    assert match(sel("ip|cidr: '10.0.0.0/8'"), {"ip": "10.1.2.3"})
    assert not match(sel("ip|cidr: '10.0.0.0/8'"), {"ip": "11.1.2.3"})
    assert match(sel("ip|cidr: 'fe80::/10'"), {"ip": "fe80::1"})
    assert not match(sel("ip|cidr: '10.0.0.0/8'"), {"ip": "not an ip"})
    assert match(sel("ip|cidr: '10.0.0.0/8'"), {"ip": "::ffff:10.9.8.7"})


def test_exists() -> None:
    assert match(sel("F|exists: true"), {"F": ""})
    assert not match(sel("F|exists: true"), {"G": "x"})
    assert match(sel("F|exists: false"), {"G": "x"})


def test_null_is_absent_or_empty() -> None:
    assert match(sel("F: null"), {"G": "x"})
    assert match(sel("F: null"), {"F": ""})
    assert match(sel("F: null"), {"F": None})
    assert not match(sel("F: null"), {"F": "x"})


def test_fieldref() -> None:
    assert match(sel("A|fieldref: B"), {"A": "Same", "B": "same"})
    assert not match(sel("A|fieldref: B"), {"A": "one", "B": "two"})
    assert match(sel("A|fieldref|startswith: B"), {"A": "abc", "B": "ab"})
    assert match(sel("A|fieldref|endswith: B"), {"A": "abc", "B": "bc"})
    assert match(sel("A|fieldref|contains: B"), {"A": "abcd", "B": "bc"})
    assert not match(sel("A|fieldref: B"), {"A": "x"})


@pytest.mark.parametrize(("item", "value", "expected"), [
    ("N|lt: 10", "9", True), ("N|lt: 10", 10, False), ("N|lte: 10", 10, True),
    ("N|gt: 10", "11", True), ("N|gte: 10", "10", True), ("N|gt: 10", "abc", False),
    ("N: 4688", 4688, True), ("N: 4688", "4688", True), ("N: 4688", "4689", False),
    ("N: 0x10", "0x10", True),  # YAML reads 0x10 as 16; Windows writes hex as text
    ("B: true", "true", True), ("B: true", "false", False),
])
def test_numbers_and_booleans(item: str, value: Any, expected: bool) -> None:
    assert match(sel(item), {"N": value, "B": value}) is expected


def test_expand_needs_placeholder_values() -> None:
    with pytest.raises(Unsupported) as info:
        match(sel("F|expand: '%admins%'"), {"F": "bob"})
    assert info.value.code == "placeholder"
    ctx = CompileContext(placeholders={"admins": ["alice", "bob"]})
    assert match(sel("F|expand: '%admins%'"), {"F": "BOB"}, ctx)
    assert not match(sel("F|expand: '%admins%'"), {"F": "eve"}, ctx)


def test_keywords_match_any_value() -> None:
    det = "  kw:\n    - 'mimikatz'\n    - 'sekurlsa::*'\n  condition: kw\n"
    assert match(det, {"A": "x", "B": "run Mimikatz.exe now"})
    assert match(det, {"A": "sekurlsa::logonpasswords"})
    assert not match(det, {"A": "benign"})
    cased = "  kw:\n    '|cased': 'MiMi'\n  condition: kw\n"
    assert match(cased, {"A": "run MiMikatz"})
    assert not match(cased, {"A": "run mimikatz"})


CONDITION = """  sel_a:
    A: 'a'
  sel_b:
    B: 'b'
  filter:
    C: 'c'
  condition: {}
"""


@pytest.mark.parametrize(("condition", "event", "expected"), [
    ("1 of sel_*", {"A": "a"}, True),
    ("all of sel_*", {"A": "a"}, False),
    ("all of sel_*", {"A": "a", "B": "b"}, True),
    ("1 of them", {"C": "c"}, True),
    ("all of them", {"A": "a", "B": "b"}, False),
    ("all of them", {"A": "a", "B": "b", "C": "c"}, True),
    ("sel_a and not filter", {"A": "a", "C": "c"}, False),
    ("sel_a and not filter", {"A": "a"}, True),
    ("sel_a and (sel_b or filter)", {"A": "a", "C": "c"}, True),
    ("(sel_a and sel_b) or filter", {"A": "a"}, False),
    ("not 1 of sel_*", {"C": "c"}, True),
    ("any of sel_*", {"B": "b"}, True),
])
def test_conditions(condition: str, event: dict[str, Any], expected: bool) -> None:
    assert match(CONDITION.format(condition), event) is expected


def test_list_of_maps_is_or_and_map_is_and() -> None:
    det = "  sel:\n    - A: 'a'\n      B: 'b'\n    - C: 'c'\n  condition: sel\n"
    assert match(det, {"C": "c"})
    assert match(det, {"A": "a", "B": "b"})
    assert not match(det, {"A": "a"})


def test_mapped_field_uses_first_present_alternative() -> None:
    ctx = CompileContext(fields={"image": ("image", "newprocessname")})
    assert match(sel("Image|endswith: '\\cmd.exe'"), {"NewProcessName": "C:\\cmd.exe"}, ctx)
    assert match(sel("Image|endswith: '\\cmd.exe'"), {"Image": "C:\\cmd.exe"}, ctx)


def test_field_with_spaces_matches_sigma_name_without() -> None:
    assert match(sel("SourceName: 'Real-Time Protection'"), {"Source Name": "Real-Time Protection"})


def test_timestamp_parts() -> None:
    assert match(sel("T|hour: 3"), {"T": "2021-03-03T03:10:00Z"})
    assert not match(sel("T|hour: 4"), {"T": "2021-03-03T03:10:00Z"})


def test_long_substring_lists() -> None:
    words = [f"tool{i:03d}x" for i in range(200)] + ["\U0001f600"]
    item = "F|contains: [" + ", ".join(f"'{w}'" for w in words) + "]"
    assert match(sel(item), {"F": "run TOOL150X now"})
    assert match(sel(item), {"F": "smile \U0001f600"})
    assert not match(sel(item), {"F": "tool15x tool1500"})
