"""Compiled YARA rules kept between runs: the second compile of the same files comes from the content cache
(with the same errors and unsupported rules), and any change to a rule file compiles afresh."""

from __future__ import annotations

from pathlib import Path

import pytest

from exhunt.content.bundle import RULES_DIR
from exhunt.detectors.yara import family
from exhunt.detectors.yara.compiler import RuleFile, compile_files, shipped_files
from exhunt.model.coverage import InputWarning

GOOD = 'rule demo_good { strings: $a = "evil-marker" condition: $a }\n'
BROKEN = "rule demo_broken { condition: \n"
UNKNOWN = 'import "nosuchmodule"\nrule demo_unknown { condition: nosuchmodule.x == 1 }\n'


def _files(tmp_path: Path) -> list[RuleFile]:
    for name, text in (("good.yar", GOOD), ("broken.yar", BROKEN), ("unknown.yar", UNKNOWN)):
        (tmp_path / name).write_text(text)
    return [*shipped_files(RULES_DIR), *(RuleFile(tmp_path / n, str(tmp_path / n), False)
                                        for n in ("good.yar", "broken.yar", "unknown.yar"))]


def _compile(files: list[RuleFile], cache: Path) -> tuple[object, list[InputWarning], list[InputWarning]]:
    errors: list[InputWarning] = []
    unsupported: list[InputWarning] = []
    return family.compile_cached(files, errors, unsupported, str(cache)), errors, unsupported


def test_second_compile_comes_from_the_cache_with_the_same_problems(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    files = _files(tmp_path)
    fresh_errors: list[InputWarning] = []
    fresh_unsupported: list[InputWarning] = []
    fresh = compile_files(files, fresh_errors, fresh_unsupported)
    first = _compile(files, tmp_path / "cache")
    assert first == (fresh, fresh_errors, fresh_unsupported)
    assert fresh_errors and fresh is not None  # the broken file is reported, the rest compiled

    def no_compiling(*_args: object) -> None:
        raise AssertionError("compiled again instead of loading from the cache")

    monkeypatch.setattr(family, "compile_files", no_compiling)
    assert _compile(files, tmp_path / "cache") == first
    (tmp_path / "good.yar").write_text(GOOD.replace("evil-marker", "other-marker"))
    with pytest.raises(AssertionError, match="compiled again"):
        _compile(files, tmp_path / "cache")


def test_no_cache_dir_always_compiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = _files(tmp_path)
    calls: list[int] = []
    real = family.compile_files

    def counting(*args: object) -> object:
        calls.append(1)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(family, "compile_files", counting)
    _compile_none = [family.compile_cached(files, [], [], None) for _ in range(2)]
    assert len(calls) == 2 and _compile_none[0] == _compile_none[1]
