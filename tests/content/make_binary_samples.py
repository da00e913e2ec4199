"""Write the minimal synthetic binary samples of src/exhunt/rules/yara/samples (run once; output committed).

Layouts only: a minidump header and module-name strings, a PST magic and filler, an MZ stub with .NET-ish
names. None of this is a real dump, mailbox or program. Run: ``python tests/content/make_binary_samples.py``.
"""

from __future__ import annotations

import struct
from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[2] / "src" / "exhunt" / "rules" / "yara" / "samples"


def minidump(module: str) -> bytes:
    header = b"MDMP" + struct.pack("<HHIIIIQ", 0xA793, 0, 3, 32, 0, 0, 0x0000000000061826)
    body = bytearray(header.ljust(512, b"\0"))
    body += ("C:\\Windows\\System32\\" + module).encode("utf-16-le") + b"\0\0"
    body += "C:\\Windows\\System32\\ntdll.dll".encode("utf-16-le") + b"\0\0"
    return bytes(body.ljust(4096, b"\0"))


def pst() -> bytes:
    header = b"!BDN" + struct.pack("<I", 0x2D2BF6A1) + b"SM" + struct.pack("<HH", 23, 19)
    return (header.ljust(512, b"\0") + bytes(range(256)) * 8).ljust(8192, b"\0")


def assembly(strings: list[str], user_strings: list[str]) -> bytes:
    data = bytearray(b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0".ljust(128, b"\0"))
    data += b"PE\0\0".ljust(256, b"\0")
    data += b"\0".join(s.encode() for s in strings) + b"\0"
    data += b"\0".join(s.encode("utf-16-le") for s in user_strings)
    return bytes(data.ljust(4096, b"\0"))


def main() -> None:
    files = {
        "EXH-YARA-LSASS-DUMP/positive-lsass.dmp.sample": minidump("lsass.exe"),
        "EXH-YARA-LSASS-DUMP/positive-renamed.tmp.sample": minidump("lsass.exe"),
        "EXH-YARA-LSASS-DUMP/negative-w3wp.dmp.sample": minidump("w3wp.exe"),
        "EXH-YARA-PST-SCRIPT/positive-redirsuite.aspx.sample": pst(),
        "EXH-YARA-PST-SCRIPT/negative-archive.pst.sample": pst(),
        "EXH-YARA-COMPILED-CHOPPER/positive-App_Web_errorcheck.aspx.cdcab7d2.dll.sample": assembly(
            ["get_Request", "get_Item", "JScriptEvaluate", "Microsoft.JScript"], ["z9x", "unsafe"]),
        "EXH-YARA-COMPILED-CHOPPER/negative-App_Web_logon.aspx.cdcab7d2.dll.sample": assembly(
            ["get_Request", "get_Item", "get_Form", "System.Web.UI"], ["username", "password"]),
    }
    for name, data in files.items():
        path = SAMPLES / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


if __name__ == "__main__":
    main()
