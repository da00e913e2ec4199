"""Exchange OABGenerator logs, read as text lines.

OABGenerator logs are free text lines such as
``2021-03-03T04:08:49.781Z,0x1A2C,OABGen,...,Download failed and temporary file 'C:\\...' is removed``.
Each data line becomes a record with ``Line`` (the whole line) and ``DateTime`` when the line starts with
an ISO 8601 timestamp. ``#`` header lines are kept as directives, not records.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from exhunt.model.event import Record
from exhunt.model.evidence import Artifact, ArtifactKind
from exhunt.parsers.base import Parser, ParseReport, Prefilter
from exhunt.parsers.textblocks import LineReader
from exhunt.parsers.textfile import HEAD_SIZE, DirectiveLog, LineDecoder, check_head, needs_transcoding, open_text
from exhunt.sources.base import HostTree

_STAMP = re.compile(r"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d(?:\.\d{1,7})?)(?:Z|[+-]00:?00)?(?=[,\s]|\Z)")


def line_time(text: str) -> str | None:
    """The ISO 8601 UTC timestamp a line starts with, if any."""
    found = _STAMP.match(text)
    return f"{found.group(1)}T{found.group(2)}Z" if found else None


class OabParser(Parser):
    name = "oab"
    kinds = frozenset({ArtifactKind.OABGENERATOR})
    parallel = True

    def parse(self, tree: HostTree, artifact: Artifact, report: ParseReport,
              prefilter: Prefilter | None = None) -> Iterator[Record]:
        head = check_head(lambda: tree.read_head(artifact.path, HEAD_SIZE), report)
        if head is None:
            return
        decoder = LineDecoder(report)
        directives = DirectiveLog(report)
        attrs = dict(artifact.attrs)
        undated = 0
        first_undated: tuple[int, int] | None = None
        try:
            with open_text(tree, artifact.path, head, report) as handle:
                for line in LineReader(report, prefilter).lines(
                        handle, None if needs_transcoding(head) else artifact.size):
                    text = decoder.decode(line)
                    if line.directive:
                        directives.note(line.number, text)
                        continue
                    stamp = line_time(text)
                    if stamp is None:
                        undated += 1
                        first_undated = first_undated or (line.number, line.offset)
                    else:
                        report.see_time(stamp, line.number, line.offset)
                    if not line.candidate:
                        continue
                    fields: dict[str, object] = {"Line": text}
                    if stamp is not None:
                        fields["DateTime"] = stamp
                    yield Record(kind=artifact.kind, path=artifact.path, fields=fields, raw=text,
                                 line=line.number, offset=line.offset, timestamp=stamp, attrs=dict(attrs))
        except OSError as exc:
            report.failed = report.bytes_read == 0
            report.warn(f"read error: {exc}", code="unreadable", offset=report.bytes_read)
        finally:
            if undated and first_undated is not None and prefilter is None:
                report.warn(f"{undated} line(s) do not start with a timestamp (continuation lines?); "
                            f"first at line {first_undated[0]}", code="no-time", line=first_undated[0],
                            offset=first_undated[1])
            decoder.finish()
            directives.finish()
