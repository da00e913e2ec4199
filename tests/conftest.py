"""Shared test set-up: the synthetic log-line makers in ``tests/logfixtures.py`` and the compiled shipped
content of ``tests/contentfixtures.py`` are importable from every test folder (``from logfixtures import ...``)."""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = str(Path(__file__).resolve().parent)
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)
