"""A file's times as NTFS recorded them ($MFT), as opposed to the copy's modification time.

``$STANDARD_INFORMATION`` (SI) times are what Windows shows and what any program may set (timestomping);
``$FILE_NAME`` (FN) times are set by the kernel when the name is created or moved and are much harder to
forge. Each time is ISO 8601 UTC (``YYYY-MM-DDTHH:MM:SS.fffffffZ`` keeps the 100 ns tick when known).
"""

from __future__ import annotations

from dataclasses import dataclass

TIME_NAMES = ("si_created", "si_modified", "si_changed", "si_accessed",
              "fn_created", "fn_modified", "fn_changed", "fn_accessed")
LABELS = {
    "si_created": "$STANDARD_INFORMATION created", "si_modified": "$STANDARD_INFORMATION modified",
    "si_changed": "$STANDARD_INFORMATION MFT changed", "si_accessed": "$STANDARD_INFORMATION accessed",
    "fn_created": "$FILE_NAME created", "fn_modified": "$FILE_NAME modified",
    "fn_changed": "$FILE_NAME MFT changed", "fn_accessed": "$FILE_NAME accessed",
}


@dataclass(frozen=True, slots=True)
class FileTimes:
    """The eight NTFS times of one file, and where they were read (``$MFT`` path and entry)."""

    source: str  # evidence path of the $MFT they come from
    entry: int
    sequence: int = 0
    in_use: bool = True
    si_created: str | None = None
    si_modified: str | None = None
    si_changed: str | None = None
    si_accessed: str | None = None
    fn_created: str | None = None
    fn_modified: str | None = None
    fn_changed: str | None = None
    fn_accessed: str | None = None

    def get(self, name: str) -> str | None:
        value: str | None = getattr(self, name)
        return value

    def stomped(self) -> bool:
        """$SI created earlier than $FN created: the SI time was set back after the name was made."""
        return bool(self.si_created and self.fn_created and self.si_created[:19] < self.fn_created[:19])

    def whole_seconds(self) -> bool:
        """Every $SI time falls on a whole second while the $FN times do not: set by a tool, not by NTFS."""
        si = [self.get(n) for n in TIME_NAMES[:4]]
        fn = [self.get(n) for n in TIME_NAMES[4:]]
        if not all(si) or not any(fn):
            return False
        return all(_whole(t) for t in si if t) and not all(_whole(t) for t in fn if t)

    def written(self) -> tuple[str | None, str]:
        """When the content was last put in place, and which time says so.

        The later of SI created (a copy keeps its old modified time but gets a new created time) and SI
        modified (content changed in place); when SI was set back (``stomped``), FN created if later.
        """
        candidates = [(self.si_modified, "si_modified"), (self.si_created, "si_created")]
        if self.stomped() or self.whole_seconds():
            candidates.append((self.fn_created, "fn_created"))
        known = [(t, n) for t, n in candidates if t]
        if not known:
            return None, ""
        stamp, name = max(known)
        return stamp, name

    def describe(self) -> str:
        parts = [f"{LABELS[n]} {self.get(n)}" for n in TIME_NAMES if self.get(n)]
        return f"$MFT entry {self.entry}: " + ", ".join(parts)

    def attributes(self) -> tuple[tuple[str, str], ...]:
        return tuple((f"mft_{n}", v) for n in TIME_NAMES if (v := self.get(n)))


def _whole(stamp: str) -> bool:
    frac = stamp[20:].rstrip("Z") if len(stamp) > 19 and stamp[19] == "." else ""
    return not frac.strip("0")
