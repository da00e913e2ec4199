"""Dask cold start: the content is made ready on every worker before the first host, from the states the
client loaded from its compiled-content cache; results stay those of the serial run."""

from __future__ import annotations

import pickle
from pathlib import Path

from exhunt.content import cache as content_cache
from exhunt.content.bundle import ContentSpec
from exhunt.fleet.dask import ContentPreload, assess_paths_dask
from exhunt.fleet.local import assess_paths, compiled_content

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
HOSTS = [EXAMPLES / "exchange-2019-clean", EXAMPLES / "exchange-2019-probed"]


def test_the_plugin_travels_and_its_setup_installs_the_states_and_compiles(tmp_path: Path) -> None:
    spec = ContentSpec(cache_dir=str(tmp_path / "cache"))
    states = {("demo", "k"): pickle.dumps({"x": 1})}
    plugin = pickle.loads(pickle.dumps(ContentPreload(spec, states)))
    plugin.setup(worker=None)
    try:
        assert content_cache.ContentCache(tmp_path / "elsewhere", "demo").load("k") == {"x": 1}
        assert compiled_content.cache_info().currsize >= 1  # type: ignore[attr-defined]
    finally:
        plugin.teardown(worker=None)
    assert content_cache.ContentCache(tmp_path / "elsewhere", "demo").load("k") is None


def test_dask_with_the_content_cache_matches_the_serial_run(tmp_path: Path) -> None:
    spec = ContentSpec(cache_dir=str(tmp_path / "cache"))
    serial = [r.to_dict() for r in assess_paths(HOSTS, ContentSpec(), {})]
    assert [r.to_dict() for r in assess_paths_dask(HOSTS, spec, {}, "local")] == serial


class _RefusingClient:
    """A client whose workers cannot take the plugin (e.g. exhunt not installed there)."""

    def __init__(self) -> None:
        self.unregistered: list[str] = []

    def register_plugin(self, plugin: object, name: str) -> None:
        raise RuntimeError("No module named 'exhunt'")

    def unregister_worker_plugin(self, name: str) -> None:
        self.unregistered.append(name)


def test_a_plugin_the_workers_refuse_leaves_the_compile_to_the_tasks_and_is_not_left_behind(
        tmp_path: Path) -> None:
    from exhunt.fleet.dask import _preload

    client = _RefusingClient()
    assert _preload(client, ContentSpec(cache_dir=str(tmp_path / "cache")), {}) is None
    assert len(client.unregistered) == 1 and client.unregistered[0].startswith("exhunt-content-")


def test_the_client_hands_the_workers_the_prefilters_a_usual_host_asks_for(tmp_path: Path,
                                                                          monkeypatch: object) -> None:
    """A fresh worker compiled the text logs' prefilter databases at its first host (0.3 s); the client
    now loads (or compiles once) those a host with no file of interest asks for and ships them. Checked in a
    fresh thread (the prefilters are kept per thread) on the clean and probed examples: every text-log
    database asked for was handed, IIS logs' scan placed in their default columns included (0.2 s more of a
    fresh worker's first host); the compromised host's web shells make it ask for others."""
    import threading

    import pytest

    from exhunt.content import hyperscan_db
    from exhunt.fleet.dask import MAX_DATABASE_BYTES, prefilter_databases
    from exhunt.fleet.local import assess_one

    pytest.importorskip("hyperscan")
    spec = ContentSpec(cache_dir=str(tmp_path / "cache"))
    databases = prefilter_databases(spec, {})
    assert databases and sum(map(len, databases.values())) <= MAX_DATABASE_BYTES
    assert prefilter_databases(spec, {}) == databases  # the second time from the cache folder: the same bytes
    assert prefilter_databases(ContentSpec(), {}) == {}  # no cache folder: nothing compiled only to be shipped
    asked: list[tuple[str, bool]] = []
    real = hyperscan_db.compile_database

    def spy(hs: object, expressions: list[bytes], flags: list[int], *, tag: str, literal: bool = False,
            cache: object = None) -> object:
        asked.append((tag, hyperscan_db.database_key(tag, expressions, flags, literal, hs) in databases))
        return real(hs, expressions, flags, tag=tag, literal=literal, cache=cache)  # type: ignore[arg-type]

    from exhunt.parsers import conjunctions, positions, prefilter
    for module in (conjunctions, positions, prefilter):
        monkeypatch.setattr(module, "compile_database", spy)  # type: ignore[attr-defined]
    plugin = pickle.loads(pickle.dumps(ContentPreload(spec, {}, databases)))
    plugin.setup(worker=None)
    try:
        for host, all_handed in ((HOSTS[0], True), (HOSTS[1], True), (EXAMPLES / "exchange-2019-compromised", False)):
            asked.clear()
            worker = threading.Thread(target=assess_one, args=(str(host), 0, ContentSpec(), {}))
            worker.start()
            worker.join()
            assert asked, host
            assert all(handed for _, handed in asked) == all_handed, (host, asked)
            assert any(handed for _, handed in asked), host
            assert any(tag == "text-placed" for tag, _ in asked), host  # the IIS logs' default layout
    finally:
        plugin.teardown(worker=None)
    assert not hyperscan_db._handed
