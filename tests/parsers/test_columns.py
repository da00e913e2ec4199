"""The column gate (``parsers/columns.py``): property tests that it keeps every record a detector may use.

On many generated lines (the benchmark's near-miss and attack lines, ordinary traffic, the examples' IIS logs,
every literal of the requirements put into the right and the wrong columns, and odd forms: extra and missing
columns, runs of spaces, ``+``, ``-``, mixed case, NULs, header names in other case and order) the records the
detectors' filters keep are the same with the gate as without it, and so is each file's report; and the gate
does turn lines away. For the shipped rules, and with SigmaHQ's web server rules added (skipped when the
shared corpus is absent); and on HttpProxy rows (CSV, quoted fields) for the shipped rules.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import random
import sys
from pathlib import Path
from types import ModuleType

import pytest

from exhunt.content.bundle import ContentSpec
from exhunt.detectors.base import Digests, HostContext
from exhunt.detectors.registry import create_detectors
from exhunt.engine import _prefilter_spec, _record_filter
from exhunt.fleet.local import compiled_content
from exhunt.model.coverage import HostCoverage
from exhunt.model.event import Record
from exhunt.model.evidence import ArtifactKind
from exhunt.parsers.base import ParseReport
from exhunt.parsers.columns import ColumnGate, Term
from exhunt.parsers.pool import PrefilterSpec, parse_all
from exhunt.parsers.w3c import W3CParser
from exhunt.sources.classify import classify
from exhunt.sources.registry import open_evidence
from logfixtures import (
    HTTPPROXY_ATTACK_CHANGES,
    HTTPPROXY_FIELDS,
    IIS_ATTACKS,
    IIS_FIELDS,
    PROTOCOLS,
    exchange_header,
    httpproxy_line,
    httpproxy_values,
    iis_line,
)

ROOT = Path(__file__).resolve().parents[2]
SIGMAHQ = ROOT.parent / "shared" / "corpus" / "sigmahq"
DAY = "2021-03-03"
EXCHANGE = "C/Program Files/Microsoft/Exchange Server/V15/Logging"


def _gen_logs() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_logs_for_tests", ROOT / "bench" / "gen_logs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _literals(content_spec: ContentSpec, kind: ArtifactKind = ArtifactKind.IIS
              ) -> list[tuple[frozenset[str] | None, str]]:
    """Every (fields, literal) of the scoped requirements of a fresh host's detectors, for ``kind``."""
    bundle = compiled_content(content_spec)
    found: set[tuple[frozenset[str] | None, str]] = set()
    for detector in create_detectors(bundle, {}):
        interest = detector.interest(kind)
        for requirement in (interest.scoped or ()) if interest is not None else ():
            for term in requirement:
                found.update((term.fields, literal) for literal in term.literals)
    return sorted(found, key=lambda item: (sorted(item[0] or ()), item[1]))


def _placed(rng: random.Random, base: str, literals: list[tuple[frozenset[str] | None, str]]) -> str:
    """``base`` (an IIS line of the default fields) with one to three of the literals put into columns: the
    ones they are scoped to or any other (spaces written as '+', as IIS does)."""
    values = base.split(" ")
    for _ in range(rng.randrange(1, 4)):
        fields, literal = rng.choice(literals)
        text = literal.replace(" ", "+") or "x"
        names = [n.lower() for n in IIS_FIELDS]
        if fields and rng.random() < 0.6:
            targets = [names.index(f) for f in fields if f in names]
            column = rng.choice(targets) if targets else rng.randrange(2, len(values))
        else:
            column = rng.randrange(2, len(values))
        old = values[column]
        values[column] = rng.choice((text, old + text, text + old, "/" + text, old.upper() + text.upper()))
    return " ".join(values)


