"""Path globs of file rules, compiled to regular expressions.

Syntax (matched against the whole '/'-separated path relative to the host root, ignoring case):
``*`` any run of characters within one path segment, ``?`` one character within a segment, ``**`` any
number of whole segments (``**/x`` also matches ``x`` itself, ``a/**`` anything below ``a``),
``{a,b}`` alternatives (may nest), ``${name}`` the named list of the rule file, as ``{item1,item2,...}``.
Every other character is literal.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

_LIST_REF = re.compile(r"\$\{([A-Za-z0-9_.-]+)\}")


class GlobError(ValueError):
    """A glob that cannot be compiled; the message says why."""


def expand_lists(pattern: str, lists: Mapping[str, Sequence[str]]) -> str:
    """Replace ``${name}`` by ``{a,b,...}`` from ``lists``. Unknown names raise GlobError."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in lists:
            raise GlobError(f"unknown list ${{{name}}} in glob {pattern!r}")
        items = list(lists[name])
        for item in items:
            if any(ch in item for ch in ",{}"):
                raise GlobError(f"list {name!r} item {item!r} holds one of , {{ }}")
        return "{" + ",".join(items) + "}"

    return _LIST_REF.sub(replace, pattern)


def _translate(pattern: str, pos: int, depth: int) -> tuple[str, int]:
    """Translate from ``pos`` up to the end, or to the ',' or '}' closing the current brace level."""
    out: list[str] = []
    n = len(pattern)
    while pos < n:
        ch = pattern[pos]
        if depth and ch in ",}":
            return "".join(out), pos
        if pattern.startswith("**", pos):
            at_start = pos == 0 or pattern[pos - 1] == "/"
            if at_start and pattern.startswith("**/", pos):
                out.append("(?:.*/)?")
                pos += 3
                continue
            out.append(".*")
            pos += 2
            continue
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "{":
            alternatives: list[str] = []
            pos += 1
            while True:
                part, pos = _translate(pattern, pos, depth + 1)
                alternatives.append(part)
                if pos >= n:
                    raise GlobError(f"unclosed '{{' in glob {pattern!r}")
                if pattern[pos] == "}":
                    break
                pos += 1  # skip ','
            out.append("(?:" + "|".join(alternatives) + ")")
        elif ch == "}":
            raise GlobError(f"unbalanced '}}' in glob {pattern!r}")
        else:
            out.append(re.escape(ch))
        pos += 1
    if depth:
        raise GlobError(f"unclosed '{{' in glob {pattern!r}")
    return "".join(out), pos


def glob_regex(pattern: str) -> str:
    """The regular expression (without anchors) of one glob."""
    if not pattern:
        raise GlobError("empty glob")
    text, _ = _translate(pattern.strip("/"), 0, 0)
    return text


def compile_globs(patterns: Sequence[str],
                  lists: Mapping[str, Sequence[str]] | None = None) -> re.Pattern[str]:
    """One case-insensitive full-match expression for any of ``patterns``."""
    parts = [glob_regex(expand_lists(p, lists or {})) for p in patterns]
    return re.compile("(?:" + "|".join(parts) + r")\Z", re.IGNORECASE | re.DOTALL)
