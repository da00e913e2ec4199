"""The Sigma detector family: load (compile every rule once) and create (a fresh detector per host).

``bundle.parts["sigma"]`` holds a ``SigmaContent``. It pickles as its sources only and recompiles on
arrival, so it crosses to worker processes and cluster nodes as plain data (compiled matchers are
closures and Hyperscan databases, which do not travel).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from exhunt.content.bundle import RULES_DIR, ContentBundle
from exhunt.detectors.base import Detector
from exhunt.detectors.sigma.compiled import LoadResult, RuleProblem
from exhunt.detectors.sigma.index import RuleIndex
from exhunt.detectors.sigma.loader import RuleLoader
from exhunt.detectors.sigma.pipeline import PipelineError, Pipelines, load_pipelines
from exhunt.model.coverage import InputWarning

if TYPE_CHECKING:
    from exhunt.detectors.sigma.correlation import Correlator

SHIPPED_DIRS = ("sigma", "exchange")
Source = tuple[str, str | None]  # (path to a folder or file, base for display paths)


def shipped_sources() -> list[Source]:
    return [(str(RULES_DIR / d), str(RULES_DIR)) for d in SHIPPED_DIRS if (RULES_DIR / d).is_dir()]


class SigmaContent:
    def __init__(self, sources: Sequence[Source], placeholders: Mapping[str, Sequence[str]] | None = None,
                 pipelines_dir: str | None = None) -> None:
        self.sources = tuple(sources)
        self.placeholders = {k: tuple(v) for k, v in (placeholders or {}).items()}
        self.pipelines_dir = pipelines_dir
        self._build()

    def _build(self) -> None:
        self.pipeline_error: str | None = None
        try:
            self.pipelines = load_pipelines(Path(self.pipelines_dir)) if self.pipelines_dir else load_pipelines()
        except PipelineError as exc:
            self.pipeline_error = str(exc)
            self.pipelines = Pipelines()
        loader = RuleLoader(self.pipelines, self.placeholders)
        for path, base in self.sources:
            root = Path(path)
            if not root.exists():
                loader.problem(RuleProblem(path, "", "read", "no such file or folder"))
                continue
            loader.load_tree(root, Path(base) if base else None)
        self.result: LoadResult = loader.finish()
        from exhunt.detectors.sigma.correlation import compile_correlations

        self.correlations = compile_correlations(self.result, self.pipelines)
        self.index = RuleIndex(self.result.rules, self.pipelines)

    def new_correlator(self) -> Correlator | None:
        if not self.correlations.rules:
            return None
        return self.correlations.correlator()

    def __getstate__(self) -> dict[str, Any]:
        return {"sources": self.sources, "placeholders": self.placeholders, "pipelines_dir": self.pipelines_dir}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._build()


def _warning(problem: RuleProblem) -> InputWarning:
    rule = f"rule {problem.rule}: " if problem.rule else ""
    return InputWarning(path=problem.file, message=f"{rule}{problem.message}", code=problem.code)


def load(bundle: ContentBundle) -> None:
    sources: list[Source] = shipped_sources() if bundle.spec.shipped else []
    sources.extend((p, None) for p in bundle.spec.sigma_paths)
    content = SigmaContent(sources, dict(bundle.spec.sigma_placeholders))
    if content.pipeline_error:
        bundle.errors.append(InputWarning(path="pipelines", message=content.pipeline_error, code="pipeline"))
    bundle.errors.extend(_warning(p) for p in content.result.errors)
    bundle.unsupported.extend(_warning(p) for p in content.result.unsupported)
    bundle.parts["sigma"] = content


def create(bundle: ContentBundle, options: dict[str, Any]) -> Detector:
    from exhunt.detectors.sigma.detector import SigmaDetector

    content = bundle.parts.get("sigma")
    if not isinstance(content, SigmaContent):
        load(bundle)
        content = bundle.parts["sigma"]
    return SigmaDetector(content, options)
