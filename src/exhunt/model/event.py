"""Events: one parsed record of a log or event file, with where it came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from exhunt.model.evidence import ArtifactKind


@dataclass(slots=True)
class Record:
    """A faithful record of one artifact.

    ``fields`` maps the format's own field names (the ``#Fields`` columns, EVTX ``EventData`` names...)
    to values. ``line`` is 1-based for text logs; ``record`` is the EVTX record id or JSON line number.
    ``offset`` is the byte offset of the record's first byte in the file. ``raw`` is the record's text
    as read (decoded with replacement), used for excerpts. ``timestamp`` is ISO 8601 UTC when known.
    """

    kind: ArtifactKind
    path: str
    fields: dict[str, Any]
    raw: str = ""
    line: int | None = None
    record: int | None = None
    offset: int | None = None
    timestamp: str | None = None
    attrs: dict[str, str] = field(default_factory=dict)
    # rules a parse worker already found matching, per detector name (EVTX read in workers): the detector
    # applies their hits without evaluating its rules again; None: not judged
    matched: dict[str, tuple[int, ...]] | None = None

    def get(self, name: str, default: Any = None) -> Any:
        return self.fields.get(name, default)
