"""The compiled-content cache: compiled detection content kept between runs, keyed by what it came from.

Compiling content means importing the rule libraries and parsing every rule file (a second or more for a
large Sigma set); running it again on the same rules gives the same result. A family may therefore store
its compiled state here under a key that hashes everything the result depends on: the rule files' bytes
and names, the options, the versions of exhunt, Python and the rule library, and exhunt's own source
files (by size and time). Any change gives a new key, so a cached state is never used for other content.

The cache holds pickles, which can run code when loaded: it lives in the user's own cache folder
(``$EXHUNT_CACHE_DIR``, else ``$XDG_CACHE_HOME/exhunt``, else ``~/.cache/exhunt``), is created private,
and a folder or file that another user owns or could write is not read. Anything that goes wrong while
reading or writing (a damaged file, a full disk, a read-only home) only means compiling again; the cache
never changes what a scan reports.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import os
import pickle
import stat
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from exhunt import __version__

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # src/exhunt
FORMAT = 1  # bumped when what is cached changes shape
KEEP = 16  # cached states kept per family (the newest)


def default_dir() -> Path:
    explicit = os.environ.get("EXHUNT_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "exhunt"


class ContentKey:
    """Accumulates everything a compiled state depends on; ``digest()`` is the cache key.

    It starts with the family, the versions of exhunt and Python, and exhunt's own source files by size and
    modification time, so that an edited checkout never meets a state its old code compiled."""

    def __init__(self, family: str) -> None:
        self._hash = hashlib.sha256()
        self.add("family", family, "format", str(FORMAT), "exhunt", __version__,
                 "python", ".".join(map(str, sys.version_info[:3])))
        for part in _code_fingerprint():
            self.add(part)

    def add(self, *parts: str) -> None:
        for part in parts:
            data = part.encode("utf-8", "surrogatepass")
            self._hash.update(len(data).to_bytes(8, "little") + data)

    def add_file(self, path: Path, name: str) -> None:
        """A file's name (as the content will show it) and bytes; an unreadable file is keyed as such."""
        try:
            if not stat.S_ISREG(path.stat().st_mode):  # a FIFO or device would block or never end
                self.add("file", name, "not a regular file")
                return
            data = path.read_bytes()
        except OSError as exc:
            self.add("file", name, "unreadable", type(exc).__name__)
            return
        self.add("file", name, hashlib.sha256(data).hexdigest())

    def add_files(self, paths: Iterable[Path], base: Path) -> None:
        for path in paths:
            try:
                name = path.relative_to(base).as_posix()
            except ValueError:
                name = str(path)
            self.add_file(path, name)

    def digest(self) -> str:
        return self._hash.hexdigest()


@functools.cache
def _code_fingerprint() -> tuple[str, ...]:
    """exhunt's own source files by name, size and modification time: listed once per process (every
    family's key starts with it; walking the package took ~20-50 ms each time)."""
    parts: list[str] = []
    for source in sorted(PACKAGE_DIR.rglob("*.py")):
        info = source.stat()
        parts.extend((source.relative_to(PACKAGE_DIR).as_posix(), str(info.st_size), str(info.st_mtime_ns)))
    return tuple(parts)


def installed_version(module: str, distribution: str) -> str:
    """The installed version of ``distribution`` (which provides ``module``), read from its ``.dist-info``
    folder's name next to the module, without importing it or ``importlib.metadata`` (~20 ms); "unknown"
    when there is none (then the key still changes with exhunt's own version)."""
    spec = importlib.util.find_spec(module)
    if spec is None:
        return "unknown"
    where = [Path(p).parent for p in spec.submodule_search_locations or []]
    if not where and spec.origin:
        where = [Path(spec.origin).parent]
    prefix = distribution.replace("-", "_").lower() + "-"
    for folder in where:
        with contextlib.suppress(OSError):
            for entry in sorted(os.listdir(folder)):
                if entry.endswith(".dist-info") and entry.lower().startswith(prefix):  # name_x-1.2.3.dist-info
                    return entry[len(prefix):-len(".dist-info")]
    return "unknown"


def _private(path: Path, info: os.stat_result) -> bool:
    """Owned by this user and writable by no one else (where the platform has owners)."""
    if not hasattr(os, "getuid"):
        return True
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


# States handed to this process by the process that started it (a Dask client gives its workers the states
# it loaded: ``exported`` there, ``preload`` here), by (family, key); consulted before the folder. The key
# is computed here from this process's own code and rule files, so a handed state is used only for the
# content it was compiled from. They come from the client that also sends the code the workers run: no
# more trust than Dask itself needs.
_preloaded: dict[tuple[str, str], bytes] = {}
_used: dict[tuple[str, str], Path] = {}  # the entries this process loaded or stored, for ``exported``


def preload(states: dict[tuple[str, str], bytes]) -> None:
    """Make pickled states (``exported`` by another process) available to ``ContentCache.load``."""
    _preloaded.update(states)


def forget(states: dict[tuple[str, str], bytes]) -> None:
    """Drop states given to ``preload`` (what was compiled from them stays with its users)."""
    for name in states:
        _preloaded.pop(name, None)


