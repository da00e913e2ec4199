"""Shared test set-up: the synthetic log-line makers in ``tests/logfixtures.py`` and the compiled shipped
content of ``tests/contentfixtures.py`` are importable from every test folder (``from logfixtures import ...``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

TESTS = str(Path(__file__).resolve().parent)
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)


@pytest.fixture(autouse=True, scope="session")
def _private_content_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """CLI runs keep compiled content in a cache folder: the tests' own, never the user's home."""
    os.environ["EXHUNT_CACHE_DIR"] = str(tmp_path_factory.mktemp("content-cache"))
