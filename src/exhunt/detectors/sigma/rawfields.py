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
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson

from exhunt.content.hyperscan_db import compile_database
from exhunt.detectors.sigma.matchers import Program, ValueTest, build_value
from exhunt.detectors.sigma.view import as_text
from exhunt.parsers.winevent import SYSTEM_FIELDS, text

hyperscan: Any
try:  # a declared dependency; Python's ``re`` gives the same answers
    import hyperscan
except ImportError:  # pragma: no cover
    hyperscan = None

Atom = tuple[tuple[str, ...], str, Program]  # (lowercase names, the rule's spelling, value program)
# names the flattening makes up or converts: their value is not the text written under their key
_MADE = frozenset(n.lower() for n in SYSTEM_FIELDS) | {"data", "message"}
_NAME = re.compile(r"[a-z0-9_]+")
MAX_KNOWN = 4096  # (name, value) answers kept per probe: values repeat (LogonType 5), odd data stays bounded
_UNSURE: frozenset[Any] = frozenset({("", "", ("unsure",))})  # a marker, never an atom
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


def _loose(name: str) -> bytes:
    """The name as a key may write it: spaces anywhere (the view also finds ``Logon Type``)."""
    return b" *".join(re.escape(c).encode() for c in name)


def _collect(ident: int, _start: int, end: int, _flags: int, found: list[tuple[int, int]]) -> None:
    found.append((ident, end))


def _start(data: bytes, name: bytes, end: int) -> int:
    """Where the spaced form of ``name`` (lowercase ASCII) that ends at ``end`` starts: walked back letter
    by letter, spaces skipped between letters (a form is found by one such walk: letters are no spaces)."""
    at = end - len(name)
    if at >= 0 and data[at:end].lower() == name:  # the common case: no spaces
        return at
    at = end - 1
    for number, letter in enumerate(reversed(name)):
        if number:
            while at >= 0 and data[at] == 32:
                at -= 1
        if at < 0 or data[at] | 0x20 != letter | 0x20:
            return -1
        at -= 1
    return at + 1


class FieldProbe:
    """Whether a record's raw JSON may give one of ``atoms`` a value its test accepts.

    The names are looked for in the UTF-8 bytes, ASCII case folded (Hyperscan, every occurrence; else
    Python's ``re``), so a name and its spaced forms (``Logon Type``) are found in any case; the one
    non-ASCII letter that lowercases to an ASCII one (the Kelvin sign) makes a text not sure. Every place a
    name is found as the whole of a key (quotes around it, spaces aside) must hold a plain value (a string,
    a number, true, false, null): else not sure. A name found inside a longer key or text is no such key.
    """

    def __init__(self, atoms: Iterable[Atom]) -> None:
        by_name: dict[str, list[tuple[Atom, ValueTest]]] = {}
        for atom in sorted(set(atoms), key=repr):
            names, exact, value = atom
            test = build_value(value)
            for name in sorted({*names, exact.lower()} - {""}):
                by_name.setdefault(name, []).append((atom, test))
        self._tests = by_name
        self._known: dict[tuple[bytes, bytes], frozenset[Atom]] = {}  # (name, value as written) -> atoms passed
        self._kelvin = any("k" in name for name in by_name)
        ordered = sorted(by_name, key=lambda n: (-len(n), n))
        self._names = [n.encode() for n in ordered]
        self._db: Any = None
        if hyperscan is not None:
            flag = hyperscan.HS_FLAG_CASELESS
            self._db = compile_database(hyperscan, [_loose(n) for n in ordered], [flag] * len(ordered),
                                        tag="rawfields")
            self._local = threading.local()
        self._anywhere = re.compile(b"|".join(_loose(n) for n in ordered), re.IGNORECASE)
        self._tail = re.compile(rb'\s*:\s*' + _VALUE.encode())  # after the key's closing quote
        self._value_end = re.compile(rb'\s*[,}\]]')

    def __call__(self, raw: str) -> bool:
        passing = self.passing(raw)
        return passing is None or bool(passing)

    def _found(self, data: bytes) -> list[tuple[int, int]]:
        if self._db is None:
            return [m.span() for m in self._anywhere.finditer(data)]
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:  # not shared between threads
            scratch = self._local.scratch = hyperscan.Scratch(self._db)
        ends: list[tuple[int, int]] = []
        self._db.scan(data, match_event_handler=_collect, context=ends, scratch=scratch)
        names = self._names
        return [(_start(data, names[ident], end), end) for ident, end in ends]

    def passing(self, raw: str) -> set[Atom] | None:
        """The atoms some value written under their keys passes (None: not sure, any may pass)."""
        data = raw.encode("utf-8", "surrogatepass")
        found = self._found(data)
        passed: set[Atom] = set()
        if not found:
            return passed  # no key of these names: the fields are absent, every test fails
        if ("\\u" in raw and _ESCAPED.search(raw)) or (self._kelvin and "\u212a" in raw):
            return None  # a name's letter may be written escaped, or as the Kelvin sign
        size = len(data)
        for start, end in found:
            if start < 0:
                return None  # cannot be: a match walked back must start somewhere
            before = start - 1
            while before >= 0 and data[before] == 32:  # spaces
                before -= 1
            after = end
            while after < size and data[after] == 32:
                after += 1
            if before < 0 or data[before] != 34 or after >= size or data[after] != 34:  # quotes
                continue  # more than the name between quotes (``WorkstationName``), or in no string: another key
            tail = self._tail.match(data, after + 1)
            if tail is None:
                if self._value_end.match(data, after + 1):
                    continue  # a string value that is the name, not a key
                return None  # a key holding an object, a list, anything odd: not sure
            name = data[start:end].lower().replace(b" ", b"")
            token = tail.group(1)
            known = self._known.get((name, token))
            if known is None:
                known = self._judge(name, token)
                if len(self._known) >= MAX_KNOWN:
                    self._known.clear()
                self._known[name, token] = known
            if known is _UNSURE:
                return None
            passed |= known
        return passed

    def _judge(self, name: bytes, token: bytes) -> frozenset[Atom]:
        """The atoms of ``name`` whose test passes the value ``token`` (``_UNSURE``: not sure)."""
        tests = self._tests.get(name.decode())
        if tests is None:
            return _UNSURE
        try:
            value = orjson.loads(token)
        except orjson.JSONDecodeError:
            return _UNSURE
        return frozenset(atom for atom, test in tests if _passes(test, value))


def _passes(test: ValueTest, value: Any) -> bool:
    """Whether a test accepts the value as the flattening may keep it (as written, or as text), as the
    matchers apply it (``matchers._field_test``)."""
    as_written = text(value)
    for candidate in (value,) if as_written is value else (value, as_written):
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
