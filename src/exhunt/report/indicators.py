"""Shareable indicators drawn from findings: what partners can look for in their own networks."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from exhunt.model.finding import Finding, Outcome

# Internal addresses are not shared as indicators (documentation ranges are: examples use them).
INTERNAL = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16", "100.64.0.0/10",
    "0.0.0.0/8", "::1/128", "fc00::/7", "fe80::/10"))


@dataclass(frozen=True, slots=True, order=True)
class SharedIndicator:
    kind: str  # ipv4, ipv6, sha256, file-name, file-path, user-agent
    value: str
    rule_id: str
    host: str
    first_seen: str | None


def _ip_kind(value: str) -> str | None:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if any(address.version == net.version and address in net for net in INTERNAL):
        return None
    return "ipv4" if address.version == 4 else "ipv6"


def indicators_of(finding: Finding) -> list[SharedIndicator]:
    """Indicators a finding yields; attempts share their source addresses, files their hashes and names."""
    found: set[SharedIndicator] = set()
    if finding.outcome is Outcome.INFORMATIONAL:
        return []

    def add(kind: str, value: str) -> None:
        found.add(SharedIndicator(kind, value, finding.rule_id, finding.host, finding.first_seen))

    for value in finding.attr_values("client_ip"):
        kind = _ip_kind(value.strip())
        if kind:
            add(kind, value.strip())
    for value in finding.attr_values("user_agent"):
        if value and value != "-":
            add("user-agent", value)
    if finding.detector in ("files", "yara"):
        for ref in finding.evidence:
            if ref.sha256:
                add("sha256", ref.sha256)
        for value in finding.attr_values("file_name"):
            add("file-name", value)
    if finding.detector == "fs":  # a file the $MFT or the USN journal remember: its name (its bytes are gone)
        for value in finding.attr_values("file_name"):
            add("file-name", value)
    for value in finding.attr_values("written_path"):
        add("file-path", value)
    return sorted(found)
