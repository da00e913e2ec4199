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
    assert _preload(client, ContentSpec(cache_dir=str(tmp_path / "cache"))) is None
    assert len(client.unregistered) == 1 and client.unregistered[0].startswith("exhunt-content-")
