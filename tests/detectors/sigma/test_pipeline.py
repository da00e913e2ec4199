"""Field-mapping pipelines (rules/pipelines/*.yaml): routing by logsource, channel and event id, renamed
and derived fields (synthetic records shaped like the parsers' output)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from exhunt.detectors.base import HostContext
from exhunt.detectors.sigma.detector import SigmaDetector
from exhunt.detectors.sigma.family import SigmaContent
from exhunt.detectors.sigma.pipeline import PipelineError, Pipelines, load_pipeline_file, load_pipelines
from exhunt.detectors.sigma.view import EventView
from exhunt.model.event import Record
from exhunt.model.evidence import ArtifactKind

SYSMON = "Microsoft-Windows-Sysmon/Operational"


def rules(tmp_path: Path, *docs: str) -> SigmaContent:
    for i, doc in enumerate(docs):
        (tmp_path / f"r{i}.yml").write_text(doc, encoding="utf-8")
    content = SigmaContent([(str(tmp_path), None)])
    assert content.result.errors == [] and content.result.unsupported == []
    return content


def fired(content: SigmaContent, kind: ArtifactKind, fields: dict[str, Any], raw: str = "") -> list[str]:
    record = Record(kind, "x", fields, raw=raw)
    bucket = content.index.bucket(record)
    if bucket is None:
        return []
    view = EventView(fields, bucket.derived)
    return [e.rule.title for e in bucket.candidates(view, raw)
            if (e.guard is None or e.guard(view)) and e.rule.matcher(view)]


PROC = """\
title: cmd from w3wp
logsource: {product: windows, category: process_creation}
detection:
  sel:
    ParentImage|endswith: '\\w3wp.exe'
    Image|endswith: '\\cmd.exe'
  condition: sel
"""


def test_process_creation_reads_sysmon_1_and_security_4688(tmp_path: Path) -> None:
    content = rules(tmp_path, PROC)
    sysmon = {"EventID": 1, "Channel": SYSMON, "Image": "C:\\Windows\\System32\\cmd.exe",
              "ParentImage": "c:\\windows\\system32\\inetsrv\\w3wp.exe"}
    assert fired(content, ArtifactKind.EVTX, sysmon) == ["cmd from w3wp"]
    assert fired(content, ArtifactKind.JSON_EVENTS, sysmon) == ["cmd from w3wp"]
    security = {"EventID": 4688, "Channel": "Security", "NewProcessName": "C:\\Windows\\System32\\cmd.exe",
                "ParentProcessName": "C:\\Windows\\System32\\inetsrv\\w3wp.exe"}
    assert fired(content, ArtifactKind.EVTX, security) == ["cmd from w3wp"]
    assert fired(content, ArtifactKind.EVTX, {**sysmon, "EventID": 3}) == []  # network connection
    assert fired(content, ArtifactKind.EVTX, {**sysmon, "Channel": "Application"}) == []
    assert fired(content, ArtifactKind.IIS, sysmon) == []


def test_channel_from_record_attribute_when_fields_lack_it(tmp_path: Path) -> None:
    content = rules(tmp_path, PROC)
    fields = {"EventID": 1, "Image": "C:\\x\\cmd.exe", "ParentImage": "C:\\x\\w3wp.exe"}
    record = Record(ArtifactKind.EVTX, "x", fields, attrs={"channel": SYSMON})
    assert content.index.bucket(record) is not None


def test_registry_add_needs_create_key(tmp_path: Path) -> None:
    content = rules(tmp_path, """\
title: run key created
logsource: {product: windows, category: registry_add}
detection:
  sel:
    TargetObject|contains: '\\CurrentVersion\\Run'
  condition: sel
""")
    base = {"EventID": 12, "Channel": SYSMON, "TargetObject": "HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\Run"}
    assert fired(content, ArtifactKind.EVTX, {**base, "EventType": "CreateKey"}) == ["run key created"]
    assert fired(content, ArtifactKind.EVTX, {**base, "EventType": "DeleteKey"}) == []


WEB = """\
title: webserver rule on the whole URL
logsource: {category: webserver}
detection:
  sel:
    cs-uri-query|contains: 'logon.aspx?replaceCurrent=1'
    cs-user-agent|contains: 'python-requests'
  condition: sel
"""
IIS_OWN = """\
title: iis rule on the query column
logsource: {product: iis}
detection:
  sel:
    cs-uri-query|startswith: 'replaceCurrent=1'
  condition: sel
