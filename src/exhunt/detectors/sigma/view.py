"""One event as the Sigma matchers see it: field names without case, values as text, computed once.

A view is built once per record (not per rule). The lowercase-key map, the lowercased values and the
text of all values (for keyword detections and the literal scan) are computed lazily on first use.
Derived fields (declared in pipeline YAML, e.g. IIS stem and query joined) are computed on demand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MISSING: Any = object()


@dataclass(frozen=True, slots=True)
class Derived:
    """A field computed from others: the non-empty values of ``parts`` joined; ``sep`` only between
    non-empty parts (``/owa/x.aspx`` + ``?`` + ``a=1``, or just the stem when the query is empty)."""

    parts: tuple[str, ...]  # lowercase field names
    sep: str = ""


def as_text(value: Any) -> str:
    if type(value) is str:
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


Shape = tuple[tuple[str, ...], tuple[tuple[str, int], ...]]
_SHAPES: dict[tuple[str, ...], Shape] = {}  # field-name tuple -> lowercase names (records repeat shapes)
MAX_SHAPES = 4096


def _shape(names: tuple[str, ...]) -> Shape:
    lowered = tuple(n.lower() for n in names)
    # Defender writes 'Source Name' where Sigma says 'SourceName': both spellings find the value
    extra = tuple((n.replace(" ", ""), i) for i, n in enumerate(lowered) if " " in n)
    if len(_SHAPES) >= MAX_SHAPES:
        _SHAPES.clear()
    _SHAPES[names] = (lowered, extra)
    return lowered, extra


class EventView:
    __slots__ = ("_derived", "_keys", "_low", "_low_values", "_values", "fields")

    def __init__(self, fields: Mapping[str, Any], derived: Mapping[str, Derived] | None = None) -> None:
        self.fields = fields
        self._derived = derived
        self._keys: dict[str, Any] | None = None
        self._low: dict[str, str] = {}
        self._values: list[str] | None = None
        self._low_values: list[str] | None = None

    def _keymap(self) -> dict[str, Any]:
        keys = self._keys
        if keys is None:
            names = tuple(self.fields)
            shape = _SHAPES.get(names)
            if shape is None:
                shape = _shape(names)
            lowered, extra = shape
            values = list(self.fields.values())
            keys = dict(zip(lowered, values, strict=True))
            for name, i in extra:
                keys.setdefault(name, values[i])
            self._keys = keys
        return keys

    def raw(self, name: str, exact: str = "") -> Any:
        """The original value of a field (lowercase ``name``; ``exact``: the likely spelling, tried first
        so that most lookups need no case-free map), or ``MISSING``."""
        if exact:
            value = self.fields.get(exact, MISSING)
            if value is not MISSING:
                return value
        keys = self._keys if self._keys is not None else self._keymap()
        value = keys.get(name, MISSING)
        if value is MISSING and self._derived is not None and name in self._derived:
            spec = self._derived[name]
            texts = [as_text(keys.get(p)) for p in spec.parts]
            present = [t for t in texts if t]
            value = spec.sep.join(present) if any(p in keys for p in spec.parts) else MISSING
            keys[name] = value
        return value

    def text(self, name: str) -> str | None:
        """The value as text (case kept), None when the field is absent."""
        value = self.raw(name)
        if value is MISSING:
            return None
        return as_text(value)

    def low(self, name: str, exact: str = "") -> str | None:
        """The value as lowercase text, None when the field is absent. Cached per field."""
        cached = self._low.get(name)
        if cached is not None:
            return cached
        value = self.raw(name, exact)
        if value is MISSING:
            return None
        low = as_text(value).lower()
        self._low[name] = low
        return low

    def values(self) -> list[str]:
        """Every value as text (case kept), in field order."""
        if self._values is None:
            self._values = [v if type(v) is str else as_text(v) for v in self.fields.values() if v is not None]
        return self._values

    def low_values(self) -> list[str]:
        """Every value as lowercase text (keyword detections)."""
        if self._low_values is None:
            self._low_values = [t.lower() for t in self.values()]
        return self._low_values

    def haystack(self) -> str:
        """All values, newline-joined: the text the literal prefilter scans."""
        return "\n".join(self.values())


def first_present(view: EventView, names: tuple[str, ...]) -> str | None:
    """The first of ``names`` present in the event (the mapping's alternatives), lowercase name."""
    for name in names:
        if view.raw(name) is not MISSING:
            return name
    return None
