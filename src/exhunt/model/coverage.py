"""Coverage: what was looked at, what could not be, and what that means for the verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class SourceStatus(StrEnum):
    READ = "read"  # found and read (possibly with warnings)
    PARTIAL = "partial"  # found, but some files could not be read
    MISSING = "missing"  # expected on this kind of host, not in the evidence
    UNREADABLE = "unreadable"  # found, nothing could be read
    NOT_APPLICABLE = "not_applicable"  # not expected on this host (e.g. no Exchange install)


@dataclass(frozen=True, slots=True)
class InputWarning:
    """A problem with the input, with its location. Never fatal to the run."""

    path: str
    message: str
    code: str = "warning"  # short machine code: bad-format, binary, empty, truncated, decode, too-long...
    line: int | None = None
    offset: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in (("path", self.path), ("line", self.line), ("offset", self.offset),
                                  ("code", self.code), ("message", self.message)) if v is not None}


@dataclass(slots=True)
class SourceCoverage:
    """One log source (an ``ArtifactKind`` value) on one host."""

    source: str
    status: SourceStatus = SourceStatus.MISSING
    files: int = 0
    files_failed: int = 0
    bytes: int = 0
    records: int = 0  # lines or records parsed (or counted when a prefilter skipped their parsing)
    first_time: str | None = None
    last_time: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "status": self.status.value,
            "files": self.files,
            "files_failed": self.files_failed,
            "bytes": self.bytes,
            "records": self.records,
            "first_time": self.first_time,
            "last_time": self.last_time,
        }


@dataclass(slots=True)
class HostCoverage:
    sources: dict[str, SourceCoverage] = field(default_factory=dict)
    warnings: list[InputWarning] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # plain-language consequences ("cannot be ruled out...")

    def source(self, name: str) -> SourceCoverage:
        if name not in self.sources:
            self.sources[name] = SourceCoverage(source=name)
        return self.sources[name]

    def warn(self, warning: InputWarning) -> None:
        self.warnings.append(warning)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sources": [self.sources[k].to_dict() for k in sorted(self.sources)],
            "warnings": [w.to_dict() for w in self.warnings],
            "notes": list(self.notes),
        }
