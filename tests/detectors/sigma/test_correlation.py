"""Sigma correlation rules over one host's events (synthetic Security events)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from exhunt.detectors.base import HostContext
from exhunt.detectors.sigma.detector import SigmaDetector
from exhunt.detectors.sigma.family import SigmaContent
from exhunt.model.event import Record
from exhunt.model.evidence import ArtifactKind
from exhunt.model.finding import Finding

MakeCtx = Callable[[dict[str, bytes]], HostContext]

BASE = """\
title: Failed logon
id: 11111111-1111-4111-8111-111111111111
name: failed_logon
logsource: {product: windows, service: security}
detection:
  sel:
    EventID: 4625
  condition: sel
level: low
---
title: Successful logon
id: 22222222-2222-4222-8222-222222222222
name: good_logon
logsource: {product: windows, service: security}
detection:
  sel:
    EventID: 4624
  condition: sel
level: low
"""

BRUTE = """\
title: Many failed logons from one address
id: 33333333-3333-4333-8333-333333333333
correlation:
  type: event_count
  rules: [failed_logon]
  group-by: [IpAddress]
  timespan: 5m
  condition: {gte: 3}
level: high
tags: [attack.t1110]
"""

SPRAY = """\
title: One address tries many accounts
id: 44444444-4444-4444-8444-444444444444
correlation:
  type: value_count
  rules: [failed_logon]
  group-by: [IpAddress]
  timespan: 10m
  condition: {gte: 3, field: TargetUserName}
level: high
"""

THEN_SUCCESS = """\
title: Failed then successful logon
id: 55555555-5555-4555-8555-555555555555
correlation:
  type: temporal_ordered
  rules: [failed_logon, good_logon]
  group-by: [TargetUserName]
  timespan: 1m
  generate: true
level: medium
"""


def event(n: int, eid: int, ip: str, user: str, minute: int, second: int = 0) -> Record:
    fields = {"EventID": eid, "Channel": "Security", "IpAddress": ip, "TargetUserName": user}
    return Record(ArtifactKind.EVTX, "Windows/System32/winevt/Logs/Security.evtx", fields,
                  raw=f"<Event {eid} {ip} {user}>", record=n, timestamp=f"2021-03-03T01:{minute:02d}:{second:02d}Z")


def findings(tmp_path: Path, correlation: str, records: list[Record], make_ctx: MakeCtx) -> list[Finding]:
    (tmp_path / "base.yml").write_text(BASE, encoding="utf-8")
    (tmp_path / "corr.yml").write_text(correlation, encoding="utf-8")
    content = SigmaContent([(str(tmp_path), None)])
    assert content.result.errors == [] and content.result.unsupported == []
    ctx = make_ctx({"Windows/System32/winevt/Logs/Security.evtx": b"x"})
    detector = SigmaDetector(content)
    for record in records:
        detector.on_record(record, ctx)
    return detector.finish(ctx)


def test_event_count_by_group_within_timespan(tmp_path: Path, make_ctx: MakeCtx) -> None:
    records = [event(1, 4625, "192.0.2.1", "a", 0), event(2, 4625, "192.0.2.1", "b", 3),
               event(3, 4625, "192.0.2.2", "a", 1), event(4, 4625, "192.0.2.2", "a", 2),
               event(5, 4625, "192.0.2.1", "c", 20),  # too late for the first two
               event(6, 4625, "192.0.2.1", "c", 4)]  # arrives out of order, inside the window
    (f,) = findings(tmp_path, BRUTE, records, make_ctx)  # base rules are generate: false -> only the correlation
    assert f.rule_id == "33333333-3333-4333-8333-333333333333" and f.attack == ("T1110",)
    assert f.attr_values("group") == ["IpAddress=192.0.2.1"]
    assert [e.record for e in f.evidence] == [1, 2, 6] and f.evidence_total == 3
    assert f.first_seen == "2021-03-03T01:00:00Z" and f.last_seen == "2021-03-03T01:04:00Z"


def test_event_count_below_threshold_is_quiet(tmp_path: Path, make_ctx: MakeCtx) -> None:
    records = [event(1, 4625, "192.0.2.1", "a", 0), event(2, 4625, "192.0.2.1", "b", 9)]
    assert findings(tmp_path, BRUTE, records, make_ctx) == []


def test_value_count_distinct_values(tmp_path: Path, make_ctx: MakeCtx) -> None:
    same_user = [event(i, 4625, "192.0.2.9", "alice", i) for i in range(5)]
    assert findings(tmp_path, SPRAY, same_user, make_ctx) == []
    spray = [event(i, 4625, "192.0.2.9", f"user{i}", i) for i in range(3)]
    (f,) = findings(tmp_path, SPRAY, spray, make_ctx)
    assert f.attr_values("group") == ["IpAddress=192.0.2.9"]


def test_temporal_ordered_and_generate(tmp_path: Path, make_ctx: MakeCtx) -> None:
    wrong_order = [event(1, 4624, "192.0.2.1", "bob", 0, 0), event(2, 4625, "192.0.2.1", "bob", 0, 30)]
    got = findings(tmp_path, THEN_SUCCESS, wrong_order, make_ctx)
    assert {f.rule_id for f in got} == {"11111111-1111-4111-8111-111111111111",
                                        "22222222-2222-4222-8222-222222222222"}  # generate: true
    right = [event(1, 4625, "192.0.2.1", "bob", 0, 0), event(2, 4624, "192.0.2.1", "BOB", 0, 30)]
    got = findings(tmp_path, THEN_SUCCESS, right, make_ctx)
    (corr,) = [f for f in got if f.rule_id.startswith("5555")]
    assert corr.attr_values("group") == ["TargetUserName=bob"] and corr.evidence_total == 2


def test_unsupported_correlation_is_reported(tmp_path: Path, make_ctx: MakeCtx) -> None:
    (tmp_path / "base.yml").write_text(BASE, encoding="utf-8")
    (tmp_path / "corr.yml").write_text(BRUTE.replace("event_count", "value_sum").replace(
        "{gte: 3}", "{gte: 3, field: X}"), encoding="utf-8")
    content = SigmaContent([(str(tmp_path), None)])
    (problem,) = content.result.unsupported
    assert problem.file == "corr.yml" and problem.code == "correlation" and "value_sum" in problem.message


def test_state_is_bounded_and_drops_are_shown(tmp_path: Path, make_ctx: MakeCtx,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from exhunt.detectors.sigma import correlation

    monkeypatch.setattr(correlation, "MAX_GROUP_EVENTS", 5)
    monkeypatch.setattr(correlation, "MAX_GROUPS", 2)
    records = [event(i, 4625, "192.0.2.1", "a", 0, i) for i in range(8)]  # 3 oldest of the group dropped
    records += [event(100 + i, 4625, f"198.51.100.{i}", "a", 1) for i in range(3)]  # 2 groups too many
    (f,) = findings(tmp_path, BRUTE, records, make_ctx)
    assert f.attr_values("events_dropped") == ["5"]  # 3 old entries + 2 events of groups over the limit
    assert [e.record for e in f.evidence] == [3, 4, 5, 6, 7]  # the newest five of the busy group
