"""Field tests judged on an EVTX record's raw JSON, for rules that have no required literal.

A rule that tests only numbers (``LogonType: 3``) has no literal, so every record of its route used to
be decoded whole. Many such rules still need one of a few field tests in every branch (an AND needs one
of its children, an OR all of them): ``required_tests`` finds such a set in a rule's program (data, not a
special case). ``FieldProbe`` then finds each test's field in the raw JSON text and applies the rule's own
value test (``matchers.build_value``: the same leniency, spaces, hex, ``9.0``...) to every value written
under that key, as the flattening (``parsers/winevent.py``) would give it.

The probe is an over-approximation: it answers True (decode the record) whenever it is not sure: the
field name found anywhere but as a key with a plain value (an object, a list, a key inside a string), a
value the JSON reader refuses, a name the flattening makes up or converts (System fields, ``Data``,
``Message``, dotted paths, derived fields). A record it rejects has no key that could give the field a
value passing the test, so no rule of the route could match it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson

from exhunt.detectors.sigma.matchers import Program, ValueTest, build_value
from exhunt.detectors.sigma.view import as_text
from exhunt.parsers.winevent import SYSTEM_FIELDS, text

Atom = tuple[tuple[str, ...], str, Program]  # (lowercase names, the rule's spelling, value program)
# names the flattening makes up or converts: their value is not the text written under their key
_MADE = frozenset(n.lower() for n in SYSTEM_FIELDS) | {"data", "message"}
_NAME = re.compile(r"[a-z0-9_]+")
MAX_ATOMS = 32  # tests probed per route; beyond, the route is decoded whole
_ESCAPED = re.compile(r"\\u(?:00[3-7]|212)", re.IGNORECASE)  # \u escapes of ASCII letters, the Kelvin sign
_VALUE = r'("(?:[^"\\]|\\.)*"|-?[0-9][0-9.eE+-]*|true|false|null)'


def _usable(names: Iterable[str], derived: Mapping[str, Any] | None) -> bool:
    return all(_NAME.fullmatch(name) and name not in _MADE and not (derived and name in derived) for name in names)


def required_tests(program: Program, derived: Mapping[str, Any] | None = None) -> frozenset[Atom] | None:
    """Field tests one of which must hold for ``program`` to match (None: no such set of probe-able tests)."""
    kind = program[0]
    if kind == "and":
        found = [s for s in (required_tests(child, derived) for child in program[1]) if s is not None]
        return min(found, key=len) if found else None
    if kind == "or":
        union: set[Atom] = set()
        for child in program[1]:
            got = required_tests(child, derived)
            if got is None:
                return None
            union |= got
        return frozenset(union) if union else None
    if kind == "field":
        names, exact = tuple(program[1]), str(program[2] or "")
        if not _usable((*names, exact.lower()) if exact else names, derived):
            return None
        return frozenset([(names, exact, program[3])])
    return None


def _loose(name: str) -> str:
    """The name as a key may write it: any case, spaces anywhere (the view also finds ``Logon Type``)."""
    return " *".join(re.escape(c) for c in name)


class FieldProbe:
    """Whether a record's raw JSON may give one of ``atoms`` a value its test accepts.

    The names are looked for in the lowercased text (``str.lower`` as the view folds field names; a text
    whose lowercase is not as long, where offsets would not align, is decoded). Every place a name is
    found as the whole of a key (quotes around it, spaces aside) must hold a plain value (a string, a
    number, true, false, null): else not sure. A name found inside a longer key or text is no such key.
    """

    def __init__(self, atoms: Iterable[Atom]) -> None:
        by_name: dict[str, list[tuple[Atom, ValueTest]]] = {}
        for atom in sorted(set(atoms), key=repr):
            names, exact, value = atom
            test = build_value(value)
            for name in sorted({*names, exact.lower()} - {""}):
                by_name.setdefault(name, []).append((atom, test))
        self._tests = by_name
        alternatives = "|".join(_loose(n) for n in sorted(by_name, key=lambda n: (-len(n), n)))
        self._anywhere = re.compile(alternatives)
        self._tail = re.compile(r'\s*:\s*' + _VALUE)  # after the key's closing quote
        self._value_end = re.compile(r'\s*[,}\]]')

    def __call__(self, raw: str) -> bool:
        passing = self.passing(raw)
        return passing is None or bool(passing)

    def passing(self, raw: str) -> set[Atom] | None:
        """The atoms some value written under their keys passes (None: not sure, any may pass)."""
        low = raw.lower()
        found = list(self._anywhere.finditer(low))
        passed: set[Atom] = set()
        if not found:
            return passed  # no key of these names: the fields are absent, every test fails
        if len(low) != len(raw) or ("\\u" in raw and _ESCAPED.search(raw)):
            return None  # offsets would not align, or a name's letter may be written escaped
        size = len(low)
        for m in found:
            before = m.start() - 1
            while before >= 0 and low[before] == " ":
                before -= 1
            after = m.end()
            while after < size and low[after] == " ":
                after += 1
            if before < 0 or low[before] != '"' or after >= size or low[after] != '"':
                continue  # more than the name between quotes (``WorkstationName``), or in no string: another key
            tail = self._tail.match(raw, after + 1)
            if tail is None:
                if self._value_end.match(raw, after + 1):
                    continue  # a string value that is the name, not a key
                return None  # a key holding an object, a list, anything odd: not sure
            tests = self._tests.get(m.group().replace(" ", ""))
            if tests is None:
                return None
            try:
                value = orjson.loads(tail.group(1))
            except orjson.JSONDecodeError:
                return None
            for atom, test in tests:
                if atom not in passed and _passes(test, value):
                    passed.add(atom)
        return passed


def _passes(test: ValueTest, value: Any) -> bool:
    """Whether a test accepts the value as the flattening may keep it (as written, or as text), as the
    matchers apply it (``matchers._field_test``)."""
    for candidate in (value, text(value)):
        if test.on == "raw":
            if candidate is not None and test.test(candidate):
                return True
        elif test.on == "text":
            if test.test(as_text(candidate)):
                return True
        elif test.test(as_text(candidate).lower()):
            return True
    return False


def probe_for(programs: Sequence[Program], derived: Mapping[str, Any] | None = None) -> FieldProbe | None:
    """A probe for rules each needing one of its field tests (None when a rule has no such tests)."""
    atoms: set[Atom] = set()
    for program in programs:
        found = required_tests(program, derived)
        if found is None:
            return None
        atoms |= found
    if not atoms or len(atoms) > MAX_ATOMS:
        return None
    return FieldProbe(atoms)
