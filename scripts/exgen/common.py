"""The in-memory tree of one example host, attack-line marks, deterministic randomness and time helpers."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

CRLF = "\r\n"  # Windows writes IIS and Exchange logs with CRLF line ends


@dataclass(frozen=True)
class Mark:
    """A line (or a whole file when ``line`` is None) a detector is expected to report."""

    path: str
    line: int | None
    what: str


@dataclass
class HostFiles:
    """Every file of one host, by path relative to the host root ('/' separated), plus the marks."""

    name: str
    files: dict[str, bytes] = field(default_factory=dict)
    mtimes: dict[str, datetime] = field(default_factory=dict)
    marks: list[Mark] = field(default_factory=list)

    def add(self, path: str, data: bytes | str, mtime: datetime | None = None, mark: str = "") -> None:
        if path in self.files:
            raise ValueError(f"duplicate path {path}")
        self.files[path] = data.encode("utf-8") if isinstance(data, str) else data
        if mtime is not None:
            self.mtimes[path] = mtime
        if mark:
            self.marks.append(Mark(path, None, mark))

    def add_log(
        self, path: str, header: list[str], rows: list[tuple[str, str]], mtime: datetime | None = None,
        newline: str = CRLF,
    ) -> None:
        """Write a text log: header lines, then rows of (text, mark). A non-empty mark is recorded."""
        for index, (_text, mark) in enumerate(rows):
            if mark:
                self.marks.append(Mark(path, len(header) + index + 1, mark))
        lines = [*header, *(text for text, _mark in rows)]
        self.add(path, newline.join(lines) + newline, mtime)


class Rng(random.Random):
    """random.Random seeded from a string (stable across runs and platforms) with a few helpers."""

    def __init__(self, seed: str) -> None:
        super().__init__(seed)

    def guid(self) -> str:
        return str(uuid.UUID(int=self.getrandbits(128), version=4))

    def hexstr(self, n: int) -> str:
        return "".join(self.choice("0123456789abcdef") for _ in range(n))

    def alnum(self, n: int, alphabet: str = "abcdefghijklmnopqrstuvwxyz0123456789") -> str:
        return "".join(self.choice(alphabet) for _ in range(n))

    def jitter(self, t: datetime, max_seconds: float) -> datetime:
        return t + timedelta(milliseconds=self.randint(0, int(max_seconds * 1000)))


def field_list(text: str) -> list[str]:
    """A '#Fields' list written as one comma-separated string."""
    return text.split(",")


def utc(text: str) -> datetime:
    """'2021-03-03 04:12:33' (or with .fff) as an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def iso_ms(t: datetime) -> str:
    """Exchange log timestamps: 2021-03-03T04:12:33.123Z."""
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def iso_7(t: datetime) -> str:
    """Windows event SystemTime: 2021-03-03T04:12:33.1234560Z (100 ns precision)."""
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond:06d}0Z"


def days(first: str, last: str) -> list[datetime]:
    start, end = utc(first), utc(last)
    out = []
    while start <= end:
        out.append(start)
        start += timedelta(days=1)
    return out
