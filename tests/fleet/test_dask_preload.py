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
