"""JSON lines: one object per finding, then one per host (verdict, coverage, exposure, timeline).

Schema (documented in docs/jsonl-schema.md): every line has ``"type"``: ``"finding"`` or ``"host"``.
"""

from __future__ import annotations

from typing import Any, TextIO

import orjson

from exhunt.model.result import HostResult
from exhunt.report.base import Reporter

SCHEMA_VERSION = 1


def dumps(obj: Any) -> str:
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS).decode("utf-8")


class JsonlReporter(Reporter):
    name = "jsonl"
    description = "one JSON object per line: findings, then a summary per host"

    def write(self, results: list[HostResult], out: TextIO) -> None:
        for result in results:
            for finding in result.findings:
                out.write(dumps({"type": "finding", "schema": SCHEMA_VERSION, **finding.to_dict()}) + "\n")
        for result in results:
            data = result.summary_dict()
            data["finding_count"] = len(result.findings)
            data["tlp"] = self.settings.tlp_label
            out.write(dumps({"type": "host", "schema": SCHEMA_VERSION, **data}) + "\n")
