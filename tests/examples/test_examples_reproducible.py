"""examples/ is exactly what scripts/make_examples.py writes (synthetic, deterministic evidence)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "make_examples.py"
EXAMPLES = ROOT / "examples"


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_examples", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("make_examples", module)
    spec.loader.exec_module(module)
    return module


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("examples")
    _load_script().generate(out)
    return _tree(out)


def test_committed_examples_match_the_generator(regenerated: dict[str, bytes]) -> None:
    if not EXAMPLES.is_dir():
        pytest.skip("examples/ is not present in this checkout")
    committed = _tree(EXAMPLES)
    assert sorted(committed) == sorted(regenerated), "file lists differ: run python scripts/make_examples.py"
    changed = [name for name in sorted(committed) if committed[name] != regenerated[name]]
    assert not changed, f"{len(changed)} files differ from the generator, e.g. {changed[:3]}"


def test_generation_is_deterministic(regenerated: dict[str, bytes], tmp_path: Path) -> None:
    _load_script().generate(tmp_path)
    again = _tree(tmp_path)
    assert again == regenerated


def test_examples_stay_small_and_hold_the_key_artifacts(regenerated: dict[str, bytes]) -> None:
    assert sum(len(data) for data in regenerated.values()) < 4_500_000
    host = "exchange-2019-compromised/"
    assert regenerated[host + "C/Windows/Temp/lsass.dmp"].startswith(b"MDMP")
    assert b"lsass.exe" in regenerated[host + "C/Windows/Temp/lsass.dmp"]
    assert regenerated[host + "C/ProgramData/VSPerfMon/pl.7z"].startswith(bytes.fromhex("377ABCAF271C"))
    assert regenerated["exchange-2016-proxyshell/C/inetpub/wwwroot/aspnet_client/shell.aspx"].startswith(b"!BDN")
    assert not any(name.startswith("exchange-2019-clean/C/ProgramData/") for name in regenerated)
