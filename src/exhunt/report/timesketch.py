"""Timesketch JSONL timeline: the CSV timeline's rows as JSON objects (Timesketch's JSONL import)."""

from __future__ import annotations

from typing import TextIO

import orjson

from exhunt.model.result import HostResult
from exhunt.report.base import Reporter
from exhunt.report.timeline import rows


class TimesketchJsonlReporter(Reporter):
    name = "timesketch"
    description = "Timesketch JSONL timeline: one object per piece of evidence, in time order"

    def write(self, results: list[HostResult], out: TextIO) -> None:
        for row in rows(results, self.settings.tlp_label):
            data = {k: v for k, v in row.items() if v is not None}
            out.write(orjson.dumps(data, option=orjson.OPT_SORT_KEYS).decode() + "\n")
