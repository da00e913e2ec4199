"""The ``exhunt:`` block of a Sigma rule (see docs/content-format.md), validated and compiled.

Outcome blocks are Sigma detection sections compiled with the same compiler and field mapping as the
rule itself; captures copy a field (optionally the first group of a regex) into the finding.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sigma.exceptions import SigmaError
from sigma.rule import SigmaDetections

from exhunt.detectors.sigma.compile import CompileContext, lower_detections
from exhunt.detectors.sigma.compiled import Capture, Extension
from exhunt.detectors.sigma.matchers import Program
from exhunt.model.finding import Confidence, Outcome, Severity

__all__ = ["Capture", "Extension", "ExtensionError", "parse_extension"]

STEPS = frozenset({"initial-access", "vdir-tamper", "webshell-write", "webshell-use", "exec",
                   "credential-access", "collection", "staging", "persistence", "exfiltration",
                   "discovery", "lateral-movement", "defense-evasion", "recon"})
OUTCOMES = frozenset({"attempted", "succeeded", "suspicious", "informational", "confirmed"})


class ExtensionError(ValueError):
    """The ``exhunt:`` block is malformed."""


def _outcome(text: Any, where: str) -> Outcome:
    if str(text) not in OUTCOMES:
        raise ExtensionError(f"{where}: unknown outcome {text!r} (one of {', '.join(sorted(OUTCOMES))})")
    return Outcome(str(text))


def _detection(block: Any, ctx: CompileContext, where: str) -> Program:
    if not isinstance(block, Mapping) or "condition" not in block:
        raise ExtensionError(f"{where}: an outcome needs detection items and a condition")
    try:
        return lower_detections(SigmaDetections.from_dict(dict(block)), ctx)
    except SigmaError as exc:
        raise ExtensionError(f"{where}: {exc}") from exc


def _capture(name: str, spec: Any, ctx: CompileContext) -> Capture:
    if isinstance(spec, str):
        return Capture(name, ctx.names(spec))
    if isinstance(spec, Mapping) and isinstance(spec.get("field"), str):
        regex = None
        if spec.get("regex") is not None:
            try:
                regex = re.compile(str(spec["regex"]))
            except re.error as exc:
                raise ExtensionError(f"capture {name}: bad regex: {exc}") from exc
        return Capture(name, ctx.names(spec["field"]), regex)
    raise ExtensionError(f"capture {name}: expected a field name or {{field, regex}}")


def parse_extension(raw: Any, ctx: CompileContext) -> Extension:
    if raw is None:
        return Extension()
    if not isinstance(raw, Mapping):
        raise ExtensionError("exhunt: must be a mapping")
    known = {"rule_id", "family", "step", "outcome", "severity", "confidence", "capture", "samples"}
    unknown = sorted(set(map(str, raw)) - known)
    if unknown:
        raise ExtensionError(f"exhunt: unknown keys {', '.join(unknown)}")
    step = str(raw.get("step") or "")
    if step and step not in STEPS:
        raise ExtensionError(f"exhunt.step: unknown step {step!r}")
    outcomes: list[tuple[Outcome, Program]] = []
    default: Outcome | None = None
    for key, block in (raw.get("outcome") or {}).items():
        if key == "default":
            default = _outcome(block, "exhunt.outcome.default")
        else:
            outcomes.append((_outcome(key, "exhunt.outcome"), _detection(block, ctx, f"exhunt.outcome.{key}")))
    severity: dict[Outcome, Severity] = {}
    for key, level in (raw.get("severity") or {}).items():
        try:
            severity[_outcome(key, "exhunt.severity")] = Severity.parse(str(level))
        except KeyError as exc:
            raise ExtensionError(f"exhunt.severity.{key}: unknown level {level!r}") from exc
    confidence = None
    if raw.get("confidence") is not None:
        try:
            confidence = Confidence(str(raw["confidence"]))
        except ValueError as exc:
            raise ExtensionError(f"exhunt.confidence: {exc}") from exc
    captures = tuple(_capture(str(k), v, ctx) for k, v in sorted((raw.get("capture") or {}).items()))
    samples_raw = raw.get("samples") or {}
    samples = {k: tuple(dict(s) for s in samples_raw.get(k) or []) for k in ("positive", "negative")}
    rule_id = raw.get("rule_id")
    extension = Extension(str(rule_id) if rule_id else None, str(raw.get("family") or ""), step,
                          tuple(outcomes), default, severity, confidence, captures, samples)
    _ = extension.outcomes  # built here, at compile time, as a loaded rule's matcher is: errors show now
    return extension
