"""One indicator of compromise, normalised, with where it came from.

Types: ``md5``, ``sha1``, ``sha256`` (file hashes), ``filename`` (glob on the base name), ``path`` (glob on
the host-relative path, ``/`` separated), ``filename_regex``, ``path_regex``, ``ip``, ``cidr``, ``domain``
(matches the domain and its subdomains), ``url``, ``user_agent`` (``+`` and spaces are the same).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from enum import StrEnum


class IocType(StrEnum):
    MD5 = "md5"
    SHA1 = "sha1"
    SHA256 = "sha256"
    FILENAME = "filename"
    PATH = "path"
    FILENAME_REGEX = "filename_regex"
    PATH_REGEX = "path_regex"
    IP = "ip"
    CIDR = "cidr"
    DOMAIN = "domain"
    URL = "url"
    USER_AGENT = "user_agent"


HASH_TYPES = {IocType.MD5: 32, IocType.SHA1: 40, IocType.SHA256: 64}
FILE_TYPES = frozenset({IocType.FILENAME, IocType.PATH, IocType.FILENAME_REGEX, IocType.PATH_REGEX})

# Type names met in feeds (CSV columns, plain-list prefixes, pack files), squashed to [a-z0-9].
TYPE_ALIASES: dict[str, IocType] = {
    "md5": IocType.MD5, "filehashmd5": IocType.MD5, "hashmd5": IocType.MD5,
    "sha1": IocType.SHA1, "filehashsha1": IocType.SHA1, "hashsha1": IocType.SHA1,
    "sha256": IocType.SHA256, "filehashsha256": IocType.SHA256, "hashsha256": IocType.SHA256,
    "filename": IocType.FILENAME, "file": IocType.FILENAME, "name": IocType.FILENAME,
    "path": IocType.PATH, "filepath": IocType.PATH, "directory": IocType.PATH,
    "filenameregex": IocType.FILENAME_REGEX, "pathregex": IocType.PATH_REGEX,
    "ip": IocType.IP, "ipv4": IocType.IP, "ipv6": IocType.IP, "ipaddress": IocType.IP, "ipv4addr": IocType.IP,
    "ipv6addr": IocType.IP, "ipsrc": IocType.IP, "ipdst": IocType.IP, "address": IocType.IP,
    "cidr": IocType.CIDR, "network": IocType.CIDR, "subnet": IocType.CIDR, "iprange": IocType.CIDR,
    "domain": IocType.DOMAIN, "hostname": IocType.DOMAIN, "domainname": IocType.DOMAIN, "fqdn": IocType.DOMAIN,
    "url": IocType.URL, "uri": IocType.URL, "link": IocType.URL,
    "useragent": IocType.USER_AGENT, "ua": IocType.USER_AGENT, "httpuseragent": IocType.USER_AGENT,
}

_HEX = re.compile(r"^[0-9a-f]+$")
_DOMAIN = re.compile(r"^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{1,62}$")
_FILE_EXT = re.compile(r"\.(aspx|ashx|asmx|ascx|asax|asp|php|jsp|js|exe|dll|ps1|psm1|bat|cmd|vbs|hta|zip|7z|rar|"
                       r"dmp|tmp|txt|config|sys|msi|lnk|jar|war|py|sh|cs)$")


def parse_type(name: str) -> IocType | None:
    return TYPE_ALIASES.get(re.sub(r"[^a-z0-9]", "", name.lower()))


def refang(value: str) -> str:
    text = value.strip().replace("[.]", ".").replace("(.)", ".").replace("[:]", ":").replace("[://]", "://")
    return re.sub(r"^hxxp", "http", text, flags=re.IGNORECASE)


def windows_path_glob(value: str) -> str:
    """'C:\\inetpub\\x\\' -> '*/inetpub/x/*'; '%ProgramFiles%\\y' -> '*/y'; lowercase, '/' separated.

    Globs are matched against '/' + the host-relative path, so '*/inetpub/...' matches 'C/inetpub/...'.
    """
    text = re.sub(r"%[A-Za-z0-9_()]+%", "*", value.strip()).replace("\\", "/").lower()
    text = re.sub(r"^[a-z]:/", "*/", text)  # any drive, and evidence laid out without a drive folder
    text = re.sub(r"/{2,}", "/", text)
    if text.endswith("/"):
        text += "*"
    if not text.startswith("*"):
        text = "*/" + text.lstrip("/")
    return text


def infer_type(value: str) -> IocType | None:
    """Guess the type of an untyped value (plain lists, CSV without a type column)."""
    text = value.strip()
    low = text.lower()
    if _HEX.match(low):
        for kind, size in HASH_TYPES.items():
            if len(low) == size:
                return kind
    try:
        ipaddress.ip_address(text)
        return IocType.IP
    except ValueError:
        pass
    if "/" in text and not text.startswith("/"):
        try:
            ipaddress.ip_network(text, strict=False)
            return IocType.CIDR
        except ValueError:
            pass
    if "://" in text:
        return IocType.URL
    if "\\" in text or "/" in text:
        return IocType.PATH
    if _FILE_EXT.search(low):
        return IocType.FILENAME
    if _DOMAIN.match(low):
        return IocType.DOMAIN
    return None


def normalise(kind: IocType, value: str) -> str:
    """The canonical form matched against evidence. Raises ValueError for a value of the wrong shape."""
    text = refang(value) if kind in (IocType.IP, IocType.CIDR, IocType.DOMAIN, IocType.URL) else value.strip()
    if not text:
        raise ValueError("empty value")
    if kind in HASH_TYPES:
        low = text.lower()
        if not _HEX.match(low) or len(low) != HASH_TYPES[kind]:
            raise ValueError(f"not a {kind.value} hash")
        return low
    if kind == IocType.IP:
        return str(ipaddress.ip_address(text.split("%")[0]))
    if kind == IocType.CIDR:
        return str(ipaddress.ip_network(text, strict=False))
    if kind == IocType.DOMAIN:
        low = text.lower().rstrip(".")
        if not _DOMAIN.match(low):
            raise ValueError("not a domain name")
        return low
    if kind == IocType.URL:
        return text.lower()
    if kind == IocType.USER_AGENT:
        return " ".join(text.replace("+", " ").split()).lower()
    if kind == IocType.FILENAME:
        return text.replace("\\", "/").rsplit("/", 1)[-1].lower()
    if kind == IocType.PATH:
        return windows_path_glob(text)
    if kind in (IocType.FILENAME_REGEX, IocType.PATH_REGEX):
        re.compile(text)
        return text
    raise ValueError(f"unknown type {kind}")


@dataclass(frozen=True, slots=True)
class Indicator:
    type: IocType
    value: str  # normalised (see ``normalise``)
    source: str  # the publication or feed it came from
    description: str = ""
    ref: str = ""  # where in the feed: STIX id, MISP attribute uuid, file:line
    severity: str = ""  # informational .. critical; empty: the type's default
    attack: tuple[str, ...] = ()
    step: str = ""  # chain step for correlation (webshell-write, initial-access...)
    original: str = field(default="", compare=False)  # the value as written in the feed

    @property
    def key(self) -> tuple[str, str]:
        return (self.type.value, self.value)


def make(kind: IocType, value: str, source: str, description: str = "", ref: str = "", severity: str = "",
         attack: tuple[str, ...] = (), step: str = "") -> Indicator:
    """Build a normalised indicator. Raises ValueError when the value does not fit the type."""
    return Indicator(kind, normalise(kind, value), source, description.strip(), ref, severity, attack, step,
                     value.strip())
