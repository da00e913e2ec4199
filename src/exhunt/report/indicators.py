"""Shareable indicators drawn from findings: what partners can look for in their own networks.

Other organisations act on these at scale, so only values that point at the intruder are shared:

- addresses outside private, loopback and link-local ranges (documentation ranges are shared: the examples
  use them);
- SHA-256 hashes of the files a file, YARA or IOC finding is *about* (the web shell, the dump, the archive), never
  of the log files that merely cite an attack (those hashes are evidence integrity, kept in every report's
  evidence references, not indicators);
- user agents, except those of ordinary browsers (a stock Firefox or Chrome string would match everyone's
  users);
- files, as a name with the directory it was found in or written to, never a whole path in the name.

``to_ids`` (fit for automatic detection) depends on the kind alone, so a value gets the same answer in every
event, host and format: addresses, hashes and non-browser user agents yes; file names and directories no (they
are for hunting, a name like ``lsass.dmp`` would alert on every admin's dump).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from exhunt.model.finding import EvidenceRef, Finding, Outcome
from exhunt.report.times import plausible

# Internal addresses are not shared as indicators (documentation ranges are: examples use them).
INTERNAL = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16", "100.64.0.0/10",
    "0.0.0.0/8", "::1/128", "fc00::/7", "fe80::/10"))
FILE_DETECTORS = ("files", "yara", "ioc")  # detectors whose findings may be about a file on disk
# Outcomes whose findings yield indicators: anything else (informational context, and any grade a later
# version adds, such as known-benign) shares nothing until it is listed here.
SHARED_OUTCOMES = frozenset({Outcome.ATTEMPTED, Outcome.SUCCEEDED, Outcome.SUSPICIOUS, Outcome.CONFIRMED})
TO_IDS = {"ipv4": True, "ipv6": True, "sha256": True, "user-agent": True, "file": False}

# What follows "Mozilla/5.0 (platform)" in an ordinary browser's user agent: nothing else.
_BROWSER_TOKEN = re.compile(
    r"(?:Gecko/\S+|Firefox/\S+|AppleWebKit/\S+|\(KHTML, like Gecko\)|Chrome/\S+|CriOS/\S+|FxiOS/\S+|Safari/\S+"
    r"|Version/\S+|Mobile(?:/\S+)?|Edg(?:A|iOS|e)?/\S+|OPR/\S+|like Gecko|Trident/\S+)")
_BROWSER_HEAD = re.compile(r"Mozilla/5\.0 \((?:Windows NT|Macintosh|X11|Linux|iPhone|iPad|Android)[^()]*\)")
_MSIE = re.compile(r"Mozilla/[45]\.0 \(compatible; MSIE \d+\.\d+; Windows NT [\d.]+(?:; [^()]*)?\)")


@dataclass(frozen=True, slots=True, order=True)
class SharedIndicator:
    kind: str  # ipv4, ipv6, sha256, file, user-agent
    value: str  # for a file: its name only
    directory: str  # for a file: where it was found or written ("" when unknown); "" for other kinds
    rule_id: str
    host: str
    first_seen: str | None

    @property
    def to_ids(self) -> bool:
        return TO_IDS[self.kind]

    @property
    def full_path(self) -> str:
        if not self.directory:
            return self.value
        sep = "/" if "/" in self.directory and "\\" not in self.directory else "\\"
        return self.directory.rstrip(sep) + sep + self.value


def ip_kind(value: str) -> str | None:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if any(address.version == net.version and address in net for net in INTERNAL):
        return None
    return "ipv4" if address.version == 4 else "ipv6"


def is_browser_agent(value: str) -> bool:
    """An ordinary browser's user agent (IIS writes spaces as '+'): too common to be an indicator."""
    text = value.replace("+", " ").strip()
    if _MSIE.fullmatch(text):
        return True
    head = _BROWSER_HEAD.match(text)
    if not head:
        return False
    rest = _BROWSER_TOKEN.sub("", text[head.end():])
    return rest.strip() == ""


def split_path(path: str) -> tuple[str, str]:
    """(directory, name) of a Windows or '/' path, the directory in the path's own form."""
    cut = max(path.rfind("\\"), path.rfind("/"))
    if cut < 0:
        return "", path
    return path[:cut], path[cut + 1:]


def windows_directory(relative: str) -> str:
    """An evidence-relative file's directory as the server wrote it: ``C/inetpub/x/a.aspx`` -> ``C:\\inetpub\\x``."""
    directory, _ = split_path(relative)
    parts = directory.split("/")
    if parts and len(parts[0]) == 1 and parts[0].isalpha():
        return parts[0].upper() + ":\\" + "\\".join(parts[1:])
    return directory


def subject_files(finding: Finding) -> list[EvidenceRef]:
    """The evidence references that are the file a file/YARA finding is about (not log lines citing it)."""
    if finding.detector not in FILE_DETECTORS:
        return []
    named = set(finding.attr_values("path"))
    return [ref for ref in finding.evidence
            if ref.line is None and ref.record is None and (not named or ref.path in named)]


def _points_at_intruder(finding: Finding) -> bool:
    """Known-benign and context findings share nothing; a weak one (a user agent, an address, a crawler
    look-alike) only when it corroborates a compromise or an attempt (docs/verdicts.md)."""
    if finding.evidence_class in ("known-benign", "context"):
        return False
    return finding.evidence_class != "weak" or bool(finding.attr_values("corroborates"))


def indicators_of(finding: Finding) -> list[SharedIndicator]:
    """Indicators a finding yields; attempts share their source addresses, files their hashes and names."""
    found: set[SharedIndicator] = set()
    if finding.outcome not in SHARED_OUTCOMES or not _points_at_intruder(finding):
        return []
    when = plausible(finding.first_seen)

    def add(kind: str, value: str, directory: str = "") -> None:
        if value:
            found.add(SharedIndicator(kind, value, directory, finding.rule_id, finding.host, when))

    for value in finding.attr_values("client_ip"):
        kind = ip_kind(value.strip())
        if kind:
            add(kind, value.strip())
    for value in finding.attr_values("user_agent"):
        if value and value != "-" and not is_browser_agent(value):
            add("user-agent", value)
    for ref in subject_files(finding):
        if ref.sha256:
            add("sha256", ref.sha256.lower())
        _, name = split_path(ref.path)
        add("file", name, windows_directory(ref.path))
    if finding.detector == "fs":  # a file the $MFT or the USN journal remember: name and folder (its bytes are gone)
        for value in finding.attr_values("path"):
            _, name = split_path(value)
            add("file", name, windows_directory(value))
    for value in finding.attr_values("written_path"):
        directory, name = split_path(value.strip())
        add("file", name, directory)
    return sorted(found)
