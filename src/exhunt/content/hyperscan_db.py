"""Hyperscan databases compiled once and kept between runs (``BlobCache``, folder ``hyperscan/``).

A database depends only on its expressions, their flags, the mode, the Hyperscan library, exhunt's version
and the machine; the key is a digest of all of them. A process deserialises (well under a millisecond) what
an earlier run compiled (10-400 ms per database). A damaged entry, or one the library refuses, is compiled
again, overwritten and noted (``note_problem``: the Sigma detector reports it in coverage).

The text-log prefilters are built below the layer that knows the content's cache folder, so the engine names
the folder once per host (``use_folder``); the detectors pass their own ``BlobCache``.

A process that starts others (a Dask client) may hand them databases it built or loaded (``recorded`` there,
``hand`` here): they are consulted before the folder, under the key the receiver computes from its own
expressions, versions and machine, so a handed database is only ever used for what it was built from; one
the library refuses (built for another CPU) is dropped quietly and the database is built as without it.
"""

from __future__ import annotations

import contextlib
import hashlib
import platform
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from exhunt import __version__
from exhunt.content.cache import BlobCache, note_problem

FAMILY = "hyperscan"
_default: list[BlobCache | None] = [None]
_handed: dict[str, bytes] = {}  # serialised databases handed to this process, by key (``hand``)
_holders: dict[str, int] = {}  # how many hand-overs not yet taken back hold each key (``take_back``)
_recording = threading.local()  # ``recorded``: the databases this thread's builds returned, by key


def use_folder(cache_dir: str | None) -> None:
    """Where databases built without an explicit cache are kept in this process (None: nowhere)."""
    current = _default[0]
    if cache_dir is None:
        _default[0] = None
    elif current is None or current.directory != Path(cache_dir) / FAMILY:
        _default[0] = BlobCache(Path(cache_dir), FAMILY)


def default_cache() -> BlobCache | None:
    return _default[0]


def hand(blobs: dict[str, bytes]) -> None:
    """Make serialised databases (``recorded`` by another process) available to ``compile_database``."""
    _handed.update(blobs)
    for key in blobs:
        _holders[key] = _holders.get(key, 0) + 1


def take_back(blobs: dict[str, bytes]) -> None:
    """Drop databases given to ``hand`` (the databases loaded from them stay with their users)."""
    for key in blobs:  # a key another hand-over still holds (two runs' plugins on one worker) stays
        left = _holders.pop(key, 0) - 1
        if left > 0:
            _holders[key] = left
        else:
            _handed.pop(key, None)


def recorded(build: Callable[[], object]) -> dict[str, bytes]:
    """The serialised databases ``build`` obtained from ``compile_database`` (loaded from a cache folder or
    compiled), by key. ``build`` runs in a thread of its own: the callers' per-thread caches of built
    prefilters (which hold databases, not their bytes) start empty there, so every database is asked for."""
    blobs: dict[str, bytes] = {}
    failed: list[BaseException] = []

    def run() -> None:
        _recording.blobs = blobs
        try:
            build()
        except BaseException as exc:  # raised again in the caller's thread
            failed.append(exc)

    thread = threading.Thread(target=run, name="exhunt-record-databases", daemon=True)
    thread.start()
    thread.join()
    if failed:
        raise failed[0]
    return blobs


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
    record: dict[str, bytes] | None = getattr(_recording, "blobs", None)
    key = database_key(tag, expressions, flags, literal, hs) if cache is not None or _handed or record is not None \
        else ""
    handed = _handed.get(key) if _handed else None
    if handed is not None:
        try:
            database = hs.loadb(handed, hs.HS_MODE_BLOCK)
        except Exception:  # not for this machine's CPU: built below, as if it had not been handed
            _handed.pop(key, None)
        else:
            if record is not None:
                record[key] = handed
            return database
    if cache is not None:
        payload, problem = cache.load(key)
        if payload is not None:
            try:
                database = hs.loadb(payload, hs.HS_MODE_BLOCK)
            except Exception as exc:  # refused by the library (damaged, or built for another CPU)
                problem = f"damaged: Hyperscan refused it ({type(exc).__name__}: {exc})"
            else:
                if record is not None:
                    record[key] = payload
                return database
        if problem is not None:
            note_problem(str(cache.path(key)), f"cached Hyperscan database {problem}; compiled again")
    database = hs.Database(mode=hs.HS_MODE_BLOCK)
    options: dict[str, Any] = {"literal": True} if literal else {}
    database.compile(expressions=list(expressions), ids=list(range(len(expressions))), elements=len(expressions),
                     flags=list(flags), **options)
    if cache is not None or record is not None:
        with contextlib.suppress(Exception):  # not kept: compiled again next time, nothing else changes
            payload = hs.dumpb(database)
            if cache is not None:
                cache.store(key, payload)
            if record is not None:
                record[key] = payload
    return database
