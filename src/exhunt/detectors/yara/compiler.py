"""Compile YARA rule files once, collecting every error with its file and line.

Each rule file gets its own namespace, so two files may name rules alike. The compiler skips invalid
rules instead of failing the whole set: syntax errors land in ``ContentBundle.errors`` (file:line) and
rules that cannot be evaluated (unknown module, unknown identifier) in ``ContentBundle.unsupported``
with the compiler's reason. The result is serialized bytes, so every worker process can rebuild its
own scanner (yara-x scanners cannot cross process boundaries).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yara_x

from exhunt.model.coverage import InputWarning

# Global variables set for each scanned file. The names are those signature-base / LOKI / THOR rules
# use: file name, folder path (Windows style, no file name), extension (lowercase, with the dot), a
# coarse type from the magic bytes, and the owner (unknown offline: always empty).
EXTERNALS: tuple[str, ...] = ("filename", "filepath", "extension", "filetype", "owner")

RULE_SUFFIXES = (".yar", ".yara")
# errors that make yara-x skip one rule (listed as unsupported) rather than break the file
RULE_LEVEL_ERRORS = frozenset({"UnknownModule", "UnknownIdentifier", "UnknownField", "WrongType",
                               "MismatchingTypes", "WrongArguments"})
_NAMESPACE_BAD = re.compile(r"[^A-Za-z0-9_]")


@dataclass(frozen=True, slots=True)
class RuleFile:
    path: Path
    origin: str  # shown in errors: shipped files as rules/yara/<name>, user files as given
    shipped: bool


@dataclass(frozen=True, slots=True)
class CompiledRules:
    """Serialized rules plus what went into them. Plain data: safe to pickle to workers."""

    data: bytes
    files: tuple[str, ...]  # origins of the files that contributed rules
    shipped_namespaces: frozenset[str]  # namespaces holding exhunt's own rules

    def load(self) -> Any:
        return yara_x.Rules.deserialize_from(io.BytesIO(self.data))


def shipped_files(rules_dir: Path) -> list[RuleFile]:
    folder = rules_dir / "yara"
    if not folder.is_dir():
        return []
    return [RuleFile(p, f"rules/yara/{p.name}", True) for p in sorted(folder.iterdir())
            if p.is_file() and p.suffix.lower() in RULE_SUFFIXES]


def user_files(paths: Iterable[str], errors: list[InputWarning]) -> list[RuleFile]:
    """Rule files named by the user: files, or folders searched recursively for .yar/.yara files."""
    found: list[RuleFile] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found.extend(RuleFile(p, str(p), False) for p in sorted(path.rglob("*"))
                         if p.is_file() and p.suffix.lower() in RULE_SUFFIXES)
        elif path.is_file():
            found.append(RuleFile(path, str(path), False))
        else:
            errors.append(InputWarning(path=given, message="YARA rule path not found", code="content-missing"))
    return found


def namespace_for(index: int, rule_file: RuleFile) -> str:
    stem = _NAMESPACE_BAD.sub("_", rule_file.path.stem)
    return f"exhunt_{stem}" if rule_file.shipped else f"user{index}_{stem}"


def _error_line(entry: dict[str, Any]) -> int | None:
    for label in entry.get("labels") or ():
        line = label.get("line")
        if isinstance(line, int):
            return line
    line = entry.get("line")
    return line if isinstance(line, int) else None


def compile_files(files: Sequence[RuleFile], errors: list[InputWarning],
                  unsupported: list[InputWarning]) -> CompiledRules | None:
    """Compile ``files``; None when no rule at all could be compiled."""
    compiler: Any = yara_x.Compiler()
    compiler.ignore_invalid_rules(True)
    for name in EXTERNALS:
        compiler.define_global(name, "")
    loaded: list[str] = []
    shipped_ns: set[str] = set()
    seen_errors = 0
    seen_ignored = 0
    for index, rule_file in enumerate(files):
        try:
            source = rule_file.path.read_bytes().decode("utf-8", errors="replace")
        except OSError as exc:
            errors.append(InputWarning(path=rule_file.origin, message=f"cannot read rule file: {exc}",
                                       code="content-unreadable"))
            continue
        namespace = namespace_for(index, rule_file)
        compiler.new_namespace(namespace)
        failed = False
        try:
            compiler.add_source(source, origin=rule_file.origin)
        except yara_x.CompileError as exc:  # only raised when invalid rules are not skipped; kept for safety
            errors.append(InputWarning(path=rule_file.origin, message=str(exc).splitlines()[0],
                                       code="content-error"))
            failed = True
        ignored = compiler.ignored_rules()
        for rule in ignored[seen_ignored:]:
            unsupported.append(InputWarning(path=rule_file.origin, code="yara-rule-ignored",
                                            message=f"rule {rule.name}: {rule.message}"))
        any_ignored = len(ignored) > seen_ignored
        seen_ignored = len(ignored)
        all_errors = compiler.errors()
        for entry in all_errors[seen_errors:]:
            if any_ignored and entry.get("type") in RULE_LEVEL_ERRORS:
                continue  # the rule it belongs to is listed as unsupported, with this reason
            errors.append(InputWarning(path=rule_file.origin, message=str(entry.get("title", "error")),
                                       code="content-error", line=_error_line(entry)))
            failed = True
        seen_errors = len(all_errors)
        if failed:
            continue
        loaded.append(rule_file.origin)
        if rule_file.shipped:
            shipped_ns.add(namespace)
    rules = compiler.build()
    buffer = io.BytesIO()
    rules.serialize_into(buffer)
    if not loaded:
        return None
    return CompiledRules(buffer.getvalue(), tuple(loaded), frozenset(shipped_ns))
