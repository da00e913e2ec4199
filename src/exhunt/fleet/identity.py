"""Who a host is, whatever spelling of its evidence path was typed."""

from __future__ import annotations

from pathlib import Path

from exhunt.sources.base import shown_name


def evidence_identity(origin: str) -> str:
    """A normalised identity of the evidence a host came from (its resolved absolute path), so that
    ``./a``, ``a/`` and ``/cases/a`` are the same host in the case store."""
    try:
        return shown_name(str(Path(origin).resolve()))
    except (OSError, RuntimeError, ValueError):
        return origin
