"""An ATT&CK Navigator layer: techniques seen, scored by how many hosts show them."""

from __future__ import annotations

from typing import Any, TextIO

import orjson

from exhunt.model.result import HostResult
from exhunt.report.base import Reporter


def build_layer(results: list[HostResult]) -> dict[str, Any]:
    hosts: dict[str, set[str]] = {}
    rules: dict[str, set[str]] = {}
    for result in results:
        for finding in result.findings:
            for technique in finding.attack:
                hosts.setdefault(technique, set()).add(result.host)
                rules.setdefault(technique, set()).add(finding.rule_id)
    top = max((len(h) for h in hosts.values()), default=1)
    techniques = [{
        "techniqueID": technique,
        "score": len(hosts[technique]),
        "comment": f"hosts: {', '.join(sorted(hosts[technique]))}; rules: {', '.join(sorted(rules[technique]))}",
        "enabled": True,
    } for technique in sorted(hosts)]
    return {
        "name": "exhunt findings",
        "versions": {"layer": "4.5", "navigator": "5.1.0", "attack": "16"},
        "domain": "enterprise-attack",
        "description": f"Techniques seen by exhunt across {len(results)} host(s); score = hosts.",
        "sorting": 3,
        "techniques": techniques,
        "gradient": {"colors": ["#ffe766", "#ff6666"], "minValue": 0, "maxValue": top},
        "hideDisabled": False,
    }


class NavigatorReporter(Reporter):
    name = "navigator"
    description = "ATT&CK Navigator layer JSON: techniques seen, scored by number of hosts"

    def write(self, results: list[HostResult], out: TextIO) -> None:
        out.write(orjson.dumps(build_layer(results), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode())
        out.write("\n")
