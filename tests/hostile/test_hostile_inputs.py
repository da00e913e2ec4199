"""Hostile and damaged evidence (#14), made at test time: no case may end the run with exit 4; the damaged
file is named in coverage with what was lost; the healthy part's findings are kept."""

from __future__ import annotations

import os
import stat
import struct
import sys
import time
import zipfile
from pathlib import Path

import pytest

from exhunt.sources.directory import DirectoryTree
from exhunt.sources.registry import open_evidence
from exhunt.sources.ziparchive import ZipTree
from hostilefixtures import (
    ATTACK_STEM,
    IIS_LOG,
    PROXY_LOG,
    findings,
    hosts,
    iis_text,
    jsonl,
    make_host,
    proxy_text,
    scan,
    warnings,
    zip_folder,
)

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX file names and FIFOs")


def _rules(lines: list[dict[str, object]], host: str) -> set[str]:
    return {str(f["rule_id"]) for f in findings(lines, host)}


# --- 1. one bad name or line never stops everything -------------------------------------------------------

@posix_only
@pytest.mark.parametrize("fmt", ["jsonl", "html", "console", "csv"])
def test_a_file_name_that_is_not_utf8_is_shown_escaped_in_every_format(tmp_path: Path, fmt: str) -> None:
    host = make_host(tmp_path / "ex01")
    folder = os.fsencode(host / "C/inetpub/wwwroot/aspnet_client")
    os.makedirs(folder, exist_ok=True)
    try:
        with open(os.path.join(folder, b"a\xff\xfe.aspx"), "wb") as out:
            out.write(b'<%@ Page Language="C#" %><% Response.Write("x"); %>')
    except OSError as exc:  # a file system that refuses such names cannot hold this evidence
        pytest.skip(f"file system refuses non-UTF-8 names: {exc}")
    out = tmp_path / f"out.{fmt}"
    assert scan(host, "-f", fmt, "-o", out) == 1
    text = out.read_text(encoding="utf-8")
    assert "a\\xff\\xfe.aspx" in text.replace("\\\\", "\\")
    if fmt == "jsonl":
        lines = jsonl(out)
        assert warnings(hosts(lines)["ex01"], "name-encoding")
        assert "EXH-PL-26855-SSRF" in _rules(lines, "ex01")


@posix_only
def test_the_escaped_name_is_still_read_through_the_tree(tmp_path: Path) -> None:
    (tmp_path / "C").mkdir()
    with open(os.path.join(os.fsencode(tmp_path / "C"), b"x\xff.log"), "wb") as out:
        out.write(b"payload")
    tree = DirectoryTree(tmp_path)
    [entry] = list(tree.walk())
    assert entry.path == "C/x\\xff.log"
    with tree.open(entry.path) as handle:
        assert handle.read() == b"payload"


def test_a_quote_and_a_bare_cr_inside_an_httpproxy_field(tmp_path: Path) -> None:
    bad = ",".join(["2021-03-03T00:00:09.000Z", "r1", "15", "2", "792", "3", "", "Ecp", "mail",
                    '/ecp/a"b', "x\ry"] + [""] * 60)
    host = make_host(tmp_path / "ex01", {PROXY_LOG: proxy_text(extra=bad).encode()})
    out = tmp_path / "out.jsonl"
    assert scan(host, "-f", "jsonl", "-o", out) == 1
    lines = jsonl(out)
    assert "EXH-PL-26855-SSRF" in _rules(lines, "ex01")  # the lines after it were read


