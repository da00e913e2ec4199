"""The compiled-content cache: keyed by everything the compiled rules depend on, private, never trusted when
damaged or writable by others, and invisible in the results (a cached run reports byte for byte the same)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from exhunt.cli.main import main
from exhunt.content.cache import ContentCache, ContentKey, default_dir
from exhunt.detectors.sigma.family import SigmaContent, shipped_sources
from exhunt.detectors.sigma.view import EventView
from exhunt.model.finding import Outcome

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
RULE = """title: Synthetic whoami from w3wp
id: 9e0c3a43-5b0e-4e8e-9d0a-1f3f8e7c0001
logsource: {category: process_creation, product: windows}
detection:
  sel: {ParentImage|endswith: '\\\\w3wp.exe', Image|endswith: '\\\\whoami.exe'}
  condition: sel
level: high
"""


def rules_folder(tmp_path: Path, text: str = RULE) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir(exist_ok=True)
    (folder / "whoami.yml").write_text(text)
    return folder


def test_store_and_load_round_trip(tmp_path: Path) -> None:
    cache = ContentCache(tmp_path / "cache", "demo")
    assert cache.load("k1") is None
    assert cache.store("k1", {"a": (1, "two")})
    assert cache.load("k1") == {"a": (1, "two")}
    assert oct((tmp_path / "cache" / "demo").stat().st_mode & 0o777) == oct(0o700)


def test_damaged_or_unpicklable_entries_mean_compiling_again(tmp_path: Path) -> None:
    cache = ContentCache(tmp_path, "demo")
    assert cache.store("k", [1])
    (tmp_path / "demo" / "k.pickle").write_bytes(b"\x80\x05not a pickle")
    assert cache.load("k") is None
    assert not cache.store("lambda", lambda: 1)  # not picklable: simply not cached


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="file owners and modes are POSIX")
def test_a_cache_others_can_write_is_not_read(tmp_path: Path) -> None:
    cache = ContentCache(tmp_path, "demo")
    assert cache.store("k", [1])
    (tmp_path / "demo").chmod(0o777)
    assert cache.load("k") is None
    (tmp_path / "demo").chmod(0o700)
    (tmp_path / "demo" / "k.pickle").chmod(0o666)
    assert cache.load("k") is None


def test_key_covers_names_bytes_and_options() -> None:
    def key(*parts: str) -> str:
        k = ContentKey("sigma")
        k.add(*parts)
        return k.digest()

    assert key("a", "b") == key("a", "b")
    assert key("a", "b") != key("ab")  # parts are length-prefixed, not concatenated
    assert ContentKey("sigma").digest() != ContentKey("yara").digest()


def test_default_dir_honours_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EXHUNT_CACHE_DIR", str(tmp_path / "x"))
    assert default_dir() == tmp_path / "x"
    monkeypatch.delenv("EXHUNT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_dir() == tmp_path / "xdg" / "exhunt"


def test_sigma_content_comes_from_the_cache_the_second_time(tmp_path: Path) -> None:
    sources = [*shipped_sources(), (str(rules_folder(tmp_path)), None)]
    cache = str(tmp_path / "cache")
    first = SigmaContent(sources, cache_dir=cache)
    second = SigmaContent(sources, cache_dir=cache)
    assert (first.from_cache, second.from_cache) == (False, True)
    assert [(r.rule_id, r.program, r.literals, r.requirements) for r in first.result.rules] == \
        [(r.rule_id, r.program, r.literals, r.requirements) for r in second.result.rules]
    assert first.result.unsupported == second.result.unsupported and first.result.errors == second.result.errors
    event = EventView({"parentimage": "C:\\Windows\\System32\\inetsrv\\w3wp.exe",
                       "image": "C:\\Windows\\System32\\whoami.exe"})
    rule = next(r for r in second.result.rules if r.title == "Synthetic whoami from w3wp")
    assert rule.matcher(event)
    assert not rule.matcher(EventView({"parentimage": "explorer.exe", "image": "C:\\x\\whoami.exe"}))


def test_every_shipped_rule_judges_its_samples_alike_from_the_cache(tmp_path: Path) -> None:
    cache = str(tmp_path / "cache")
    fresh = SigmaContent(shipped_sources(), cache_dir=cache)
    cached = SigmaContent(shipped_sources(), cache_dir=cache)
    assert cached.from_cache and len(fresh.result.rules) == len(cached.result.rules) > 50
    views = [EventView(dict(sample)) for rule in fresh.result.rules
             for samples in rule.ext.samples.values() for sample in samples]
    for before, after in zip(fresh.result.rules, cached.result.rules, strict=True):
        assert [before.matcher(v) for v in views] == [after.matcher(v) for v in views], before.rule_id
        assert [before.ext.outcome(v, Outcome.ATTEMPTED) for v in views] == \
            [after.ext.outcome(v, Outcome.ATTEMPTED) for v in views], before.rule_id


def test_a_changed_rule_file_is_compiled_again(tmp_path: Path) -> None:
    folder = rules_folder(tmp_path)
    cache = str(tmp_path / "cache")
    SigmaContent([(str(folder), None)], cache_dir=cache)
    (folder / "whoami.yml").write_text(RULE.replace("whoami.exe", "net.exe"))
    again = SigmaContent([(str(folder), None)], cache_dir=cache)
    assert not again.from_cache
    event = EventView({"parentimage": "c:\\w3wp.exe", "image": "c:\\net.exe"})
    assert again.result.rules[0].matcher(event)
    placeholders = SigmaContent([(str(folder), None)], {"admins": ["a"]}, cache_dir=cache)
    assert not placeholders.from_cache  # other options, other key


def test_a_cached_load_does_not_import_pysigma(tmp_path: Path) -> None:
    cache = str(tmp_path / "cache")
    SigmaContent(shipped_sources(), cache_dir=cache)
    code = ("import sys\n"
            "from exhunt.detectors.sigma.family import SigmaContent, shipped_sources\n"
            f"content = SigmaContent(shipped_sources(), cache_dir={cache!r})\n"
            "print(content.from_cache, len(content.result.rules), any(m.startswith('sigma') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "True" and int(out[1]) > 20 and out[2] == "False"


def test_scan_reports_the_same_with_and_without_the_cache(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXHUNT_CACHE_DIR", str(tmp_path / "cache"))
    host = str(EXAMPLES / "exchange-2019-compromised")
    outputs = []
    for name, extra in (("cold", []), ("warm", []), ("none", ["--no-cache"])):
        out = tmp_path / f"{name}.jsonl"
        main(["scan", host, "-f", "jsonl", "-o", str(out), "--no-progress", "--jobs", "1", *extra])
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] == outputs[2]
    assert list((tmp_path / "cache" / "sigma").glob("*.pickle"))


def test_states_handed_over_by_another_process_are_used_before_the_folder(tmp_path: Path) -> None:
    """What a Dask client loaded (``exported``) is used by a worker without that folder (``preload``), only
    under the same (family, key), and dropped again by ``forget``."""
    from exhunt.content import cache as module

    client = ContentCache(tmp_path / "client", "demo")
    assert client.store("k-handed", {"rules": [1, 2]})
    states = {name: data for name, data in module.exported().items() if name == ("demo", "k-handed")}
    assert list(states) == [("demo", "k-handed")]
    worker = ContentCache(tmp_path / "worker-has-no-cache", "demo")
    assert worker.load("k-handed") is None
    module.preload(states)
    try:
        assert worker.load("k-handed") == {"rules": [1, 2]}
        assert ContentCache(tmp_path / "worker-has-no-cache", "other").load("k-handed") is None
        assert worker.load("another-key") is None
    finally:
        module.forget(states)
    assert worker.load("k-handed") is None
    module.preload({("demo", "damaged"): b"\x80\x05not a pickle"})
    assert worker.load("damaged") is None  # a damaged handed state: compiled again, as a damaged file


def test_blob_round_trip_and_damage_is_said(tmp_path: Path) -> None:
    from exhunt.content.cache import BlobCache

    cache = BlobCache(tmp_path, "blobs")
    assert cache.load("k") == (None, None)  # absent: nothing to say
    assert cache.store("k", b"payload")
    assert cache.load("k") == (b"payload", None)
    data = cache.path("k").read_bytes()
    cache.path("k").write_bytes(data[:-1] + b"X")
    payload, problem = cache.load("k")
    assert payload is None and problem is not None and "checksum" in problem
    cache.path("k").write_bytes(b"junk")
    assert cache.load("k")[1] == "damaged: not a cache entry"


def test_blobs_others_can_write_are_not_read(tmp_path: Path) -> None:
    from exhunt.content.cache import BlobCache

    cache = BlobCache(tmp_path, "blobs")
    assert cache.store("k", b"payload")
    (tmp_path / "blobs").chmod(0o777)
    payload, problem = cache.load("k")
    assert payload is None and problem is not None and "another user" in problem
    (tmp_path / "blobs").chmod(0o700)
    cache.path("k").chmod(0o666)
    assert cache.load("k")[0] is None


def test_installed_version_reads_the_dist_info_without_importing() -> None:
    from importlib import metadata

    from exhunt.content.cache import installed_version

    assert installed_version("yara_x", "yara-x") == metadata.version("yara-x")
    assert installed_version("no_such_module_here", "nothing") == "unknown"
