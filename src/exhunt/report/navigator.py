"""An ATT&CK Navigator layer: techniques seen, scored by how many hosts show them.

Technique ids are checked against exhunt's table of the declared ATT&CK version: ids it does not hold (a newer
ATT&CK's, taken from a third-party Sigma rule) are left out of the layer and named in its description. Parents
of scored sub-techniques get ``showSubtechniques`` so the Navigator opens them.
"""

from __future__ import annotations

from typing import Any, TextIO

import orjson

from exhunt.model.result import HostResult
from exhunt.report.attack import ATTACK_DOMAIN, ATTACK_VERSION, split_known
from exhunt.report.base import Reporter
from exhunt.report.settings import ReportSettings

LAYER_VERSION = "4.5"
NAVIGATOR_VERSION = "5.1.0"


def build_layer(results: list[HostResult], settings: ReportSettings | None = None) -> dict[str, Any]:
    settings = settings or ReportSettings()
    hosts: dict[str, set[str]] = {}
    rules: dict[str, set[str]] = {}
    dropped: dict[str, set[str]] = {}
    for result in results:
        for finding in result.findings:
            known, unknown = split_known(finding.attack)
            for technique in known:
                hosts.setdefault(technique.id, set()).add(result.host)
                rules.setdefault(technique.id, set()).add(finding.rule_id)
            for tid in unknown:
                dropped.setdefault(tid, set()).add(finding.rule_id)
    top = max((len(h) for h in hosts.values()), default=1)
    parents = {tid.split(".")[0] for tid in hosts if "." in tid}
    techniques: list[dict[str, Any]] = [{
        "techniqueID": tid,
        "score": len(hosts[tid]),
        "comment": f"hosts: {', '.join(sorted(hosts[tid]))}; rules: {', '.join(sorted(rules[tid]))}",
        "enabled": True,
        "showSubtechniques": tid in parents,
    } for tid in sorted(hosts)]
    # a parent seen only through its sub-techniques: unscored, but opened to show them
    techniques.extend({"techniqueID": parent, "enabled": True, "showSubtechniques": True}
                      for parent in sorted(parents - set(hosts)))
    techniques.sort(key=lambda t: str(t["techniqueID"]))
    description = (f"{settings.tlp_label}. Techniques seen by exhunt across {len(results)} host(s); "
                   "score = hosts.")
    if dropped:
        description += (f" Not in ATT&CK {ATTACK_VERSION} (exhunt's table), left out: "
                        + "; ".join(f"{tid} ({', '.join(sorted(dropped[tid]))})" for tid in sorted(dropped)) + ".")
    return {
        "name": "exhunt findings",
        "versions": {"layer": LAYER_VERSION, "navigator": NAVIGATOR_VERSION, "attack": ATTACK_VERSION},
        "domain": ATTACK_DOMAIN,
        "description": description,
        "sorting": 3,
        "techniques": techniques,
        "gradient": {"colors": ["#ffe766", "#ff6666"], "minValue": 0, "maxValue": top},
        "hideDisabled": False,
        "metadata": [{"name": "tlp", "value": settings.tlp_label}],
    }


class NavigatorReporter(Reporter):
    name = "navigator"
    description = "ATT&CK Navigator layer JSON: techniques seen, scored by number of hosts"

    def write(self, results: list[HostResult], out: TextIO) -> None:
        layer = build_layer(results, self.settings)
        out.write(orjson.dumps(layer, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode())
        out.write("\n")
