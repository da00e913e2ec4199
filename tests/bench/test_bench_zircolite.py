"""The Zircolite peer benchmark's own logic: reading Zircolite's output, pairing hits, skipping cleanly.

Zircolite itself is never run here (no network in tests): its output is a small synthetic file of the
shape its documentation gives (a list of detections, each with ``matches`` carrying ``OriginalLogfile``).
"""

from __future__ import annotations

import importlib.util
import io
import json
import sys
import tarfile
import urllib.error
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "bench_zircolite.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_zircolite", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_zircolite"] = module
    spec.loader.exec_module(module)
    return module


bz = _load()

RULE_A, RULE_B, RULE_C, RULE_D = "aaaa-1", "bbbb-2", "cccc-3", "dddd-4"

ZIRCOLITE_OUTPUT: list[dict[str, Any]] = [
    {"title": "Rule A", "id": RULE_A, "sigmafile": "a.yml", "sigma": ["SELECT * FROM logs WHERE x='1'"],
     "rule_level": "high", "tags": [], "count": 3,
     "matches": [{"OriginalLogfile": "C:\\cases\\h1\\one.evtx", "EventID": 1},
                 {"OriginalLogfile": "C:\\cases\\h1\\one.evtx", "EventID": 1},
                 {"OriginalLogfile": "/data/two.evtx", "EventID": 1}]},
    {"title": "Rule B", "id": RULE_B, "count": 1, "matches": [{"OriginalLogfile": "two.evtx"}]},
    {"title": "Many cmd", "result_type": "correlation", "count": 1,
     "matches": [{"alert_id": "x:1", "OriginalLogfile": "one.evtx"}]},
]


def _finding(rule: str, files: dict[str, int], detector: str = "sigma", title: str = "") -> str:
    return json.dumps({"type": "finding", "detector": detector, "rule_id": rule, "title": title or rule,
                       "attributes": {"sigma_id": [rule]} if detector == "sigma" else {},
                       "evidence_files": [{"path": p, "count": c} for p, c in files.items()],
                       "evidence": [{"path": p} for p in files]})


def test_zircolite_output_is_read_into_rule_file_pairs_with_counts() -> None:
    pairs, titles = bz.zircolite_pairs(ZIRCOLITE_OUTPUT)
    assert pairs == Counter({(RULE_A, "one.evtx"): 2, (RULE_A, "two.evtx"): 1, (RULE_B, "two.evtx"): 1})
    assert titles[RULE_A] == "Rule A"


def test_zircolite_output_grouped_by_ruleset_reads_the_same() -> None:
    grouped = {"rules_windows.json": ZIRCOLITE_OUTPUT[:1], "other": {"detections": ZIRCOLITE_OUTPUT[1:]}}
    assert bz.zircolite_pairs(grouped)[0] == bz.zircolite_pairs(ZIRCOLITE_OUTPUT)[0]


def test_exhunt_findings_give_every_file_of_evidence_files_for_the_compared_rules_only() -> None:
    lines = [_finding(RULE_A, {"logs/one.evtx": 2, "logs/two.evtx": 5}),
             _finding(RULE_C, {"three.evtx": 1}),
             _finding("EXH-OWN-RULE", {"one.evtx": 1}),  # exhunt's own rule: not in the compared set
             _finding(RULE_A, {"x.log": 1}, detector="text"),
             json.dumps({"type": "host", "host": "h1"}), ""]
    pairs, titles = bz.exhunt_pairs(lines, {RULE_A, RULE_B, RULE_C})
    assert pairs == Counter({(RULE_A, "one.evtx"): 2, (RULE_A, "two.evtx"): 5, (RULE_C, "three.evtx"): 1})
    assert titles[RULE_C] == RULE_C


