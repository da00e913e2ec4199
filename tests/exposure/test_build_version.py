"""Build numbers from log directives and from ExSetup.exe's version resource."""

from __future__ import annotations

from pathlib import Path

import pytest

from exhunt.exposure.version import (
    Build,
    exsetup_build,
    normalise_build,
    observations_from_directives,
    parse_build,
)


@pytest.mark.parametrize(("text", "expected"), [
    ("15.02.0792.003", "15.2.792.3"),
    ("15.2.986.5", "15.2.986.5"),
    (" 15.01.2242.004 ", "15.1.2242.4"),
    ("1.0", None),  # IIS W3C '#Version: 1.0'
    ("16.0.1.1", None),
    ("15.2.986", None),
    ("", None),
])
def test_normalise(text: str, expected: str | None) -> None:
    assert normalise_build(text) == expected


def test_build_order() -> None:
    assert parse_build("15.2.986.5") < parse_build("15.2.986.14")  # type: ignore[operator]
    assert Build(15, 2, 922, 13) < Build(15, 2, 986, 5)


def test_observations_from_exchange_header() -> None:
    directives = [
        (1, "#Software", "Microsoft Exchange Server"),
        (2, "#Version", "15.02.0792.003"),
        (3, "#Log-type", "HttpProxy Logs"),
        (4, "#Date", "2021-03-03T00:00:01.234Z"),
        (5, "#Fields", "DateTime,RequestId"),
    ]
    obs = observations_from_directives("Logging/HttpProxy/Ecp/HttpProxy_2021030300-1.LOG", directives)
    assert len(obs) == 1
    assert obs[0].build == "15.2.792.3"
    assert obs[0].timestamp == "2021-03-03T00:00:01Z"
    assert obs[0].line == 2


def test_iis_version_is_not_a_build() -> None:
    directives = [(1, "#Software", "Microsoft Internet Information Services 10.0"), (2, "#Version", "1.0"),
                  (3, "#Date", "2021-03-03 00:00:01")]
    assert observations_from_directives("u_ex210303.log", directives) == []


def test_fallback_time_when_no_date() -> None:
    obs = observations_from_directives("x.LOG", [(2, "#Version", "15.01.2242.004")], "2021-04-01T10:00:00Z")
    assert obs[0].timestamp == "2021-04-01T10:00:00Z"


def _distlib_launcher() -> Path:
    try:
        from pip._vendor import distlib
    except ImportError:
        pytest.skip("pip's distlib launchers (a PE file with a version resource) are not installed")
    path = Path(distlib.__file__).parent / "w64.exe"
    if not path.exists():
        pytest.skip("distlib w64.exe launcher not present")
    return path


def test_exsetup_version_resource() -> None:
    # Synthetic: a real PE with a version resource, its VS_FIXEDFILEINFO rewritten to an Exchange build.
    data = bytearray(_distlib_launcher().read_bytes())
    at = data.find(b"\xbd\x04\xef\xfe")
    assert at > 0
    data[at + 8:at + 16] = ((15 << 16) | 2).to_bytes(4, "little") + ((986 << 16) | 5).to_bytes(4, "little")
    assert exsetup_build(bytes(data)) == ("15.2.986.5", "ok")


def test_exsetup_without_exchange_version() -> None:
    build, reason = exsetup_build(_distlib_launcher().read_bytes())
    assert build is None and "no Exchange version" in reason


@pytest.mark.parametrize("data", [b"", b"not a pe at all", b"MZ" + b"\x00" * 10])
def test_exsetup_bad_input(data: bytes) -> None:
    build, reason = exsetup_build(data)
    assert build is None and reason


def test_observations_from_reports_and_exsetup(tmp_path: Path) -> None:
    from exhunt.exposure import exsetup_observation, find_exsetup, observations_from_reports
    from exhunt.parsers.base import ParseReport
    from exhunt.sources.directory import DirectoryTree

    report = ParseReport("Logging/HttpProxy/Owa/HttpProxy_2022101100-1.LOG")
    report.directives = [(1, "#Software", "Microsoft Exchange Server"), (2, "#Version", "15.02.1118.015"),
                         (4, "#Date", "2022-10-12T00:00:00.000Z")]
    iis = ParseReport("inetpub/logs/LogFiles/W3SVC1/u_ex221012.log")
    iis.directives = [(2, "#Version", "1.0"), (3, "#Date", "2022-10-12 00:00:01")]
    (obs,) = observations_from_reports([report, iis])
    assert (obs.build, obs.timestamp) == ("15.2.1118.15", "2022-10-12T00:00:00Z")

    paths = ["C/Program Files/Microsoft/Exchange Server/V15/Bin/ExSetup.exe", "D/backup/bin/exsetup.exe",
             "C/Windows/notepad.exe"]
    assert find_exsetup(paths, "C/Program Files/Microsoft/Exchange Server/V15")[0] == paths[0]
    data = bytearray(_distlib_launcher().read_bytes())
    at = data.find(b"\xbd\x04\xef\xfe")
    data[at + 8:at + 16] = ((15 << 16) | 1).to_bytes(4, "little") + ((2242 << 16) | 4).to_bytes(4, "little")
    (tmp_path / "Bin").mkdir()
    (tmp_path / "Bin" / "ExSetup.exe").write_bytes(bytes(data))
    found, reason = exsetup_observation(DirectoryTree(tmp_path, "h"), "Bin/ExSetup.exe", "2021-03-20T10:00:00Z")
    assert reason == "ok" and found is not None
    assert (found.build, found.source, found.timestamp) == ("15.1.2242.4", "exsetup", "2021-03-20T10:00:00Z")
    missing, why = exsetup_observation(DirectoryTree(tmp_path, "h"), "Bin/nope.exe")
    assert missing is None and "cannot read" in why
