"""Detection efficacy on real public evidence: recall, false positives and verdicts, with the misses named.

    python bench/efficacy.py                      # every set found under ../shared/corpus
    python bench/efficacy.py --sets webshells     # one set
    python bench/efficacy.py --json out.json      # figures as JSON too (for before/after comparisons)

It runs the installed ``exhunt scan`` (the product as a user runs it, shipped content only, rules cache on)
over trees built from ``../shared/corpus/`` in a temporary folder, and reads its JSONL output:

- ``webshells``: each real web shell of ``webshells-dev/malicious`` copied under its real extension into a
  neutral site folder (``C/inetpub/wwwroot/site/``), so only content can tell; a shell counts as found when a
  finding at medium or above cites it. ``webshells-dev/benign`` the same way: a false positive is a page cited
  by any finding above informational.
- ``evtx-attack``: each EVTX of ``evtx-attack-dev`` scanned as its own host; a file counts as flagged when a
  finding at medium or above comes from it. The folder's three benign files are counted apart.
- ``verdicts``: hosts whose right verdict is known: real IIS logs of non-Exchange sites and benign EVTX samples
  (right: "no sign found"), the OTRF ProxyLogon recording (right: "compromised"), the bundled examples.

About half of each public set is kept back by the project's steering side and measured there: figures here are
the development half only. Write rules for behaviours, not for these samples.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SEVERITY = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
EVTX_BENIGN = ("Antivirus/ID1151", "ID4622-New SSP loaded in LSA (only legitim)", "ID12-LSA Protect mode enabled")
EXAMPLES = {
    "exchange-2019-compromised": "compromised",
    "exchange-2016-proxyshell": "compromised",
    "exchange-2019-probed": "exploitation attempted",
    "exchange-2019-clean": "no sign found",
}

# logs that are not IIS W3C logs: nothing in them can be read, so the right answer is "could not assess" (a log
# not understood must never read as clean)
UNREADABLE_WEBLOGS = {
    "ex010320.log": "could not assess",  # IIS native (comma-separated) format, not W3C
    "pf040903.log": "could not assess",  # a firewall's W3C log (corpus README), not a web server's
}


@dataclass
class SetResult:
    name: str
    lines: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)


def run_scan(args: list[str], out: Path, exhunt: list[str]) -> list[dict[str, Any]]:
    """``exhunt scan ARGS -f jsonl``; exit codes 0, 1 and 3 are normal outcomes."""
    command = [*exhunt, "scan", *args, "-f", "jsonl", "-o", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode not in (0, 1, 3):
        sys.stderr.write(done.stderr[-4000:])
        raise SystemExit(f"exhunt scan failed with exit {done.returncode}: {' '.join(command[:6])} ...")
    with out.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def findings(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [row for row in rows if row.get("type") == "finding"]


def hosts(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [row for row in rows if row.get("type") == "host"]


def _copy_samples(source: Path, dest: Path) -> dict[str, str]:
    """Copy ``*.sample`` files under ``dest`` with their real extension; map host-relative path -> corpus name."""
    placed: dict[str, str] = {}
    for path in sorted(source.rglob("*.sample")):
        relative = path.relative_to(source).with_suffix("")
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        placed[target.as_posix()] = relative.as_posix()
    return placed


def _cited(rows: list[dict[str, Any]], floor: int) -> dict[str, list[str]]:
    """Host-relative path -> the rule ids of findings at or above ``floor`` that cite it."""
    cited: dict[str, list[str]] = defaultdict(list)
    for finding in findings(rows):
        if SEVERITY.get(finding.get("severity", "info"), 0) < floor:
            continue
        for ref in finding.get("evidence", []):
            cited[ref.get("path", "")].append(finding["rule_id"])
    return cited


def webshells(corpus: Path, work: Path, exhunt: list[str]) -> SetResult:
    result = SetResult("webshells (webshells-dev, neutral folder C/inetpub/wwwroot/site/)")
    site = "C/inetpub/wwwroot/site"
    for label, floor in (("malicious", SEVERITY["medium"]), ("benign", SEVERITY["low"])):
        host = work / f"webshells-{label}"
        placed = _copy_samples(corpus / "webshells-dev" / label, host / site)
        rows = run_scan([str(host)], work / f"webshells-{label}.jsonl", exhunt)
        cited = _cited(rows, floor)
        by_name = {name: cited.get(f"{site}/{name}", []) for name in placed.values()}
        hit = sorted(name for name, rules in by_name.items() if rules)
        rules = Counter(rule for rules in by_name.values() for rule in set(rules))
        if label == "malicious":
            missed = sorted(set(by_name) - set(hit))
            result.figures.update(malicious=len(by_name), found=len(hit), missed=missed,
                                  recall=round(len(hit) / max(len(by_name), 1), 3), rules_malicious=dict(rules))
            result.lines.append(f"malicious: {len(hit)}/{len(by_name)} found at medium or above "
                                f"(recall {len(hit) / max(len(by_name), 1):.3f})")
            result.lines.extend(f"  missed: {name}" for name in missed)
        else:
            result.figures.update(benign=len(by_name), false_positives=hit, rules_benign=dict(rules))
            result.lines.append(f"benign: {len(hit)}/{len(by_name)} cited above informational")
            result.lines.extend(f"  false positive: {name} ({', '.join(sorted(set(by_name[name])))})"
                                for name in hit)
    return result


def evtx_attack(corpus: Path, work: Path, exhunt: list[str]) -> SetResult:
    result = SetResult("evtx-attack (evtx-attack-dev, each file its own host, shipped rules)")
    base = corpus / "evtx-attack-dev"
    files = sorted(base.rglob("*.evtx"))
    rows: list[dict[str, Any]] = []
    for start in range(0, len(files), 100):  # keep command lines short
        rows += run_scan([str(f) for f in files[start:start + 100]], work / f"evtx-{start}.jsonl", exhunt)
    worst: dict[str, int] = defaultdict(lambda: -1)
    rules: dict[str, set[str]] = defaultdict(set)
    for finding in findings(rows):
        worst[finding["host"]] = max(worst[finding["host"]], SEVERITY.get(finding["severity"], 0))
        if SEVERITY.get(finding["severity"], 0) >= SEVERITY["medium"]:
            rules[finding["host"]].add(finding["rule_id"])
    names = {f.name: f.relative_to(base).as_posix() for f in files}
    host_names = {row["host"]: row["host"] for row in hosts(rows)}
    per_tactic: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    missed: list[str] = []
    benign_flagged: list[str] = []
    flagged = total = 0
    for file in files:
        relative = file.relative_to(base).as_posix()
        host = _host_for(file, host_names)
        level = worst.get(host, -1)
        benign = any(marker in relative for marker in EVTX_BENIGN)
        if benign:
            if level >= SEVERITY["low"]:
                benign_flagged.append(f"{relative} ({', '.join(sorted(rules.get(host, set()))) or 'low'})")
            continue
        tactic = relative.split("/")[1] if relative.count("/") >= 2 else relative.split("/")[0]
        total += 1
        per_tactic[tactic][1] += 1
        if level >= SEVERITY["medium"]:
            flagged += 1
            per_tactic[tactic][0] += 1
        else:
            missed.append(relative)
    del names
    campaign, left_out = _campaign_selection()
    prefix = "mdecrevoisier-EVTX-to-MITRE-Attack/"
    campaign_missed = [name for name in campaign if not _campaign_flag(name, rules.get(
        _host_for(base / (prefix + name), host_names), set()))]
    result.figures.update(files=total, flagged=flagged, missed=missed, benign_flagged=benign_flagged,
                          per_tactic={k: list(v) for k, v in sorted(per_tactic.items())},
                          campaign=len(campaign), campaign_flagged=len(campaign) - len(campaign_missed),
                          campaign_missed=campaign_missed)
    if campaign:
        result.lines.append(f"this campaign's post-exploitation techniques (the corpus test's selection, "
                            f"{left_out} files left out with a reason): "
                            f"{len(campaign) - len(campaign_missed)}/{len(campaign)} flagged at medium or above")
        result.lines.extend(f"  campaign miss: {name}" for name in campaign_missed)
    result.lines.append(f"all attack files flagged at medium or above: {flagged}/{total}")
    result.lines.extend(f"  {tactic}: {hit}/{count}" for tactic, (hit, count) in sorted(per_tactic.items()))
    result.lines.append(f"benign files of the set cited above informational: {len(benign_flagged)}/3")
    result.lines.extend(f"  false positive: {name}" for name in benign_flagged)
    result.lines.extend(f"  missed: {name}" for name in missed)
    return result


def _campaign_selection() -> tuple[tuple[str, ...], int]:
    """The files of evtx-attack-dev whose technique belongs to this campaign, as the corpus test lists them."""
    path = ROOT / "tests" / "corpus" / "test_evtx_attack_corpus.py"
    spec = importlib.util.spec_from_file_location("_evtx_attack_selection", path)
    if spec is None or spec.loader is None:
        return (), 0
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return tuple(module.CAMPAIGN), len(module.LEFT_OUT)


def _campaign_flag(name: str, rules: set[str]) -> bool:
    """Flagged by a rule other than "event log cleared" (the authors cleared the Security log before recording
    many files), which counts only for the log-clearing technique itself."""
    return bool(rules - {"EXH-PX-LOG-CLEARED"}) or ("T1070.001" in name and bool(rules))


def _host_for(file: Path, known: dict[str, str]) -> str:
    """The host name exhunt gives a loose EVTX file (its name, or its stem)."""
    for candidate in (file.name, file.stem):
        if candidate in known:
            return candidate
    return file.name


def verdicts(corpus: Path, work: Path, exhunt: list[str]) -> SetResult:
    result = SetResult("verdicts (hosts whose right verdict is known)")
    expected: dict[str, str] = {}
    fleet = work / "verdict-hosts"
    for log in sorted((corpus / "weblogs").rglob("*.log")):
        name = f"weblog-{log.parent.name}-{log.stem}"
        target = fleet / name / "C/inetpub/logs/LogFiles/W3SVC1" / f"u_ex{log.stem}.log"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(log, target)
        expected[name] = UNREADABLE_WEBLOGS.get(log.name, "no sign found")
    for folder in sorted(p for p in (corpus / "evtx").iterdir() if p.is_dir()):
        name = f"evtx-{folder.name}"
        logs = fleet / name / "C/Windows/System32/winevt/Logs"
        logs.mkdir(parents=True, exist_ok=True)
        for evtx in sorted(folder.glob("*.evtx")):
            shutil.copyfile(evtx, logs / evtx.name)
        expected[name] = "no sign found"
    rows = run_scan([str(p) for p in sorted(fleet.iterdir())], work / "verdicts.jsonl", exhunt)
    otrf = corpus / "otrf" / "proxylogon_ssrf_rce_poc.zip"
    if otrf.is_file():
        rows += run_scan([str(otrf)], work / "otrf.jsonl", exhunt)
        expected[_only_host(rows)] = "compromised"
    for example, verdict in EXAMPLES.items():
        rows += run_scan([str(ROOT / "examples" / example)], work / f"{example}.jsonl", exhunt)
        expected[example] = verdict
    got = {row["host"]: row["verdict"] for row in hosts(rows)}
    right = [name for name, verdict in expected.items() if got.get(name) == verdict]
    result.figures.update(hosts=len(expected), right=len(right),
                          wrong={n: [v, got.get(n)] for n, v in expected.items() if got.get(n) != v})
    result.lines.append(f"right verdicts: {len(right)}/{len(expected)}")
    result.lines.extend(f"  wrong: {name}: expected {verdict!r}, got {got.get(name)!r}"
                        for name, verdict in sorted(expected.items()) if got.get(name) != verdict)
    return result


def _only_host(rows: list[dict[str, Any]]) -> str:
    return str(hosts(rows)[-1]["host"])


SETS = {"webshells": ("webshells-dev", webshells), "evtx-attack": ("evtx-attack-dev", evtx_attack),
        "verdicts": ("weblogs", verdicts)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--sets", nargs="*", choices=sorted(SETS), default=sorted(SETS))
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    parser.add_argument("--exhunt", default=shutil.which("exhunt") or "exhunt", help="the exhunt command")
    args = parser.parse_args(argv)
    if not args.corpus.is_dir():
        print(f"no corpus at {args.corpus}: nothing to measure", file=sys.stderr)
        return 2
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="exhunt-efficacy-") as tmp:
        for name in args.sets:
            needed, measure = SETS[name]
            if not (args.corpus / needed).exists():
                print(f"== {name}: skipped, {args.corpus / needed} is absent")
                continue
            work = Path(tmp) / name
            work.mkdir()
            result = measure(args.corpus, work, [args.exhunt])
            print(f"== {result.name}")
            for line in result.lines:
                print(line)
            out[name] = result.figures
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    raise SystemExit(main())
