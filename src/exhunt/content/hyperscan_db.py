"""Hyperscan databases compiled once and kept between runs (``BlobCache``, folder ``hyperscan/``).

A database depends only on its expressions, their flags, the mode, the Hyperscan library, exhunt's version
and the machine; the key is a digest of all of them. A process deserialises (well under a millisecond) what
an earlier run compiled (10-400 ms per database). A damaged entry, or one the library refuses, is compiled
again, overwritten and noted (``note_problem``: the Sigma detector reports it in coverage).

The text-log prefilters are built below the layer that knows the content's cache folder, so the engine names
the folder once per host (``use_folder``); the detectors pass their own ``BlobCache``.
"""

from __future__ import annotations

import contextlib
import hashlib
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from exhunt import __version__
from exhunt.content.cache import BlobCache, note_problem

FAMILY = "hyperscan"
_default: list[BlobCache | None] = [None]


def use_folder(cache_dir: str | None) -> None:
    """Where databases built without an explicit cache are kept in this process (None: nowhere)."""
    current = _default[0]
    if cache_dir is None:
        _default[0] = None
    elif current is None or current.directory != Path(cache_dir) / FAMILY:
        _default[0] = BlobCache(Path(cache_dir), FAMILY)


def default_cache() -> BlobCache | None:
    return _default[0]


def database_key(tag: str, expressions: Sequence[bytes], flags: Sequence[int], literal: bool, hs: Any) -> str:
    digest = hashlib.sha256()
    parts: list[bytes] = [part.encode() for part in (tag, "2", __version__, str(getattr(hs, "__version__", "?")),
                                                     platform.machine(), f"literal={literal}")]
    parts += [str(f).encode() for f in flags]
    parts += list(expressions)
    for data in parts:
        digest.update(len(data).to_bytes(8, "little") + data)
    return digest.hexdigest()


def compile_database(hs: Any, expressions: Sequence[bytes], flags: Sequence[int], *, tag: str,
                     literal: bool = False, cache: BlobCache | None = None) -> Any:
    """A block-mode database of ``expressions`` (ids are their positions), from ``cache`` when it holds one.
    Raises ``hs.error`` as compiling does when Hyperscan refuses the expressions."""
    key = database_key(tag, expressions, flags, literal, hs) if cache is not None else ""
    if cache is not None:
        payload, problem = cache.load(key)
        if payload is not None:
            try:
                return hs.loadb(payload, hs.HS_MODE_BLOCK)
            except Exception as exc:  # refused by the library (damaged, or built for another CPU)
                problem = f"damaged: Hyperscan refused it ({type(exc).__name__}: {exc})"
        if problem is not None:
            note_problem(str(cache.path(key)), f"cached Hyperscan database {problem}; compiled again")
    database = hs.Database(mode=hs.HS_MODE_BLOCK)
    options: dict[str, Any] = {"literal": True} if literal else {}
    database.compile(expressions=list(expressions), ids=list(range(len(expressions))), elements=len(expressions),
                     flags=list(flags), **options)
    if cache is not None:
        with contextlib.suppress(Exception):  # not kept: compiled again next time, nothing else changes
            cache.store(key, hs.dumpb(database))
    return database