def test_a_fault_in_one_host_is_that_hosts_could_not_assess(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from exhunt.fleet import local

    real = local.assess_host

    def failing(tree, *args, **kwargs):  # type: ignore[no-untyped-def]
        if tree.name == "ex02":
            raise RuntimeError("injected fault")
        return real(tree, *args, **kwargs)

    monkeypatch.setattr(local, "assess_host", failing)
    first, second = make_host(tmp_path / "ex01"), make_host(tmp_path / "ex02")
    out = tmp_path / "out.jsonl"
    assert scan(first, second, "-f", "jsonl", "-o", out) == 1
    found = hosts(jsonl(out))
    assert found["ex02"]["verdict"] == "could not assess"
    assert "injected fault" in warnings(found["ex02"], "internal-error")[0]["message"]
    assert found["ex01"]["verdict"] == "compromised"


# --- damaged zips: exit 3 for that one, the healthy evidence of the same run reported ---------------------

def _healthy_and(tmp_path: Path, bad: Path) -> tuple[int, dict[str, dict[str, object]]]:
    healthy = make_host(tmp_path / "healthy")
    out = tmp_path / "out.jsonl"
    code = scan(bad, healthy, "-f", "jsonl", "-o", out)
    return code, hosts(jsonl(out))


def test_a_zip_with_a_damaged_central_directory(tmp_path: Path) -> None:
    archive = zip_folder(make_host(tmp_path / "src"), tmp_path / "bad.zip")
    data = bytearray(archive.read_bytes())
    central = data.rfind(b"PK\x01\x02")
    data[central:central + 4] = b"XX\x01\x02"
    archive.write_bytes(bytes(data))
    code, found = _healthy_and(tmp_path, archive)
    assert code == 1 and found["healthy"]["verdict"] == "compromised"
    assert found["bad"]["verdict"] == "could not assess"
    assert "damaged zip" in str(found["bad"]["coverage"]["warnings"])  # type: ignore[index]
    assert scan(archive) == 3


def test_a_zip_member_flagged_utf8_that_is_not(tmp_path: Path) -> None:
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("C/inetpub/logs/LogFiles/W3SVC1/u_ex210303.log", iis_text())
        out.writestr("C/abc.txt", "x")
    data = bytearray(archive.read_bytes())
    for header in (b"PK\x03\x04", b"PK\x01\x02"):  # make 'abc' invalid UTF-8 and flag it as UTF-8
        at = data.rfind(header)
        flags_at = at + (6 if header == b"PK\x03\x04" else 8)
        flags = struct.unpack_from("<H", data, flags_at)[0] | 0x800
        struct.pack_into("<H", data, flags_at, flags)
        name_at = data.find(b"C/abc.txt", at)
        data[name_at + 2] = 0xFF
    archive.write_bytes(bytes(data))
    code, found = _healthy_and(tmp_path, archive)
    assert code == 1 and found["healthy"]["verdict"] == "compromised"
    assert found["bad"]["verdict"] == "could not assess"


def test_a_zip_with_its_end_record_cut_is_a_damaged_zip(tmp_path: Path) -> None:
    archive = zip_folder(make_host(tmp_path / "src"), tmp_path / "cut.zip")
    data = archive.read_bytes()
    archive.write_bytes(data[: data.rfind(b"PK\x05\x06")])
    code, found = _healthy_and(tmp_path, archive)
    assert code == 1 and found["cut"]["verdict"] == "could not assess"
    assert "damaged zip" in str(found["cut"]["coverage"]["warnings"])  # type: ignore[index]


# --- archives ------------------------------------------------------------------------------------------------

def test_duplicate_member_names_are_all_read(tmp_path: Path) -> None:
    archive = tmp_path / "dup.zip"
    quiet = iis_text().split("\r\n")
    quiet = "\r\n".join(line for line in quiet if ATTACK_STEM not in line and "/owa/auth/x.js" not in line)
    with zipfile.ZipFile(archive, "w") as out, pytest.warns(UserWarning):
        out.writestr(IIS_LOG, iis_text())  # the attack log first ...
        out.writestr(IIS_LOG, quiet)  # ... then a quiet copy of the same name (the last used to win)
    tree = ZipTree(archive)
    assert len(list(tree.walk())) == 2
    assert [w.code for w in tree.warnings] == ["duplicate-member"]
    out = tmp_path / "out.jsonl"
    assert scan(archive, "-f", "jsonl", "-o", out) == 1
    assert "EXH-PL-26855-IIS-POST" in _rules(jsonl(out), "dup")


def test_the_whole_archive_expansion_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from exhunt.sources import ziparchive

    monkeypatch.setattr(ziparchive, "MIN_TOTAL_BUDGET", 1 << 20)
    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:  # small members, each far below 1 MiB
        for n in range(300):
            out.writestr(f"C/Temp/f{n:03d}.txt", b"A" * 200_000)
    tree = ZipTree(archive)
    bombs = [w for w in tree.warnings if w.code == "zip-bomb"]
    assert len(bombs) == 1 and "member(s) refused" in bombs[0].message
    read = sum(entry.size for entry in tree.walk())
    assert read <= max(1 << 20, 100 * archive.stat().st_size)


def test_a_zip_of_host_zips_is_opened_one_level_deep(tmp_path: Path) -> None:
    first = zip_folder(make_host(tmp_path / "src1"), tmp_path / "ex01.zip")
    second = zip_folder(make_host(tmp_path / "src2"), tmp_path / "ex02.zip")
    outer = tmp_path / "outer.zip"
    with zipfile.ZipFile(outer, "w") as out:
        out.write(first, "ex01.zip")
        out.write(second, "triage/ex02.zip")
    out_file = tmp_path / "out.jsonl"
    assert scan(outer, "-f", "jsonl", "-o", out_file) == 1
    found = hosts(jsonl(out_file))
    assert sorted(found) == ["ex01", "ex02"]
    assert all(h["verdict"] == "compromised" for h in found.values())
    assert found["ex01"]["evidence"].endswith("outer.zip!ex01.zip")
    assert warnings(found["ex01"], "nested-archive")

    deeper = tmp_path / "deeper.zip"  # a zip of a zip of host zips: the second level is not opened
    with zipfile.ZipFile(deeper, "w") as out:
        out.write(outer, "outer.zip")
    assert scan(deeper, "-f", "jsonl", "-o", out_file) == 3
    [host] = hosts(jsonl(out_file)).values()
    assert "not opened" in str(warnings(host, "nested-archive"))


def test_unsafe_member_names_and_single_member_bombs_are_refused(tmp_path: Path) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("../../etc/evil.log", "x")
        out.writestr("C/Temp/bomb.txt", b"\x00" * (8 << 20))
        out.writestr(IIS_LOG, iis_text())
    tree = ZipTree(archive)
    assert {w.code for w in tree.warnings} == {"unsafe-name", "zip-bomb"}
    assert [e.path for e in tree.walk()] == [IIS_LOG]


# --- special files --------------------------------------------------------------------------------------------

@posix_only
def test_a_fifo_or_a_device_given_as_evidence_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    started = time.monotonic()
    assert scan(fifo) == 2
    if Path("/dev/zero").exists():
        assert scan(Path("/dev/zero")) == 2
    assert time.monotonic() - started < 30  # no read: a FIFO would hang, /dev/zero would never end


@posix_only
def test_a_fifo_inside_a_host_is_reported_not_read(tmp_path: Path) -> None:
    host = make_host(tmp_path / "ex01")
    os.mkfifo(host / "C/inetpub/logs/LogFiles/W3SVC1/u_ex210304.log")
    out = tmp_path / "out.jsonl"
    assert scan(host, "-f", "jsonl", "-o", out) == 1
    [special] = warnings(hosts(jsonl(out))["ex01"], "special-file")
    assert special["path"].endswith("u_ex210304.log") and "FIFO" in special["message"]


@posix_only
def test_a_fifo_where_a_file_was_listed_does_not_hang(tmp_path: Path) -> None:
    host = make_host(tmp_path / "ex01")
    tree = DirectoryTree(host)
    list(tree.walk())
    log = host / IIS_LOG
    log.unlink()
    os.mkfifo(log)
    with pytest.raises(OSError, match="not a regular file"):
        tree.open(IIS_LOG)


@posix_only
def test_a_fifo_in_place_of_a_cache_entry_does_not_hang(tmp_path: Path) -> None:
    from exhunt.content.cache import ContentCache

    cache = ContentCache(tmp_path, "sigma")
    cache.directory.mkdir(parents=True)
    os.chmod(cache.directory, 0o700)
    os.mkfifo(cache.directory / "k.pickle", 0o600)
    assert cache.load("k") is None


@posix_only
def test_link_warnings_are_given_once(tmp_path: Path) -> None:
    host = make_host(tmp_path / "ex01")
    (host / "C/link").symlink_to("/etc")
    out = tmp_path / "out.jsonl"
    assert scan(host, "-f", "jsonl", "-o", out) == 1
    assert len(warnings(hosts(jsonl(out))["ex01"], "link")) == 1


def test_a_link_out_of_the_tree_is_not_followed(tmp_path: Path) -> None:
    host = make_host(tmp_path / "ex01")
    secret = tmp_path / "secret.log"
    secret.write_text("outside")
    (host / "C/inetpub/out.log").symlink_to(secret)
    trees = open_evidence(host)
    assert all(not e.path.endswith("out.log") for e in trees[0].walk())


# --- unwritable outputs are usage errors found before the scan -------------------------------------------------

@posix_only
@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_output_or_store_is_exit_2_before_the_scan(tmp_path: Path) -> None:
    host = make_host(tmp_path / "ex01")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        assert scan(host, "-o", locked / "out.jsonl") == 2
        assert scan(host, "--store", locked / "case.duckdb") == 2
    finally:
        locked.chmod(0o700)


def test_an_output_in_a_missing_folder_or_a_folder_is_exit_2(tmp_path: Path) -> None:
    host = make_host(tmp_path / "ex01")
    assert scan(host, "-o", tmp_path / "nowhere" / "out.jsonl") == 2
    assert scan(host, "-o", tmp_path) == 2
    (tmp_path / "not-a-store.duckdb").write_text("plain text")
    assert scan(host, "--store", tmp_path / "not-a-store.duckdb") == 2
    assert scan(host, "--resume") == 2  # --resume needs a store


@posix_only
def test_an_output_that_is_not_a_regular_file_is_written_to_not_replaced(tmp_path: Path) -> None:
    """``-o /dev/null`` or a pipe: written to as it is (the report is otherwise written to FILE.partial and
    renamed, which must never replace a device or a pipe)."""
    import threading

    host = make_host(tmp_path / "ex01")
    pipe = tmp_path / "report.pipe"
    os.mkfifo(pipe)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(pipe.read_bytes()))
    reader.start()
    assert scan(host, "-f", "jsonl", "-o", pipe) == 1
    reader.join(timeout=60)
    assert stat.S_ISFIFO(pipe.lstat().st_mode) and not (tmp_path / "report.pipe.partial").exists()
    assert b'"type":"host"' in got[0]
