"""Run a file rule against its own samples, each alone on an in-memory host (used by the content tests,
and usable by a future ``exhunt rules test`` command)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import BinaryIO

from exhunt.detectors.base import HostContext
from exhunt.detectors.files.detector import FileDetector
from exhunt.detectors.files.rules import FileRule, FileRuleSet, Sample
from exhunt.model.coverage import HostCoverage
from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.model.finding import Finding
from exhunt.sources.base import FileEntry, HostTree


class MemoryTree(HostTree):
    """A host made of in-memory files: {relative path: content}."""

    def __init__(self, files: dict[str, bytes], name: str = "sample-host") -> None:
        super().__init__(name, "memory")
        self.files = dict(files)
        self._lower = {p.lower(): p for p in files}

    def walk(self) -> Iterator[FileEntry]:
        for path in sorted(self.files):
            yield FileEntry(path=path, size=len(self.files[path]))

    def open(self, path: str) -> BinaryIO:
        real = self._lower.get(path.lower())
        if real is None:
            raise FileNotFoundError(path)
        return io.BytesIO(self.files[real])


def scan_files(rules: FileRuleSet, files: dict[str, bytes],
               mtimes: dict[str, str] | None = None) -> list[Finding]:
    """Findings of the file detector on a host holding only ``files`` (no logs)."""
    tree = MemoryTree(files)
    ctx = HostContext(host=tree.name, tree=tree, artifacts=[], coverage=HostCoverage())
    detector = FileDetector(rules)
    for entry in tree.walk():
        artifact = Artifact(ArtifactKind.FILE, entry.path, entry.size, (mtimes or {}).get(entry.path))
        ctx.artifacts.append(artifact)
        detector.on_file(artifact, ctx)
    return detector.finish(ctx)


def _fires(rule: FileRule, sample: Sample) -> bool:
    findings = scan_files(FileRuleSet(rules=[rule]), {sample.path: sample.head})
    return any(f.rule_id == rule.rule_id for f in findings)


def sample_failures(rule: FileRule) -> list[str]:
    """What is wrong with ``rule`` against its samples; empty when every positive fires and no negative."""
    problems = [f"{rule.rule_id} ({rule.origin}): positive sample {s.path!r} does not fire"
                for s in rule.positive if not _fires(rule, s)]
    problems += [f"{rule.rule_id} ({rule.origin}): negative sample {s.path!r} fires"
                 for s in rule.negative if _fires(rule, s)]
    return problems
