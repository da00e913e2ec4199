"""The parsers exhunt knows, by artifact kind. Written by hand: add a line per parser."""

from __future__ import annotations

from exhunt.model.evidence import ArtifactKind
from exhunt.parsers.base import Parser


def all_parsers() -> list[Parser]:
    parsers: list[Parser] = []
    # Each parser module is imported here explicitly (no import-scanning magic).
    from exhunt.parsers.w3c import W3CParser

    parsers.append(W3CParser())
    from exhunt.parsers.oab import OabParser

    parsers.append(OabParser())
    from exhunt.parsers.evtx import EvtxParser

    parsers.append(EvtxParser())
    from exhunt.parsers.jsonevents import JsonEventsParser

    parsers.append(JsonEventsParser())
    from exhunt.parsers.mft import MftParser
    from exhunt.parsers.usn import UsnParser

    parsers.extend([MftParser(), UsnParser()])
    return parsers


def parser_for(kind: ArtifactKind) -> Parser | None:
    for parser in all_parsers():
        if kind in parser.kinds:
            return parser
    return None