def exported() -> dict[tuple[str, str], bytes]:
    """The pickled states this process loaded from or stored in a cache folder, by (family, key); an entry
    that cannot be read again (pruned, replaced) is left out: the receiver then compiles it itself."""
    states: dict[tuple[str, str], bytes] = {}
    for (family, key), path in list(_used.items()):
        try:
            states[(family, key)] = path.read_bytes()
        except OSError:
            continue
    return states


class ContentCache:
    def __init__(self, directory: Path, family: str) -> None:
        self.directory = directory / family
        self.family = family

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.pickle"

    def load(self, key: str) -> Any | None:
        """The state stored under ``key``, or None (absent, unsafe to read, or damaged)."""
        handed = _preloaded.get((self.family, key))
        if handed is not None:
            try:
                return pickle.loads(handed)
            except Exception:  # a damaged state only means reading the folder or compiling
                _preloaded.pop((self.family, key), None)
        path = self._path(key)
        try:
            info = path.stat()
            if not (_private(self.directory, self.directory.stat()) and _private(path, info)) \
                    or not stat.S_ISREG(info.st_mode):  # a FIFO planted as an entry must not hang the scan
                return None
            with path.open("rb") as handle:
                state = pickle.load(handle)
            os.utime(path)  # recently used: kept when the folder is pruned
            _used[(self.family, key)] = path
            return state
        except Exception:  # a damaged or stale entry only means compiling again
            return None

    def store(self, key: str, state: Any) -> bool:
        """Store ``state`` under ``key`` (atomically); False when it cannot be pickled or written."""
        try:
            data = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # content holding something unpicklable is simply not cached
            return False
        try:
            if not _write_private(self.directory, self._path(key), data):
                return False
            _used[(self.family, key)] = self._path(key)
            self._prune()
        except OSError:
            return False
        return True

    def _prune(self) -> None:
        entries = sorted(self.directory.glob("*.pickle"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
        for stale in entries[KEEP:]:
            stale.unlink(missing_ok=True)


# --- compiled databases as plain bytes ------------------------------------------------------------------------
#
# Hyperscan databases (the Sigma buckets' literal scans) are compiled per process, on first use, and cost
# 10-200 ms each; Hyperscan serialises them to bytes that load in well under a millisecond. They are kept
# here as plain files, never pickles: the magic, a SHA-256 of the payload, the payload. The same safety
# rules as above apply (a private folder, regular files); an entry that is damaged (bad checksum, a payload
# the library refuses) is rebuilt by its user, who says so (``note_problem``), and then overwritten.

BLOB_MAGIC = b"exhunt-blob-1\n"
BLOB_KEEP = 1024  # entries kept per family (the most recently used)
MAX_PROBLEMS = 100
_problems: list[tuple[str, str]] = []  # (path, message) of cache entries found damaged in this process


def note_problem(path: str, message: str) -> None:
    """Remember that a cache entry was damaged and rebuilt (bounded); the Sigma detector reports these."""
    if len(_problems) < MAX_PROBLEMS and (path, message) not in _problems:
        _problems.append((path, message))


def take_problems() -> list[tuple[str, str]]:
    """The cache problems noted in this process since the last call."""
    taken = list(_problems)
    _problems.clear()
    return taken


def _write_private(directory: Path, target: Path, data: bytes) -> bool:
    """Write ``data`` to ``target`` atomically in a folder only this user can write; False when the folder
    is not private (raises OSError when it cannot be written)."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not _private(directory, directory.stat()):
        return False
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return True


class BlobCache:
    """Bytes kept between runs under a key: ``load`` gives (bytes or None, problem or None)."""

    def __init__(self, directory: Path, family: str) -> None:
        self.directory = directory / family

    def path(self, key: str) -> Path:
        return self.directory / f"{key}.blob"

    def load(self, key: str) -> tuple[bytes | None, str | None]:
        path = self.path(key)
        try:
            info = path.stat()
        except OSError:
            return None, None  # absent: simply built
        try:
            if not _private(self.directory, self.directory.stat()) or not _private(path, info):
                return None, "not read: the entry or its folder can be written by another user"
            if not stat.S_ISREG(info.st_mode):
                return None, "not read: not a regular file"
            with path.open("rb") as handle:
                data = handle.read()
        except OSError as exc:
            return None, f"unreadable: {exc}"
        head = len(BLOB_MAGIC)
        if not data.startswith(BLOB_MAGIC) or len(data) < head + 32:
            return None, "damaged: not a cache entry"
        payload = data[head + 32:]
        if hashlib.sha256(payload).digest() != data[head:head + 32]:
            return None, "damaged: checksum mismatch"
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: kept when the folder is pruned
        return payload, None

    def store(self, key: str, payload: bytes) -> bool:
        data = BLOB_MAGIC + hashlib.sha256(payload).digest() + payload
        try:
            if not _write_private(self.directory, self.path(key), data):
                return False
            entries = list(self.directory.glob("*.blob"))
            if len(entries) > BLOB_KEEP:
                entries.sort(key=lambda p: p.stat().st_mtime_ns, reverse=True)
                for stale in entries[BLOB_KEEP:]:
                    stale.unlink(missing_ok=True)
        except OSError:
            return False
        return True