"""


def test_webserver_rules_see_stem_and_query_joined_iis_rules_see_columns(tmp_path: Path) -> None:
    content = rules(tmp_path, WEB, IIS_OWN)
    fields = {"cs-method": "GET", "cs-uri-stem": "/owa/auth/logon.aspx", "cs-uri-query": "replaceCurrent=1",
              "cs(User-Agent)": "python-requests/2.25.1", "sc-status": "200"}
    raw = "2021-03-03 01:00:00 GET /owa/auth/logon.aspx replaceCurrent=1 443 - 192.0.2.1 python-requests/2.25.1 200"
    assert sorted(fired(content, ArtifactKind.IIS, fields, raw)) == ["iis rule on the query column",
                                                                    "webserver rule on the whole URL"]
    no_query = {**fields, "cs-uri-query": ""}
    assert fired(content, ArtifactKind.IIS, no_query) == []


def test_shipped_pipelines_load_and_map_every_exchange_log() -> None:
    pipes = load_pipelines()
    for service in ("httpproxy", "ecp_server", "ecp_activity", "rps_http", "rps_cmdlet", "oabgenerator"):
        entry = pipes.resolve({"product": "exchange", "service": service})
        assert entry is not None and entry.kinds == (ArtifactKind(service),)
    webserver = pipes.resolve({"category": "webserver"})
    assert webserver is not None and webserver.fields["cs-uri-query"] == ("@url",)
    assert pipes.resolve({"product": "linux", "category": "process_creation"}) is None


def test_bad_pipeline_names_file_and_entry(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nlogsources:\n  - logsource: {product: x}\n    kinds: [no_such_kind]\n")
    with pytest.raises(PipelineError, match=r"bad.yaml: logsources\[1\]"):
        load_pipeline_file(bad, Pipelines())


def test_json_exports_are_scanned_by_value_whatever_their_escaping(
        tmp_path: Path, make_ctx: Callable[[dict[str, bytes]], HostContext]) -> None:
    content = rules(tmp_path, PROC.replace("w3wp.exe", "w3wp.exe'\n    CommandLine|contains: 'http://x/a"))
    fields = {"EventID": 1, "Channel": SYSMON, "Image": "C:\\x\\cmd.exe", "ParentImage": "C:\\x\\w3wp.exe",
              "CommandLine": "cmd /c curl http://x/a"}
    raw = '{"CommandLine": "cmd \\/c curl http:\\/\\/x\\/a"}'  # a writer that escapes '/'
    detector = SigmaDetector(content)
    ctx = make_ctx({"x": b""})
    detector.on_record(Record(ArtifactKind.JSON_EVENTS, "x", fields, raw=raw, record=1), ctx)
    assert [f.title for f in detector.finish(ctx)] == ["cmd from w3wp"]


def test_a_rule_read_by_two_kinds_gets_each_kinds_derived_fields(tmp_path: Path) -> None:
    """One logsource mapped to two kinds of which only one has a derived field: the rules' bucket for each kind
    reads that kind's fields, whichever kind was routed first (they were shared by rule set alone)."""
    pipes = tmp_path / "pipes"
    pipes.mkdir()
    (pipes / "a.yaml").write_text("name: a\nderived:\n  '@both': {join: [x, y], sep: '-'}\n"
                                  "logsources:\n  - {logsource: {product: a}, kinds: [iis]}\n", encoding="utf-8")
    (pipes / "b.yaml").write_text("name: b\nlogsources:\n  - {logsource: {product: b}, kinds: [iis, httpproxy]}\n",
                                  encoding="utf-8")
    ruledir = tmp_path / "rules"
    ruledir.mkdir()
    (ruledir / "r.yml").write_text("title: joined\nlogsource: {product: b}\ndetection:\n"
                                   "  sel: {'@both': 'p-q'}\n  condition: sel\n", encoding="utf-8")
    fields = {"x": "p", "y": "q"}
    for first in (ArtifactKind.HTTPPROXY, ArtifactKind.IIS):
        content = SigmaContent([(str(ruledir), None)], pipelines_dir=str(pipes))
        assert content.result.errors == [] and content.pipeline_error is None
        order = [first, ArtifactKind.IIS if first is ArtifactKind.HTTPPROXY else ArtifactKind.HTTPPROXY]
        seen = {kind: fired(content, kind, fields, raw="p-q") for kind in order}
        assert seen == {ArtifactKind.IIS: ["joined"], ArtifactKind.HTTPPROXY: []}, first
