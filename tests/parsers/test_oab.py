"""OabParser: OABGenerator logs as text lines. Fixtures are SYNTHETIC (see logfixtures.py)."""

from __future__ import annotations

import random

import pytest

from exhunt.detectors.files.samples import MemoryTree
from exhunt.model.event import Record
from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.parsers.base import ParseReport, Prefilter
from exhunt.parsers.oab import OabParser, line_time
from exhunt.parsers.prefilter import build_prefilter
from logfixtures import OAB_ATTACK, OAB_BENIGN, oab_line

PATH = "C/Program Files/Microsoft/Exchange Server/V15/Logging/OABGeneratorLog/OABGenerator20210303-1.LOG"
DAY = "2021-03-03"


def oab_log(count: int = 2000, attack_at: int = 1234, seed: int = 5) -> bytes:
    rng = random.Random(seed)
    out = ["#Software: Microsoft Exchange Server\r\n#Version: 15.02.0792.003\r\n#Log-type: OABGenerator Log\r\n"]
    for index in range(count):
        message = OAB_ATTACK if index == attack_at else rng.choice(OAB_BENIGN)
        out.append(oab_line(rng, DAY, index * 30, message) + "\r\n")
        if index == 40:
            out.append("   at Microsoft.Exchange.OABMaintenance.OABGenerator.Run() continuation line\r\n")
    return "".join(out).encode()


def parse(data: bytes, prefilter: Prefilter | None = None) -> tuple[list[Record], ParseReport]:
    report = ParseReport(PATH)
    artifact = Artifact(ArtifactKind.OABGENERATOR, PATH, len(data))
    return list(OabParser().parse(MemoryTree({PATH: data}), artifact, report, prefilter)), report


def test_lines_become_records_with_datetime() -> None:
    data = oab_log()
    records, report = parse(data)
    assert len(records) == 2001 == report.records
    attack = [r for r in records if "Download failed and temporary file" in r.get("Line")]
    assert len(attack) == 1 and attack[0].line == 1 + 3 + 1234 + 1
    assert attack[0].get("DateTime") == attack[0].timestamp and str(attack[0].timestamp).startswith(f"{DAY}T10:17:00.")
    continuation = records[41]
    assert "DateTime" not in continuation.fields and continuation.timestamp is None
    assert [(w.code, w.line) for w in report.warnings] == [("no-time", 45)]
    assert ("Version", "15.02.0792.003") in [(n, v) for _, n, v in report.directives]
    for record in records:
        assert record.offset is not None and data[record.offset:].startswith(record.raw.encode())
        assert record.raw == record.get("Line") and not record.raw.endswith("\r")


def test_prefilter_yields_only_matching_lines_and_keeps_coverage() -> None:
    data = oab_log()
    full, full_report = parse(data)
    some, report = parse(data, build_prefilter(["Download failed and temporary file", ".aspx"]))
    assert [r.line for r in some] == [r.line for r in full if ".aspx" in r.raw.lower()]
    assert len(some) == 1 and report.records == full_report.records
    assert (report.first_time, report.last_time) == (full_report.first_time, full_report.last_time)


@pytest.mark.parametrize(("text", "stamp"), [
    ("2021-03-03T04:08:49.781Z,0x1A2C,OABGen,x", "2021-03-03T04:08:49.781Z"),
    ("2021-03-03T04:08:49Z something", "2021-03-03T04:08:49Z"),
    ("2021-03-03 04:08:49.781,x", "2021-03-03T04:08:49.781Z"),
    ("2021-03-03T04:08:49.781+01:00,x", None),
    ("   at Foo.Bar()", None),
])
def test_line_time(text: str, stamp: str | None) -> None:
    assert line_time(text) == stamp


@pytest.mark.parametrize(("content", "code"), [(b"", "empty"), (b"\x00\x01\x02binary" * 100, "binary")])
def test_not_a_text_log(content: bytes, code: str) -> None:
    records, report = parse(content)
    assert records == [] and report.not_understood and [w.code for w in report.warnings] == [code]


def test_invalid_utf8_and_long_lines() -> None:
    data = oab_log(count=10) + b"2021-03-03T23:00:00.000Z,0x1,OABGen,caf\xe9\r\n" + b"x" * (2 << 20) + b"\r\n"
    records, report = parse(data)
    assert records[-1].get("Line").endswith("caf\ufffd")
    assert sorted(w.code for w in report.warnings) == ["decode", "too-long"]
    assert report.records == 12
