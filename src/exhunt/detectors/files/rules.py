"""File rules: the YAML model and its loader. Errors carry the rule file and line; one bad rule never
stops the others from loading.

A rule file holds up to four top-level keys:

``lists``
    named lists of names (stock Exchange pages...), used in globs as ``${name}``.
``magic``
    named signatures ``{offset, hex, extensions}``: bytes expected at an offset of the file's head.
``written_paths``
    log lines that tell where a file was written (``{name, kind, field, literal, regex}``); a file whose
    path equals a written path is confirmed by it.
``rules``
    the file rules (see ``FileRule``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import yaml

from exhunt.content.yamlio import SafeLoader
from exhunt.detectors.files.globs import GlobError, compile_globs
from exhunt.model.coverage import InputWarning
from exhunt.model.evidence import ArtifactKind
from exhunt.model.finding import Confidence, Outcome, Severity

LINE = "__line__"
STEPS = frozenset({"initial-access", "vdir-tamper", "webshell-write", "webshell-use", "exec",
                   "credential-access", "collection", "staging", "persistence", "exfiltration"})
MAGIC_MODES = frozenset({"require", "describe"})
_RULE_KEYS = frozenset({"id", "title", "description", "family", "step", "severity", "confidence", "cves",
                        "attack", "paths", "names", "extensions", "exclude", "magic", "confirm",
                        "samples", "references", LINE})


@dataclass(frozen=True, slots=True)
class Signature:
    name: str
    offset: int
    magic: bytes
    extensions: frozenset[str]  # extensions this content normally carries ('.zip')

    def matches(self, head: bytes) -> bool:
        return head[self.offset:self.offset + len(self.magic)] == self.magic


@dataclass(frozen=True, slots=True)
class WrittenPathSource:
    """Log lines naming a file the attacker caused to be written."""

    name: str
    kind: ArtifactKind
    field: str
    literal: str  # case-insensitive literal every such line holds (prefilter)
    regex: re.Pattern[str]  # first group: the written path


@dataclass(frozen=True, slots=True)
class Sample:
    path: str
    head: bytes


@dataclass(frozen=True, slots=True)
class FileRule:
    rule_id: str
    title: str
    description: str
    family: str
    step: str
    severity: Mapping[Outcome, Severity]  # for SUSPICIOUS and CONFIRMED
    confidence: Confidence
    cves: tuple[str, ...]
    attack: tuple[str, ...]
    paths: re.Pattern[str] | None  # None: anywhere
    names: re.Pattern[str] | None  # basename globs; None: any name
    extensions: frozenset[str]  # empty: any extension
    exclude_paths: re.Pattern[str] | None
    exclude_extensions: frozenset[str]
    magic_mode: str | None  # require: the head must match a signature; describe: report what it is
    signatures: tuple[Signature, ...]
    requested_under: tuple[str, ...]  # lowercased URL prefixes (IIS cs-uri-stem) serving these files
    written_by: tuple[str, ...]  # names of WrittenPathSource that confirm a file
    origin: str  # 'file:line' of the rule
    positive: tuple[Sample, ...] = ()
    negative: tuple[Sample, ...] = ()

    def head_size(self) -> int:
        return max((s.offset + len(s.magic) for s in self.signatures), default=0)


@dataclass
class FileRuleSet:
    rules: list[FileRule] = field(default_factory=list)
    written_paths: list[WrittenPathSource] = field(default_factory=list)


class RuleError(ValueError):
    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


class _LineLoader(SafeLoader):  # type: ignore[valid-type,misc]  # libyaml's loader when present
    """Safe YAML loader that records the line of every mapping under ``__line__``."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping: dict[str, Any] = loader.construct_mapping(node, deep=True)
    mapping[LINE] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _str_list(value: Any, what: str, line: int | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise RuleError(f"{what}: expected a string or a list of strings", line)


def _extensions(value: Any, what: str, line: int | None) -> frozenset[str]:
    exts = _str_list(value, what, line)
    return frozenset(e.lower() if e.startswith(".") else "." + e.lower() for e in exts)


def _head(sample: Any, line: int | None) -> Sample:
    if not isinstance(sample, dict) or not isinstance(sample.get("path"), str):
        raise RuleError("sample: expected {path: ..., head_hex or head_text: ...}", line)
    if "head_hex" in sample:
        try:
            head = bytes.fromhex(str(sample["head_hex"]))
        except ValueError as exc:
            raise RuleError(f"sample head_hex: {exc}", sample.get(LINE, line)) from exc
    else:
        head = str(sample.get("head_text", "")).encode("utf-8")
    return Sample(path=sample["path"], head=head)


def _signature(name: str, spec: Any, line: int | None) -> Signature:
    if not isinstance(spec, dict) or "hex" not in spec:
        raise RuleError(f"magic {name!r}: expected {{offset, hex, extensions}}", line)
    line = spec.get(LINE, line)
    try:
        magic = bytes.fromhex(str(spec["hex"]))
    except ValueError as exc:
        raise RuleError(f"magic {name!r}: {exc}", line) from exc
    offset = spec.get("offset", 0)
    if not isinstance(offset, int) or offset < 0 or offset > 4096 or not magic:
        raise RuleError(f"magic {name!r}: offset must be 0..4096 and hex non-empty", line)
    return Signature(name, offset, magic, _extensions(spec.get("extensions"), f"magic {name}", line))


def _severity(value: Any, line: int | None) -> dict[Outcome, Severity]:
    try:
        if isinstance(value, str):
            return {Outcome.SUSPICIOUS: Severity.parse(value), Outcome.CONFIRMED: Severity.parse(value)}
        if isinstance(value, dict):
            return {Outcome(k): Severity.parse(str(v)) for k, v in value.items() if k != LINE}
    except (KeyError, ValueError) as exc:
        raise RuleError(f"severity: {exc}", line) from exc
    raise RuleError("severity: expected a level or {suspicious: level, confirmed: level}", line)


def _rule(raw: Any, lists: Mapping[str, list[str]], magic: Mapping[str, Signature],
          written: Mapping[str, WrittenPathSource], origin: str) -> FileRule:
    if not isinstance(raw, dict):
        raise RuleError("rule: expected a mapping", None)
    line: int | None = raw.get(LINE)
    unknown = sorted(set(raw) - _RULE_KEYS)
    if unknown:
        raise RuleError(f"rule {raw.get('id', '?')}: unknown keys {unknown}", line)
    for key in ("id", "title", "family", "step", "severity"):
        if key not in raw:
            raise RuleError(f"rule {raw.get('id', '?')}: missing {key!r}", line)
    if raw["step"] not in STEPS:
        raise RuleError(f"rule {raw['id']}: unknown step {raw['step']!r}", line)
    severity = _severity(raw["severity"], line)
    for outcome in (Outcome.SUSPICIOUS, Outcome.CONFIRMED):
        if outcome not in severity:
            raise RuleError(f"rule {raw['id']}: severity for {outcome.value!r} missing", line)
    try:
        paths = _str_list(raw.get("paths"), "paths", line)
        names = _str_list(raw.get("names"), "names", line)
        exclude = raw.get("exclude") or {}
        if not isinstance(exclude, dict):
            raise RuleError("exclude: expected {paths, extensions}", line)
        ex_paths = _str_list(exclude.get("paths"), "exclude.paths", line)
        path_re = compile_globs(paths, lists) if paths else None
        name_re = compile_globs(names, lists) if names else None
        ex_re = compile_globs(ex_paths, lists) if ex_paths else None
    except GlobError as exc:
        raise RuleError(str(exc), line) from exc
    mode: str | None = None
    sigs: list[Signature] = []
    if raw.get("magic") is not None:
        spec = raw["magic"]
        if not isinstance(spec, dict) or spec.get("mode") not in MAGIC_MODES:
            raise RuleError("magic: expected {mode: require|describe, any: [names]}", line)
        mode = spec["mode"]
        for name in _str_list(spec.get("any"), "magic.any", line):
            if name not in magic:
                raise RuleError(f"magic: unknown signature {name!r}", line)
            sigs.append(magic[name])
        if not sigs:
            raise RuleError("magic: no signature listed", line)
    confirm = raw.get("confirm") or {}
    if not isinstance(confirm, dict):
        raise RuleError("confirm: expected {requested_under, written_by}", line)
    written_by = _str_list(confirm.get("written_by"), "confirm.written_by", line)
    for name in written_by:
        if name not in written:
            raise RuleError(f"confirm.written_by: unknown written_paths entry {name!r}", line)
    samples = raw.get("samples") or {}
    if not isinstance(samples, dict):
        raise RuleError("samples: expected {positive: [...], negative: [...]}", line)
    positive = tuple(_head(s, line) for s in samples.get("positive") or [])
    negative = tuple(_head(s, line) for s in samples.get("negative") or [])
    if not positive or not negative:
        raise RuleError(f"rule {raw['id']}: needs at least one positive and one negative sample", line)
    return FileRule(
        rule_id=str(raw["id"]), title=str(raw["title"]), description=str(raw.get("description", "")).strip(),
        family=str(raw["family"]), step=str(raw["step"]), severity=severity,
        confidence=Confidence(str(raw.get("confidence", "medium"))),
        cves=tuple(_str_list(raw.get("cves"), "cves", line)),
        attack=tuple(_str_list(raw.get("attack"), "attack", line)),
        paths=path_re, names=name_re, extensions=_extensions(raw.get("extensions"), "extensions", line),
        exclude_paths=ex_re,
        exclude_extensions=_extensions(exclude.get("extensions"), "exclude.extensions", line),
        magic_mode=mode, signatures=tuple(sigs),
        requested_under=tuple(p.lower() for p in _str_list(confirm.get("requested_under"), "requested_under",
                                                           line)),
        written_by=tuple(written_by), origin=f"{origin}:{line}", positive=positive, negative=negative,
    )


def _written_source(raw: Any, line: int | None) -> WrittenPathSource:
    if not isinstance(raw, dict) or not all(isinstance(raw.get(k), str) for k in
                                            ("name", "kind", "field", "literal", "regex")):
        raise RuleError("written_paths: expected {name, kind, field, literal, regex}", line)
    line = raw.get(LINE, line)
    try:
        regex = re.compile(raw["regex"], re.IGNORECASE)
        kind = ArtifactKind(raw["kind"])
    except (re.error, ValueError) as exc:
        raise RuleError(f"written_paths {raw['name']!r}: {exc}", line) from exc
    if regex.groups < 1:
        raise RuleError(f"written_paths {raw['name']!r}: the regex needs a group (the path)", line)
    return WrittenPathSource(raw["name"], kind, raw["field"], raw["literal"], regex)


def rule_document(text: str, error: Callable[[str, int | None], None]) -> dict[str, Any] | None:
    """A rule file's YAML mapping (lines noted), or None with the problem given to ``error``."""
    try:
        doc = yaml.load(text, Loader=_LineLoader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        error(f"YAML: {exc}", mark.line + 1 if mark is not None else None)
        return None
    if not isinstance(doc, dict):
        error("expected a mapping with 'rules'", None)
        return None
    return doc


def rule_lists(doc: dict[str, Any], error: Callable[[str, int | None], None]) -> dict[str, list[str]]:
    """The named string lists of a rule file (``lists:``); a bad one is an error at its line."""
    lists: dict[str, list[str]] = {}
    for name, items in (doc.get("lists") or {}).items():
        if name == LINE:
            continue
        try:
            lists[str(name)] = _str_list(items, f"lists.{name}", doc.get(LINE))
        except RuleError as exc:
            error(str(exc), exc.line)
    return lists


def load_text(text: str, origin: str, into: FileRuleSet, errors: list[InputWarning]) -> None:
    """Load one rule file's text into ``into``; problems go to ``errors`` with ``origin`` and line."""

    def error(message: str, line: int | None) -> None:
        errors.append(InputWarning(path=origin, message=message, code="content", line=line))

    doc = rule_document(text, error)
    if doc is None:
        return
    lists = rule_lists(doc, error)
    magic: dict[str, Signature] = {}
    for name, spec in (doc.get("magic") or {}).items():
        if name == LINE:
            continue
        try:
            magic[str(name)] = _signature(str(name), spec, doc.get(LINE))
        except RuleError as exc:
            error(str(exc), exc.line)
    written: dict[str, WrittenPathSource] = {}
    for raw in doc.get("written_paths") or []:
        try:
            source = _written_source(raw, doc.get(LINE))
            written[source.name] = source
            into.written_paths.append(source)
        except RuleError as exc:
            error(str(exc), exc.line)
    add_rules(into.rules, doc.get("rules") or [], lambda raw: _rule(raw, lists, magic, written, origin), error)


class _HasRuleId(Protocol):
    @property
    def rule_id(self) -> str: ...


R = TypeVar("R", bound=_HasRuleId)
S = TypeVar("S")


def add_rules(rules: list[R], raws: list[Any], make: Callable[[Any], R],
              error: Callable[[str, int | None], None]) -> None:
    """Rules made from a file's raw mappings, appended to ``rules``; a bad or duplicate one is an error at its
    line, and the others load (shared by the file-rule families)."""
    known = {r.rule_id for r in rules}
    for raw in raws:
        try:
            rule = make(raw)
        except RuleError as exc:
            error(str(exc), exc.line if exc.line is not None else (raw.get(LINE) if isinstance(raw, dict)
                                                                    else None))
            continue
        if rule.rule_id in known:
            error(f"duplicate rule id {rule.rule_id}", raw.get(LINE))
            continue
        known.add(rule.rule_id)
        rules.append(rule)


def load_rule_files(paths: list[Path], base: Path | None, errors: list[InputWarning], into: S,
                    load: Callable[[str, str, S, list[InputWarning]], None]) -> S:
    """Load rule files in name order into ``into`` with ``load(text, origin, into, errors)``; ``base`` makes
    the origins in errors relative; a file that cannot be read is an error, the others load."""
    for path in sorted(paths):
        origin = path.relative_to(base).as_posix() if base and path.is_relative_to(base) else path.as_posix()
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(InputWarning(path=origin, message=f"cannot read: {exc}", code="content"))
            continue
        load(text, origin, into, errors)
    return into


def load_paths(paths: list[Path], base: Path | None, errors: list[InputWarning]) -> FileRuleSet:
    """Load rule files in name order; ``base`` makes the origins in errors relative."""
    return load_rule_files(paths, base, errors, FileRuleSet(), load_text)