def test_pairs_are_compared_and_the_differences_sorted_by_cause() -> None:
    zircolite = Counter({(RULE_A, "one.evtx"): 1, (RULE_A, "two.evtx"): 1, (RULE_B, "two.evtx"): 1,
                         (RULE_D, "four.evtx"): 1})
    exhunt = Counter({(RULE_A, "one.evtx"): 2, (RULE_A, "two.evtx"): 1, (RULE_C, "three.evtx"): 1,
                      (RULE_B, "five.evtx"): 1, ("eeee-5", "one.evtx"): 1})
    queries = {RULE_A: "SELECT * FROM logs WHERE x='1'", RULE_B: "SELECT * FROM logs WHERE y='2'",
               RULE_C: "SELECT * FROM logs WHERE z='3'", RULE_D: "SELECT * FROM logs WHERE Details IS NULL"}
    result = bz.compare(zircolite, exhunt, queries, failed={RULE_C})
    assert result.both == {(RULE_A, "one.evtx"), (RULE_A, "two.evtx")}
    assert result.zircolite_only == {(RULE_B, "two.evtx")}
    assert result.zircolite_only_null == {(RULE_D, "four.evtx")}
    assert result.exhunt_only_query_failed == {(RULE_C, "three.evtx")}
    assert result.exhunt_only_no_hit == {(RULE_B, "five.evtx")}
    assert result.exhunt_only_not_converted == {("eeee-5", "one.evtx")}
    assert result.agreement == pytest.approx(2 / 4)
    assert result.agreement_known_errors_apart == pytest.approx(2 / 3)
    text = "\n".join(bz.report(result, {RULE_B: "Rule B"}, show=5))
    assert "Zircolite 4, both 2" in text and "Rule B [bbbb-2] in two.evtx" in text


def test_no_zircolite_hits_is_full_agreement_not_a_division_by_zero() -> None:
    assert bz.compare(Counter(), Counter({(RULE_A, "x.evtx"): 1}), {}, set()).agreement == 1.0


def test_saved_ruleset_queries_and_failed_queries_in_the_log() -> None:
    ruleset = [{"title": "Rule A", "id": RULE_A, "rule": ["SELECT * FROM logs WHERE a IS NULL"]},
               {"title": "Rule C", "id": RULE_C, "rule": "SELECT * FROM logs WHERE c='x'"}]
    assert bz.ruleset_queries(ruleset) == {RULE_A: "SELECT * FROM logs WHERE a IS NULL",
                                           RULE_C: "SELECT * FROM logs WHERE c='x'"}
    log = "2026-12-03 INFO Executing ruleset\n[-] Error in rule Rule C : no such column: TargetObject\n"
    assert bz.failed_rules(log, {RULE_A: "Rule A", RULE_C: "Rule C"}) == {RULE_C}


def test_a_failed_download_prints_one_line_and_exits_0(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    def unreachable(*_args: Any, **_kwargs: Any) -> Any:
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(bz.urllib.request, "urlopen", unreachable)
    monkeypatch.setattr(bz, "OUT", tmp_path / "zircolite")
    rules = tmp_path / "rules"
    rules.mkdir()
    assert bz.main(["--rules", str(rules)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    assert out[0].startswith("zircolite: skipped: cannot download https://github.com/wagga40/Zircolite/")
    assert "Name or service not known" in out[0]


def test_an_archive_whose_digest_is_not_the_pinned_one_is_not_used(monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Path) -> None:
    archive = tmp_path / f"Zircolite-{bz.VERSION}.tar.gz"
    archive.write_bytes(b"not the release")
    monkeypatch.setattr(bz, "SHA256", "0" * 64)
    with pytest.raises(bz.Skip, match="expected 0000"):
        bz.fetch(tmp_path, accept=None)
    monkeypatch.setattr(bz, "SHA256", "")
    with pytest.raises(bz.Skip, match="no digest is pinned"):
        bz.fetch(tmp_path, accept=None)
    digest = bz._sha256(archive)
    assert bz.fetch(tmp_path, accept=digest) == archive


def test_a_release_tarball_is_unpacked_without_its_top_folder(tmp_path: Path) -> None:
    archive = tmp_path / "z.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in ((f"Zircolite-{bz.VERSION}/zircolite.py", b"print('z')\n"),
                           (f"Zircolite-{bz.VERSION}/requirements.txt", b"")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    src = bz.unpack(archive, tmp_path / "out")
    assert (src / "zircolite.py").read_text() == "print('z')\n"
    assert bz.unpack(src, tmp_path / "elsewhere") == src  # a checkout is used as it is
