"""CSV timeline: one row per piece of evidence cited, in time order (evidence without a plausible time in rows
after the rest, ``timestamp_desc`` "Time unknown"); the timed rows import into Timesketch as they are."""

from __future__ import annotations

import csv
from typing import TextIO

from exhunt.model.result import HostResult
from exhunt.report.base import Reporter
from exhunt.report.timeline import COLUMNS, defuse, rows


class CsvTimelineReporter(Reporter):
    name = "csv"
    description = "CSV timeline (Timesketch columns): one row per piece of evidence, in time order"

    def write(self, results: list[HostResult], out: TextIO) -> None:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in rows(results, self.settings.tlp_label, untimed=True):
            writer.writerow([defuse("" if row[c] is None else str(row[c])) for c in COLUMNS])
