"""One timestamp form for every report: ``YYYY-MM-DDTHH:MM:SS.fffZ`` (UTC, milliseconds).

Parsers hand over ISO 8601 UTC in whatever precision the source has (IIS: seconds; Exchange: milliseconds;
EVTX: 100 ns). Reports, sorting and correlation use this single form; the raw excerpt keeps the original.
"""

from __future__ import annotations


def canonical(stamp: str | None) -> str | None:
    if not stamp:
        return stamp
    if len(stamp) == 24 and stamp[19] == "." and stamp[23] == "Z":
        return stamp
    if len(stamp) < 19 or stamp[10] not in "T ":
        return stamp
    head = f"{stamp[:10]}T{stamp[11:19]}"
    rest = stamp[19:]
    frac = ""
    if rest.startswith("."):
        digits = rest[1:]
        end = 0
        while end < len(digits) and digits[end].isdigit():
            end += 1
        frac, rest = digits[:end], digits[end:]
    if rest not in ("", "Z", "+00:00"):
        return stamp  # an offset other than UTC: left as the parser gave it
    return f"{head}.{(frac + '000')[:3]}Z"
