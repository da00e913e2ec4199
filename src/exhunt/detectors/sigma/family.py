"""The Sigma detector family: load (compile every rule once) and create (a fresh detector per host).

``bundle.parts["sigma"]`` holds a ``SigmaContent``. It pickles as its sources only and compiles again on
arrival, so it crosses to worker processes and cluster nodes as plain data (Hyperscan databases do not
travel). With a cache folder, the compiled rules are kept between runs (``content/cache.py``): a run whose
rule files, options and exhunt are unchanged loads them without importing pySigma or reading a rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from exhunt.content.bundle import RULES_DIR, ContentBundle
from exhunt.content.cache import BlobCache, ContentCache, ContentKey, installed_version
from exhunt.content.yamlio import rule_files
from exhunt.detectors.base import Detector
from exhunt.detectors.sigma.compiled import LoadResult, RuleProblem
from exhunt.detectors.sigma.index import RuleIndex
from exhunt.detectors.sigma.pipeline import PIPELINES_DIR, PipelineError, Pipelines, load_pipelines
from exhunt.model.coverage import InputWarning

if TYPE_CHECKING:
    from exhunt.detectors.sigma.correlation import Correlations, Correlator

SHIPPED_DIRS = ("sigma", "exchange")
Source = tuple[str, str | None]  # (path to a folder or file, base for display paths)


def shipped_sources() -> list[Source]:
    return [(str(RULES_DIR / d), str(RULES_DIR)) for d in SHIPPED_DIRS if (RULES_DIR / d).is_dir()]


class SigmaContent:
    pipelines: Pipelines
    pipeline_error: str | None
    result: LoadResult
    correlations: Correlations | None
    from_cache: bool  # the compiled rules came from the cache

    def __init__(self, sources: Sequence[Source], placeholders: Mapping[str, Sequence[str]] | None = None,
                 pipelines_dir: str | None = None, cache_dir: str | None = None) -> None:
        self.sources = tuple(sources)
        self.placeholders = {k: tuple(v) for k, v in (placeholders or {}).items()}
        self.pipelines_dir = pipelines_dir
        self.cache_dir = cache_dir
        self._build()

    def _build(self) -> None:
        cache = ContentCache(Path(self.cache_dir), "sigma") if self.cache_dir else None
        key = self._key() if cache is not None else ""
        state = cache.load(key) if cache is not None else None
        if isinstance(state, dict) and isinstance(state.get("result"), LoadResult):
            self.pipelines, self.pipeline_error, self.result = state["pipelines"], state["error"], state["result"]
            self.correlations = None
            self.from_cache = True
        else:
            self._compile()
            self.from_cache = False
            if cache is not None and self.correlations is None:  # correlation rules are compiled every run
                cache.store(key, {"pipelines": self.pipelines, "error": self.pipeline_error, "result": self.result})
        self.index = RuleIndex(self.result.rules, self.pipelines,
                               BlobCache(Path(self.cache_dir), "hyperscan") if self.cache_dir else None)

    def _compile(self) -> None:
        from exhunt.detectors.sigma.loader import RuleLoader  # imports pySigma

        self.pipeline_error = None
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
        self.result = loader.finish()
        self.correlations = None
        if self.result.correlations:
            from exhunt.detectors.sigma.correlation import compile_correlations

            self.correlations = compile_correlations(self.result, self.pipelines)

    def _key(self) -> str:
        """Everything the compiled rules depend on (see ``content/cache.py``)."""
        key = ContentKey("sigma")
        key.add("pysigma", installed_version("sigma", "pysigma"))
        pipelines = Path(self.pipelines_dir) if self.pipelines_dir else PIPELINES_DIR
        key.add("pipelines", str(pipelines))
        key.add_files(sorted(pipelines.glob("*.yaml")) if pipelines.is_dir() else [], pipelines)
        for name, values in sorted(self.placeholders.items()):
            key.add("placeholder", name, *values)
        for path, base in self.sources:
            root = Path(path)
            key.add("source", path, base or "", str(root.exists()))
            if root.exists():
                key.add_files(rule_files(root), root)
        return key.digest()

    def new_correlator(self) -> Correlator | None:
        if self.correlations is None or not self.correlations.rules:
            return None
        return self.correlations.correlator()

    def __getstate__(self) -> dict[str, Any]:
        return {"sources": self.sources, "placeholders": self.placeholders, "pipelines_dir": self.pipelines_dir,
                "cache_dir": self.cache_dir}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._build()


def _warning(problem: RuleProblem) -> InputWarning:
    rule = f"rule {problem.rule}: " if problem.rule else ""
    return InputWarning(path=problem.file, message=f"{rule}{problem.message}", code=problem.code)


def load(bundle: ContentBundle) -> None:
    sources: list[Source] = shipped_sources() if bundle.spec.shipped else []
    sources.extend((p, None) for p in bundle.spec.sigma_paths)
    content = SigmaContent(sources, dict(bundle.spec.sigma_placeholders), cache_dir=bundle.spec.cache_dir)
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