def _odd(rng: random.Random, line: str) -> str:
    """An odd form of a data line."""
    values = line.split(" ")
    form = rng.randrange(9)
    if form == 0:
        return line + " extra-column"
    if form == 1:
        return " ".join(values[: rng.randrange(len(values) // 2 + 1, len(values))])  # missing columns
    if form == 2:
        return "  ".join(values)  # runs of spaces
    if form == 3:
        return " " + line  # a leading space
    if form == 4:
        return line.upper()
    if form == 5:
        values[4] = values[4].replace("/", "+/", 1)
        return " ".join(values)
    if form == 6:
        return " ".join("-" if i in (4, 5, 10) else v for i, v in enumerate(values))
    if form == 7:
        return "\x00\x00" + line  # NULs around the line (read without them)
    return line + " " + " ".join(values[2:])  # far too many columns (skipped as garbled)


def _lines(rng: random.Random, literals: list[tuple[frozenset[str] | None, str]]) -> list[str]:
    gen_logs = _gen_logs()
    lines = [gen_logs.iis_near_miss(rng, DAY).join((f"{DAY} 00:00:{n % 60:02d} ", "")) for n in range(400)]
    lines += [attack.format(d=DAY, t=f"01:00:{n:02d}") for n, attack in enumerate(IIS_ATTACKS)]
    lines += [iis_line(rng, DAY, n) for n in range(300)]
    for log in sorted(ROOT.glob("examples/*/C/inetpub/logs/LogFiles/*/u_ex*.log")):
        lines += [line for line in log.read_text(encoding="utf-8").splitlines() if line and line[0] != "#"]
    placed = [_placed(rng, rng.choice(lines), literals) for _ in range(1500)]
    lines += placed
    lines += [_odd(rng, rng.choice(lines)) for _ in range(600)]
    return lines


def _write_host(root: Path, lines: list[str]) -> None:
    folder = root / "C/inetpub/logs/LogFiles/W3SVC1"
    folder.mkdir(parents=True)
    header = f"#Software: Microsoft Internet Information Services 10.0\n#Date: {DAY} 00:00:00\n"
    half = len(lines) // 2
    (folder / "u_ex210303.log").write_bytes(
        (header + f"#Fields: {' '.join(IIS_FIELDS)}\n" + "\n".join(lines[:half]) + "\n").encode())
    # the same lines under a header whose names are in other case, and a restart with the columns in
    # another order (the lines rewritten to it)
    upper = " ".join(n.upper() if n.startswith("cs-") else n for n in IIS_FIELDS)
    order = [*range(0, 3), 5, 4, 3, *range(6, len(IIS_FIELDS))]
    moved = []
    for line in lines[half:]:
        values = line.split(" ")
        moved.append(" ".join(values[i] for i in order if i < len(values)) if len(values) == len(IIS_FIELDS)
                     else line)
    text = (header + f"#Fields: {upper}\n" + "\n".join(lines[half:]) + "\n" + header
            + f"#Fields: {' '.join(IIS_FIELDS[i] for i in order)}\n" + "\n".join(moved) + "\n")
    (folder / "u_ex210304.log").write_bytes(text.encode())


def _kept(records: list[Record], keep: object) -> list[tuple[int | None, str]]:
    assert callable(keep)
    return [(r.line, r.raw) for r in records if keep(r)]


def _proxy_lines(rng: random.Random, literals: list[tuple[frozenset[str] | None, str]]) -> list[str]:
    """HttpProxy lines: ordinary, near-miss and attack rows, rows with the literals put into fields (the
    ones they are scoped to or any other, CSV-quoted when they hold a quote or comma), and odd forms."""
    gen_logs = _gen_logs()
    names = [n.lower() for n in HTTPPROXY_FIELDS]
    rows: list[dict[str, str]] = []
    for n in range(600):
        values = httpproxy_values(rng, DAY, n, rng.choice(PROTOCOLS))
        if n % 3 == 0:
            values.update(rng.choice(HTTPPROXY_ATTACK_CHANGES))
        rows.append(values)
    lines = [f"{DAY}T00:00:0{n % 10}.000Z," + gen_logs.httpproxy_near_miss(rng, DAY, rng.choice(("Owa", "Ecp")))
             for n in range(300)]
    lines += [httpproxy_line(values) for values in rows]
    for _ in range(1500):
        values = dict(rng.choice(rows))
        for _ in range(rng.randrange(1, 4)):
            fields, literal = rng.choice(literals)
            targets = [HTTPPROXY_FIELDS[names.index(f)] for f in fields or () if f in names]
            field = rng.choice(targets) if targets and rng.random() < 0.6 else rng.choice(HTTPPROXY_FIELDS[1:])
            values[field] = rng.choice((literal, values[field] + literal, literal + ',"x"', literal.upper()))
        lines.append(httpproxy_line(values))
    for _ in range(500):
        fields_of = rng.choice(lines).split(",")
        form = rng.randrange(4)
        if form == 0:
            fields_of.append("extra")
        elif form == 1:
            if len(fields_of) > 40:  # a row an earlier odd form already cut keeps its length
                del fields_of[rng.randrange(40, len(fields_of)):]
        elif form == 2:
            fields_of = [f'"{f}"' if '"' not in f else f for f in fields_of]
        else:
            fields_of = [f.upper() for f in fields_of]
        lines.append(",".join(fields_of))
    return lines


def _check(tmp_path: Path, content_spec: ContentSpec, seed: int, kind: ArtifactKind = ArtifactKind.IIS) -> None:
    rng = random.Random(seed)
    literals = _literals(content_spec, kind)
    assert literals, f"the detectors state scoped requirements for {kind.value}"
    if kind is ArtifactKind.IIS:
        _write_host(tmp_path / "host", _lines(rng, literals))
    else:
        folder = tmp_path / "host" / EXCHANGE / "HttpProxy" / "Owa"
        folder.mkdir(parents=True)
        lines = _proxy_lines(rng, literals)
        header = exchange_header("HttpProxy Logs", HTTPPROXY_FIELDS, DAY)
        for number in range(2):
            part = lines[number::2]
            (folder / f"HttpProxy_2021030300-{number + 1}.LOG").write_bytes(
                (header + "\r\n".join(part) + "\r\n").encode())
    tree = open_evidence(tmp_path / "host")[0]
    layout = classify(tree, None)
    ctx = HostContext(host=tree.name, tree=tree, artifacts=layout.artifacts, coverage=HostCoverage(),
                      digests=Digests(layout.artifacts.listing), options={})
    detectors = create_detectors(compiled_content(content_spec), {})
    for detector in detectors:
        detector.start(ctx)
    interests = [i for d in detectors if (i := d.interest(kind)) is not None]
    gated = _prefilter_spec(interests, columns=True)
    plain = _prefilter_spec(interests)
    assert gated.scoped and not plain.scoped
    built = gated.build()
    assert built is not None and built.columns is not None, "the column gate is in use"
    keep = _record_filter(interests)
    turned_away = used = placed_away = 0
    artifacts = [a for a in layout.artifacts if a.kind is kind]
    assert len(artifacts) == 2
    for artifact in artifacts:
        reports = []
        results = []
        for spec, parser in ((plain, W3CParser()), (gated, W3CParser(place=False)), (gated, W3CParser())):
            report = ParseReport(path=artifact.path)
            results.append(list(parse_all(parser, tree, artifact, report, spec)))
            reports.append(dataclasses.replace(report, warnings=[(w.code, w.line, w.message) for w in report.warnings]))
        kept = _kept(results[1], keep)
        assert kept == _kept(results[0], keep)
        assert reports[1] == reports[0]
        # the gate placed in the scan (IIS, ``positions.py``): the same records kept and lines counted; the
        # candidate lines it passes over are no longer examined, so their warnings and times are not seen
        assert _kept(results[2], keep) == kept
        assert (reports[2].records, reports[2].bytes_read, reports[2].failed) == \
            (reports[0].records, reports[0].bytes_read, reports[0].failed)
        assert len(results[2]) <= len(results[1])
        turned_away += len(results[0]) - len(results[1])
        placed_away += len(results[0]) - len(results[2])
        used += len(kept)
    assert turned_away > 100, "the gate turns candidate lines away"
    assert used > 50, "lines a detector uses are among them"
    if kind is ArtifactKind.IIS:
        assert placed_away > 100, "the placed scan turns candidate lines away"


def test_gate_keeps_what_the_shipped_rules_use(tmp_path: Path) -> None:
    _check(tmp_path, ContentSpec(), seed=1)


def test_gate_keeps_what_the_shipped_rules_use_in_httpproxy_logs(tmp_path: Path) -> None:
    """Exchange's CSV logs: the terms are checked on the unquoted values."""
    _check(tmp_path, ContentSpec(), seed=3, kind=ArtifactKind.HTTPPROXY)


def test_gate_keeps_what_sigmahq_web_server_rules_use(tmp_path: Path) -> None:
    if not SIGMAHQ.is_dir():
        pytest.skip(f"SigmaHQ checkout not found at {SIGMAHQ} (the shared corpus)")
    rules = sorted(str(p) for p in SIGMAHQ.rglob("*.yml") if "category: webserver" in p.read_text(encoding="utf-8"))
    assert len(rules) > 20
    # a rule that needs every line (no literal: a regex alone) leaves no prefilter, so no gate: left out
    index = compiled_content(ContentSpec(sigma_paths=tuple(rules))).parts["sigma"].index
    every_line = {Path(rule.file).name for rule in index.by_kind.get(ArtifactKind.IIS, []) if rule.literals is None}
    _check(tmp_path, ContentSpec(sigma_paths=tuple(r for r in rules if Path(r).name not in every_line)), seed=2)


def test_requirement_without_a_literal_makes_no_gate() -> None:
    """A requirement whose every term is too short to scan always holds: no line could be turned away."""
    stem = frozenset({"cs-uri-stem"})
    assert ColumnGate.build(((Term(stem, frozenset({"/ecp/"})),), (Term(stem, frozenset({"2"})),))) is None
    assert ColumnGate.build(((Term(stem, frozenset({"/ecp/"})),),)) is not None


def test_exclusion_only_where_its_field_is_one_column() -> None:
    stem = frozenset({"cs-uri-stem"})
    gate = ColumnGate(((Term(stem, frozenset({"/owa/auth/"})), Term(stem, frozenset({"/owa/auth/logon.aspx"}),
                                                                       exclude="eq")),))
    gate.by_pattern = [(0,)]
    once = gate.plan(("date", "cs-uri-stem"))
    twice = gate.plan(("date", "cs-uri-stem", "CS-URI-STEM"))
    data = b"2021-03-03 /owa/auth/logon.aspx"
    assert not gate.accept(once, [0], ["2021-03-03", "/owa/auth/logon.aspx"], data)
    assert gate.accept(once, [0], ["2021-03-03", "/owa/auth/x.aspx"], data)
    assert gate.accept(twice, [0], ["2021-03-03", "/owa/auth/logon.aspx", "/owa/auth/logon.aspx"], data)


def test_spec_without_scoped_requirements_builds_the_former_prefilter() -> None:
    spec = PrefilterSpec("literals", ("/ecp/",), ((frozenset({"/ecp/"}),),))
    built = spec.build()
    assert built is not None and built.columns is None


def test_prefix_exclusion() -> None:
    stem = frozenset({"urlstem"})
    gate = ColumnGate(((Term(stem, frozenset({"/ecp/"})), Term(stem, frozenset({"/ecp/healthcheck.htm", "/ecp/auth/"}),
                                                               exclude="prefix")),))
    gate.by_pattern = [(0,)]
    plan = gate.plan(("DateTime", "UrlStem"))
    data = b"x"
    assert not gate.accept(plan, {0}, ["2021-03-03", "/ECP/HealthCheck.htm"], data)
    assert not gate.accept(plan, {0}, ["2021-03-03", "/ecp/auth/x.js"], data)
    assert gate.accept(plan, {0}, ["2021-03-03", "/ecp/y.js"], data)


def test_implied_needs_occurrences_apart() -> None:
    """A conjunction's pattern needs an occurrence per group, apart: a requirement whose groups' literals may
    overlap (or share one) does not count as implying it."""
    from exhunt.parsers.conjunctions import _implied, _overlap

    assert _overlap(b"/aspnet_client/", b"/discover.aspx") and _overlap(b"post", b"ost/") and _overlap(b"ab", b"xaby")
    assert not _overlap(b"post", b"/ecp/")
    conj = [[frozenset({b"post"}), frozenset({b"/ecp/", b"/owa/auth/"})]]
    index = {b"post": {0}, b"/ecp/": {0}, b"/owa/auth/": {0}}
    assert _implied([frozenset({b"post"}), frozenset({b"/ecp/"}), frozenset({b".js"})], conj, index) == [0]
    assert _implied([frozenset({b"/ecp/"}), frozenset({b".js"})], conj, index) is None  # no group covers 'post'
    shared = [[frozenset({b"abc"}), frozenset({b"abc", b"xyz"})]]
    assert _implied([frozenset({b"abc"})], shared, {b"abc": {0}, b"xyz": {0}}) is None  # one 'abc' is not two
    # one conjunction per literal of an anchor group: '/a.aspx' or '/b.aspx', each alone a conjunction
    singles = [[frozenset({b"/a.aspx"})], [frozenset({b"/b.aspx"})]]
    assert _implied([frozenset({b"/a.aspx", b"/b.aspx"}), frozenset({b"/aspnet_client/"})], singles,
                    {b"/a.aspx": {0}, b"/b.aspx": {1}}) == [0, 1]


def test_what_the_gate_keeps_is_bounded() -> None:
    """Odd data (endless layouts, long or endless distinct values) cannot grow what the gate keeps."""
    from exhunt.parsers import columns

    stem = frozenset({"cs-uri-stem"})
    gate = ColumnGate(((Term(stem, frozenset({"/ecp/"})), Term(frozenset({"cs-method"}), frozenset({"post"}))),))
    gate.by_pattern = [(0,)]
    for number in range(3 * columns.MAX_PLANS):
        plan = gate.plan(("cs-method", "cs-uri-stem", f"x-{number}"))
    assert len(gate._plans) <= columns.MAX_PLANS
    for number in range(3 * columns.MAX_KEPT):
        assert gate.accept(plan, {0}, ["POST", f"/ecp/{number}", "x"], b"x")
    assert gate.accept(plan, {0}, ["POST", "/ecp/" + "a" * 10_000, "x"], b"x")
    assert all(len(kept) <= columns.MAX_KEPT for kept in plan.kept.values())
    assert len(plan.answers) <= columns.MAX_KEPT
    assert all(len(value) <= columns.MAX_KEPT_VALUE for kept in plan.kept.values() for value in kept)


NAMES = ("date", "time", "cs-method", "cs-uri-stem", "cs(Referer)")
REFERER_ONLY = b"2021-03-04 00:00:00 GET /owa/x.aspx https://h/ecp/"  # '/ecp/' in the referer only


def _accepts(spec: PrefilterSpec, line: bytes) -> bool:
    built = spec.build()
    assert built is not None and built.columns is not None
    gate = built.columns
    hits = set(built.marks(line + b"\n").idents)
    return gate.accept(gate.plan(NAMES), hits, line.decode().split(" "), line)


STEM_ECP = (Term(frozenset({"cs-uri-stem"}), frozenset({"/ecp/"})),)


@pytest.mark.parametrize(("literals", "keywords"), [
    (("/ecp/", "evilword"), ("/ecp/", "evilword")),  # it implies the scan's own '/ecp/' pattern
    (("/ecp/", "abcd", "bcde"), ("abcd", "bcde")),  # its literals may overlap: checked on every candidate line
])
def test_a_requirement_is_not_proven_by_a_pattern_that_is_not_its_own(literals: tuple[str, ...],
                                                                      keywords: tuple[str, ...]) -> None:
    """Found in review: a field-less requirement was taken as proven by any scan pattern it was mapped to,
    though such a pattern matches where it does not hold, and the gate then let every candidate through."""
    requirements = ((frozenset({"/ecp/"}),), tuple(frozenset({k}) for k in keywords))
    spec = PrefilterSpec("literals", literals, requirements,
                         (STEM_ECP, tuple(Term(None, frozenset({k})) for k in keywords)))
    assert not _accepts(spec, REFERER_ONLY)  # neither requirement holds on this line
    assert _accepts(spec, b"2021-03-04 00:00:00 GET /ecp/x.aspx -")  # the stem's does
    assert _accepts(spec, REFERER_ONLY + b"+" + "+".join(keywords).encode())  # and so does the keywords'
