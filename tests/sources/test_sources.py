"""Evidence sources: folders, zips (read in place, unsafe names refused), KAPE/Velociraptor, several hosts."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from exhunt.sources.base import EvidenceError
from exhunt.sources.registry import host_roots, open_evidence
from exhunt.sources.ziparchive import safe_member_name

HTTPPROXY = "Program Files/Microsoft/Exchange Server/V15/Logging/HttpProxy/Ecp/HttpProxy_2021030304-1.LOG"


def _write(root: Path, rel: str, data: bytes = b"x") -> None:
    target = root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def test_directory_host_lists_files_sorted_with_relative_paths(tmp_path: Path) -> None:
    _write(tmp_path, f"C/{HTTPPROXY}", b"#Fields: DateTime\n")
    _write(tmp_path, "C/inetpub/logs/LogFiles/W3SVC1/u_ex210303.log")
    [tree] = open_evidence(tmp_path)
    paths = [e.path for e in tree.walk()]
    assert paths == sorted(paths)
    assert f"C/{HTTPPROXY}" in paths
    with tree.open(f"C/{HTTPPROXY}") as handle:
        assert handle.read() == b"#Fields: DateTime\n"


def test_symlink_out_of_root_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    host = tmp_path / "host"
    _write(host, "C/Windows/win.ini")
    (host / "C" / "link.txt").symlink_to(outside)
    [tree] = open_evidence(host)
    assert "C/link.txt" not in [e.path for e in tree.walk()]
    assert any(w.code == "link" for w in tree.warnings)
    with pytest.raises(OSError):
        tree.open("C/link.txt")


def test_links_and_dot_names_never_lead_out_of_the_root(tmp_path: Path) -> None:
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "x.txt").write_text("secret")
    host = tmp_path / "host"
    _write(host, "C/Windows/win.ini")
    (host / "C" / "out").symlink_to(tmp_path / "outside")  # a folder link leading out
    (host / "C" / "Windows" / "in.ini").symlink_to(host / "C" / "Windows" / "win.ini")  # a link inside
    [tree] = open_evidence(host)
    for path in ("C/out/x.txt", "C/Windows/in.ini", "C/../../outside/x.txt", "C/Windows/.."):
        with pytest.raises(OSError):
            tree.open(path)
    assert tree.local_path("C/Windows/in.ini") == (host / "C" / "Windows" / "win.ini").resolve()
    with tree.open("C/Windows/win.ini") as handle:
        assert handle.read() == (host / "C" / "Windows" / "win.ini").read_bytes()


def test_folder_of_several_hosts(tmp_path: Path) -> None:
    for host in ("ex01", "ex02"):
        _write(tmp_path, f"{host}/C/{HTTPPROXY}")
    trees = open_evidence(tmp_path)
    assert [t.name for t in trees] == ["ex01", "ex02"]
    assert [e.path for e in trees[1].walk()] == [f"C/{HTTPPROXY}"]


def test_kape_layout_one_level_down(tmp_path: Path) -> None:
    _write(tmp_path, f"2021-03-05T101010_ex01/C/{HTTPPROXY}")
    assert host_roots([f"2021-03-05T101010_ex01/C/{HTTPPROXY}"]) == ["2021-03-05T101010_ex01"]
    [tree] = open_evidence(tmp_path)
    assert [e.path for e in tree.walk()] == [f"C/{HTTPPROXY}"]


def test_zip_read_in_place_and_unsafe_names_refused(tmp_path: Path) -> None:
    archive = tmp_path / "ex01.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(f"C/{HTTPPROXY}", "#Fields: DateTime\n")
        zf.writestr("../../evil.aspx", "<%eval%>")
        zf.writestr("/abs/path.txt", "x")
    [tree] = open_evidence(archive)
    assert [e.path for e in tree.walk()] == [f"C/{HTTPPROXY}"]
    assert sum(w.code == "unsafe-name" for w in tree.warnings) == 2
    with tree.open(f"C/{HTTPPROXY}") as handle:
        assert handle.read() == b"#Fields: DateTime\n"
    assert not (tmp_path.parent / "evil.aspx").exists()
    tree.close()


def test_velociraptor_collection_paths_are_mapped_to_drives(tmp_path: Path) -> None:
    archive = tmp_path / "Collection-EX01.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("uploads/auto/C%3A/Windows/System32/winevt/Logs/Application.evtx", b"ElfFile\x00")
        zf.writestr("uploads/auto/C%3A/Program Files/Microsoft/Exchange Server/V15/bin/ExSetup.exe", b"MZ")
        zf.writestr("client_info.json", "{}")
    [tree] = open_evidence(archive)
    assert [e.path for e in tree.walk()] == [
        "C/Program Files/Microsoft/Exchange Server/V15/bin/ExSetup.exe",
        "C/Windows/System32/winevt/Logs/Application.evtx",
    ]
    with tree.open("C/Windows/System32/winevt/Logs/Application.evtx") as handle:
        assert handle.read(7) == b"ElfFile"


def test_single_loose_file(tmp_path: Path) -> None:
    _write(tmp_path, "export.jsonl", b'{"EventID": 1}\n')
    [tree] = open_evidence(tmp_path / "export.jsonl")
    assert [e.path for e in tree.walk()] == ["export.jsonl"]


def test_missing_evidence_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(EvidenceError):
        open_evidence(tmp_path / "nope")


@pytest.mark.parametrize(("name", "expected"), [
    ("C/Windows/a.txt", "C/Windows/a.txt"),
    ("C\\Windows\\a.txt", "C/Windows/a.txt"),
    ("../a", None),
    ("C/../../a", None),
    ("/etc/passwd", None),
    ("C:/Windows/a", None),
    ("./C/./a", "C/a"),
])
def test_safe_member_name(name: str, expected: str | None) -> None:
    assert safe_member_name(name) == expected
