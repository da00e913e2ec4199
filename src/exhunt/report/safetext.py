"""Text from the evidence, made safe to show on a terminal: data, never instructions to the terminal.

Control characters (C0, DEL, C1: ``ESC``, ``CR``, newlines in a file name...), Unicode bidirectional controls
(RLO and kin, which reorder what a reader sees) and invisible format characters are written as visible escapes
(``\\x1b``, ``\\n``, ``\\u202e``); rich markup (``[link=...]``, ``[bold]``) is escaped so it prints as typed.
"""

from __future__ import annotations

import re

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# C0 and DEL and C1 controls; bidi embeddings, overrides, isolates and marks; zero-width and BOM characters;
# line and paragraph separators.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]")


def _show(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def visible(text: object) -> str:
    """``text`` with every control, bidi and invisible character written as a visible escape."""
    return _UNSAFE.sub(_show, str(text))


def markup_safe(text: object) -> str:
    """``visible(text)``, with rich markup escaped: to embed evidence in a rich markup string."""
    from rich.markup import escape  # imported here: the reporters that need no markup do not load rich

    return escape(visible(text))
