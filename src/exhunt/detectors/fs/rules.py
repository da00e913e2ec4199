"""The file-system selection rules (``rules/fs/*.yaml``): which deleted or timestomped files make findings.

The format is documented at the top of ``rules/fs/gone.yaml`` and in ``docs/content-format.md``. Errors are
collected with the file and the line of the rule; a broken rule never stops the others from loading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exhunt.detectors.files.globs import GlobError, compile_globs
from exhunt.detectors.files.rules import (
    LINE,
    RuleError,
    _str_list,
    add_rules,
    load_rule_files,
    rule_document,
    rule_lists,
)
from exhunt.model.coverage import InputWarning
from exhunt.model.finding import Confidence, Severity


@dataclass(frozen=True, slots=True)
class FsRule:
    rule_id: str
    what: str
    title: str
    description: str
    family: str
    step: str
    severity: Severity  # the file alone
    confirmed: Severity  # tied to a request for it in the IIS log
    confidence: Confidence
    cves: tuple[str, ...] = ()
    attack: tuple[str, ...] = ()
    paths: re.Pattern[str] | None = None
    names: re.Pattern[str] | None = None
    extensions: frozenset[str] = frozenset()
    exclude: re.Pattern[str] | None = None
    timestomp: bool = False
    written_by: tuple[str, ...] = ()  # names of rules/files `written_paths` sources: only files they name
    requested_under: tuple[str, ...] = ()  # IIS cs-uri-stem prefixes serving these files (lowercase)
    request_methods: tuple[str, ...] = ()  # only requests with these methods are kept (none: any)
    bulk: int = 0
    positive: tuple[tuple[str, bool, bool], ...] = ()  # (path, deleted, written by a logged exploit)
    negative: tuple[tuple[str, bool, bool], ...] = ()
    origin: str = ""
    name_literals: tuple[str, ...] = ()  # for rules without extensions: the longest plain part of each name

    def name_matches(self, name: str) -> bool:
        """Whether a file name alone can be selected (before its folder is known)."""
        lowered = name.lower()
        if self.extensions and not lowered.endswith(tuple(self.extensions)):
            return False
        return self.names is None or self.names.match(lowered) is not None

    def matches(self, path: str) -> bool:
        """``path``: the host path (``C/inetpub/...``)."""
        name = path.rsplit("/", 1)[-1]
        if not self.name_matches(name):
            return False
        if self.paths is not None and self.paths.match(path) is None:
            return False
        return self.exclude is None or self.exclude.match(path) is None

    def folder_may_match(self, folder: str) -> bool:
        """Whether some file directly in ``folder`` could be selected by the folder globs."""
        return self.paths is None or self.paths.match(folder + "/x") is not None


def name_literals(rules: list[FsRule]) -> set[str] | None:
    """Lowercase literals one of which every selectable file name holds (its extension, or the longest
    plain part of a name glob); None when some rule may select any name."""
    out: set[str] = set()
    for rule in rules:
        if rule.extensions:
            out.update(rule.extensions)
        elif rule.names is not None and all(rule.name_literals):
            out.update(rule.name_literals)
        else:
            return None
    return out


@dataclass(frozen=True, slots=True)
class StompRule:
    """How a timestomped file is reported (``timestomp:`` at the top of a rule file)."""

    rule_id: str = "EXH-FS-TIMESTOMP"
    title: str = "File times set back (timestomping)"
    severity: Severity = Severity.HIGH
    attack: tuple[str, ...] = ("T1070.006",)


@dataclass
class FsRuleSet:
    rules: list[FsRule] = field(default_factory=list)
    stomp: StompRule = field(default_factory=StompRule)


def _longest_plain(glob: str) -> str:
    parts = [p for p in re.split(r"[*?{}\[\],$]", glob.lower()) if p]
    return max(parts, key=len) if parts else ""


def _samples(raw: Any, line: int | None) -> tuple[tuple[str, bool, bool], ...]:
    out: list[tuple[str, bool, bool]] = []
    for sample in raw or []:
        if not isinstance(sample, dict) or not isinstance(sample.get("path"), str):
            raise RuleError("samples: each sample needs a 'path'", line)
        out.append((sample["path"], bool(sample.get("deleted", True)), bool(sample.get("written", False))))
    return tuple(out)


def _rule(raw: Any, lists: dict[str, list[str]], origin: str) -> FsRule:
    if not isinstance(raw, dict):
        raise RuleError("a rule must be a mapping", None)
    line = raw.get(LINE)
    for key in ("id", "what", "title", "step"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise RuleError(f"rule needs a text '{key}'", line)
    try:
        levels = raw.get("severity", "medium")
        if isinstance(levels, dict):
            severity = Severity.parse(str(levels.get("suspicious", "medium")))
            confirmed = Severity.parse(str(levels.get("confirmed", levels.get("suspicious", "medium"))))
        else:
            severity = confirmed = Severity.parse(str(levels))
        confidence = Confidence(str(raw.get("confidence", "medium")))
        paths = _str_list(raw.get("paths"), "paths", line)
        names = _str_list(raw.get("names"), "names", line)
        exclude = raw.get("exclude") or {}
        excluded = _str_list(exclude.get("paths") if isinstance(exclude, dict) else None, "exclude.paths", line)
        extensions = frozenset(e.lower() if e.startswith(".") else "." + e.lower()
                               for e in _str_list(raw.get("extensions"), "extensions", line))
        samples = raw.get("samples") or {}
        return FsRule(
            rule_id=raw["id"], what=raw["what"], title=raw["title"], description=str(raw.get("description", "")),
            family=str(raw.get("family", "")), step=raw["step"], severity=severity, confirmed=confirmed,
            confidence=confidence,
            cves=tuple(_str_list(raw.get("cves"), "cves", line)), attack=tuple(_str_list(raw.get("attack"),
                                                                                           "attack", line)),
            paths=compile_globs(paths, lists) if paths else None,
            names=compile_globs(names, lists) if names else None, extensions=extensions,
            exclude=compile_globs(excluded, lists) if excluded else None,
            timestomp=bool(raw.get("timestomp", False)),
            written_by=tuple(_str_list(raw.get("written_by"), "written_by", line)),
            requested_under=tuple(p.lower() for p in _str_list(raw.get("requested_under"), "requested_under",
                                                               line)),
            request_methods=tuple(m.upper() for m in _str_list(raw.get("request_methods"), "request_methods",
                                                               line)),
            bulk=int(raw.get("bulk", 0) or 0),
            positive=_samples(samples.get("positive"), line), negative=_samples(samples.get("negative"), line),
            origin=origin, name_literals=tuple(_longest_plain(n) for n in names))
    except (KeyError, ValueError, GlobError) as exc:
        if isinstance(exc, RuleError):
            raise
        raise RuleError(str(exc), line) from exc


def load_text(text: str, origin: str, into: FsRuleSet, errors: list[InputWarning]) -> None:
    def error(message: str, line: int | None) -> None:
        errors.append(InputWarning(path=origin, message=message, code="content", line=line))

    doc = rule_document(text, error)
    if doc is None:
        return
    lists = rule_lists(doc, error)
    stomp = doc.get("timestomp")
    if isinstance(stomp, dict):
        try:
            into.stomp = StompRule(str(stomp["id"]), str(stomp["title"]),
                                   Severity.parse(str(stomp.get("severity", "high"))),
                                   tuple(_str_list(stomp.get("attack"), "timestomp.attack", stomp.get(LINE))))
        except (KeyError, ValueError) as exc:
            error(f"timestomp: {exc}", stomp.get(LINE))
    add_rules(into.rules, doc.get("rules") or [], lambda raw: _rule(raw, lists, origin), error)


def load_paths(paths: list[Path], base: Path | None, errors: list[InputWarning]) -> FsRuleSet:
    return load_rule_files(paths, base, errors, FsRuleSet(), load_text)
