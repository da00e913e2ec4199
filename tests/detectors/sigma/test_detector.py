"""The Sigma detector end to end: an ``exhunt:`` rule over HttpProxy records (synthetic records)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from exhunt.detectors.base import HostContext
from exhunt.detectors.sigma.detector import SigmaDetector
from exhunt.detectors.sigma.family import SigmaContent
from exhunt.model.event import Record
from exhunt.model.evidence import ArtifactKind
from exhunt.model.finding import Confidence, Finding, Outcome, Severity

MakeCtx = Callable[[dict[str, bytes]], HostContext]

RULE = """\
title: ProxyLogon SSRF through a ServerInfo anchor mailbox (test rule)
id: 0f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b
status: test
description: synthetic rule for the detector test
tags: [attack.initial-access, attack.t1190, cve.2021-26855, attack.t1505.003]
logsource: {product: exchange, service: httpproxy}
detection:
  ssrf:
    AnchorMailbox|startswith: 'ServerInfo~'
    AnchorMailbox|contains: '/'
  condition: ssrf
level: high
exhunt:
  rule_id: EXH-TEST-SSRF
  family: proxylogon
  step: initial-access
  outcome:
    succeeded: {sel: {HttpStatus|startswith: '2', BackEndStatus|startswith: '2'}, condition: sel}
    default: attempted
  severity: {succeeded: critical, attempted: low}
  confidence: high
  capture:
    client_ip: ClientIpAddress
    target: {field: AnchorMailbox, regex: 'ServerInfo~([^/]+)/'}
"""


LOG = "Exchange/V15/Logging/HttpProxy/Ecp/HttpProxy_2021030301-1.LOG"


def proxy_record(line: int, anchor: str, status: str, backend: str, ip: str, stamp: str) -> Record:
    fields = {"DateTime": stamp, "AnchorMailbox": anchor, "HttpStatus": status, "BackEndStatus": backend,
              "ClientIpAddress": ip, "UrlStem": "/ecp/y.js", "Protocol": "Ecp"}
    raw = ",".join(fields.values())
    return Record(ArtifactKind.HTTPPROXY, LOG, fields, raw=raw, line=line, offset=line * 100, timestamp=stamp)


def run(tmp_path: Path, records: list[Record], make_ctx: MakeCtx) -> list[Finding]:
    (tmp_path / "ssrf.yml").write_text(RULE, encoding="utf-8")
    content = SigmaContent([(str(tmp_path), None)])
    assert not content.result.errors and not content.result.unsupported
    ctx = make_ctx({LOG: b"synthetic log bytes"})
    detector = SigmaDetector(content)
    for record in records:
        detector.on_record(record, ctx)
    return detector.finish(ctx)


def test_exhunt_rule_outcomes_severity_captures(tmp_path: Path, make_ctx: MakeCtx) -> None:
    records = [proxy_record(i, "SMTP:alice@contoso.com", "200", "200", "10.0.0.5", f"2021-03-03T01:{i:02d}:00Z")
               for i in range(1, 20)]  # benign traffic around the attack
    records += [
        proxy_record(30, "ServerInfo~a]@ex01.contoso.local:444/ecp/DDI", "200", "200", "192.0.2.7",
                     "2021-03-03T02:00:00Z"),
        proxy_record(31, "ServerInfo~b]@ex01.contoso.local:444/ecp/x", "500", "", "192.0.2.8",
                     "2021-03-03T02:05:00Z"),
        proxy_record(32, "ServerInfo~a]@ex01.contoso.local:444/ecp/y", "241", "200", "192.0.2.7",
                     "2021-03-03T01:59:00Z"),
    ]
    findings = run(tmp_path, records, make_ctx)
    assert [(f.outcome, f.severity) for f in findings] == [
        (Outcome.SUCCEEDED, Severity.CRITICAL), (Outcome.ATTEMPTED, Severity.LOW)]
    ok = findings[0]
    assert ok.rule_id == "EXH-TEST-SSRF" and ok.detector == "sigma" and ok.host == "ex01"
    assert ok.cves == ("CVE-2021-26855",) and ok.attack == ("T1190", "T1505.003")
    assert ok.confidence is Confidence.HIGH
    assert ok.evidence_total == 2 and [e.line for e in ok.evidence] == [32, 30]  # time order
    assert ok.first_seen == "2021-03-03T01:59:00Z" and ok.last_seen == "2021-03-03T02:00:00Z"
    assert ok.evidence[0].sha256 and ok.evidence[0].offset == 3200 and "ServerInfo~a]" in ok.evidence[0].excerpt
    assert ok.attr_values("client_ip") == ["192.0.2.7"]
    assert ok.attr_values("target") == ["a]@ex01.contoso.local:444"]
    assert ok.attr_values("family") == ["proxylogon"] and ok.attr_values("step") == ["initial-access"]
    assert ok.attr_values("rule_file") == ["ssrf.yml"]
    assert ok.attr_values("sigma_id") == ["0f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b"]


def test_evidence_is_bounded_but_every_hit_counted(tmp_path: Path, make_ctx: MakeCtx) -> None:
    records = [proxy_record(i, "ServerInfo~x]@h:444/ecp/a", "500", "", f"192.0.2.{i % 200}",
                            f"2021-03-04T{i // 60 % 24:02d}:{i % 60:02d}:00Z") for i in range(1, 400)]
    (finding,) = run(tmp_path, list(reversed(records)), make_ctx)
    assert finding.evidence_total == 399 and len(finding.evidence) == 50
    assert [e.line for e in finding.evidence] == list(range(1, 51))
    assert len(finding.attr_values("client_ip")) == 50  # of 200 distinct addresses
    assert finding.attr_values("client_ip_more") == ["150"]
    assert finding.evidence_files == ((LOG, 399),)


def test_every_file_is_listed_with_its_count_beyond_the_evidence_cap(tmp_path: Path, make_ctx: MakeCtx) -> None:
    """60 early hits in one file fill the evidence list; the one later hit in a second file is still named."""
    records = [proxy_record(i, "ServerInfo~x]@h:444/ecp/a", "500", "", "192.0.2.1",
                            f"2021-03-04T01:{i:02d}:00Z") for i in range(1, 61)]
    late = proxy_record(7, "ServerInfo~x]@h:444/ecp/a", "500", "", "192.0.2.1", "2021-03-05T01:00:00Z")
    other = "C/Program Files/Microsoft/Exchange Server/V15/Logging/HttpProxy/Ecp/HttpProxy_2021030501-1.LOG"
    late = Record(late.kind, other, late.fields, raw=late.raw, line=7, offset=700, timestamp=late.timestamp)
    (finding,) = run(tmp_path, [*records, late], make_ctx)
    assert finding.evidence_total == 61 and len(finding.evidence) == 50
    assert other not in {e.path for e in finding.evidence}
    assert finding.evidence_files == tuple(sorted([(LOG, 60), (other, 1)]))
    assert finding.to_dict()["evidence_files"] == [{"path": p, "count": n} for p, n in finding.evidence_files]


def test_interest_gives_the_rule_literals_for_its_kind_only(tmp_path: Path, make_ctx: MakeCtx) -> None:
    (tmp_path / "ssrf.yml").write_text(RULE, encoding="utf-8")
    detector = SigmaDetector(SigmaContent([(str(tmp_path), None)]))
    interest = detector.interest(ArtifactKind.HTTPPROXY)
    assert interest is not None and interest.literals == frozenset({"serverinfo~"})
    assert detector.interest(ArtifactKind.IIS) is None


def test_deterministic_output(tmp_path: Path, make_ctx: MakeCtx) -> None:
    records = [proxy_record(i, "ServerInfo~x]@h:444/ecp/a", "200", "200", "192.0.2.1",
                            "2021-03-04T00:00:00Z") for i in range(5)]
    first = [f.to_dict() for f in run(tmp_path, records, make_ctx)]
    assert first == [f.to_dict() for f in run(tmp_path, list(reversed(records)), make_ctx)]


def test_plain_sigma_rules_are_suspicious_or_informational(tmp_path: Path, make_ctx: MakeCtx) -> None:
    rule = RULE.split("exhunt:")[0]
    (tmp_path / "a.yml").write_text(rule, encoding="utf-8")
    (tmp_path / "b.yml").write_text(rule.replace("level: high", "level: informational").replace(
        "0f1e2d3c", "1f1e2d3c"), encoding="utf-8")
    detector = SigmaDetector(SigmaContent([(str(tmp_path), None)]))
    ctx = make_ctx({LOG: b"x"})
    detector.on_record(proxy_record(1, "ServerInfo~a]@h:444/ecp/x", "200", "200", "192.0.2.1",
                                    "2021-03-03T00:00:00Z"), ctx)
    got = {(f.rule_id[:8], f.outcome, f.severity) for f in detector.finish(ctx)}
    assert got == {("0f1e2d3c", Outcome.SUSPICIOUS, Severity.HIGH), ("1f1e2d3c", Outcome.INFORMATIONAL, Severity.INFO)}


def test_detectors_in_threads_share_content_safely(tmp_path: Path, make_ctx: MakeCtx) -> None:
    from concurrent.futures import ThreadPoolExecutor

    (tmp_path / "ssrf.yml").write_text(RULE, encoding="utf-8")
    content = SigmaContent([(str(tmp_path), None)])
    records = [proxy_record(i, "ServerInfo~x]@h:444/ecp/a" if i % 3 else "SMTP:a@b.c", "200", "200",
                            "192.0.2.1", f"2021-03-04T00:{i % 60:02d}:00Z") for i in range(3000)]

    def one_host(_: int) -> int:
        ctx, detector = make_ctx({LOG: b"x"}), SigmaDetector(content)
        for record in records:
            detector.on_record(record, ctx)
        return sum(f.evidence_total for f in detector.finish(ctx))

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(one_host, range(8))) == [2000] * 8


def test_a_failing_rule_is_reported_once_and_the_run_goes_on(tmp_path: Path, make_ctx: MakeCtx) -> None:
    (tmp_path / "ssrf.yml").write_text(RULE, encoding="utf-8")
    content = SigmaContent([(str(tmp_path), None)])
    (rule,) = content.result.rules
    original = rule.matcher

    def broken(view: object) -> bool:
        raise RuntimeError("boom")

    rule.matcher = broken
    try:
        ctx, detector = make_ctx({LOG: b"x"}), SigmaDetector(content)
        for i in range(3):
            detector.on_record(proxy_record(i, "ServerInfo~a]@h:444/ecp/x", "200", "200", "192.0.2.1",
                                            "2021-03-03T00:00:00Z"), ctx)
        assert detector.finish(ctx) == []
        (warning,) = ctx.coverage.warnings
        assert warning.code == "rule-error" and "EXH-TEST-SSRF" in warning.message and warning.line == 0
    finally:
        rule.matcher = original


KEYWORD_RULE = """\
title: keyword test rule
id: 1f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0c
status: test
logsource: {product: exchange, service: httpproxy}
detection:
  words: ['mimikatz']
  condition: words
level: high
"""


def other_rule(number: int, detection: str) -> str:
    return (f"title: other {number}\nid: 2f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a{number:02d}\nstatus: test\n"
            f"logsource: {{product: exchange, service: httpproxy}}\n"
            f"detection:\n  sel:\n    {detection}\n  condition: sel\nlevel: low\n")


def write_memo_rules(tmp_path: Path) -> None:
    (tmp_path / "ssrf.yml").write_text(RULE, encoding="utf-8")
    (tmp_path / "kw.yml").write_text(KEYWORD_RULE, encoding="utf-8")
    # AnchorMailbox read by three rules: kept in the memo key; ClientIpAddress by one: kept too in a log line's
    # bucket (its rule would be judged anew in an event record's: see the test of RARE_FIELD_KINDS below)
    (tmp_path / "o1.yml").write_text(other_rule(1, "AnchorMailbox|contains: 'nothing-1'"), encoding="utf-8")
    (tmp_path / "o2.yml").write_text(other_rule(2, "AnchorMailbox|contains: 'nothing-2'"), encoding="utf-8")
    (tmp_path / "o3.yml").write_text(other_rule(3, "ClientIpAddress: '192.0.2.1'"), encoding="utf-8")


def test_repeated_events_are_judged_once_with_the_same_hits(tmp_path: Path, make_ctx: MakeCtx) -> None:
    """A bucket's answer is kept by the fields its rules read: an event that differs only in fields no rule
    reads (the time, the line) gets it without evaluation, one that differs in a read field is judged anew,
    rules reading every value are judged on every event, and every hit is still counted and cited."""
    write_memo_rules(tmp_path)
    content = SigmaContent([(str(tmp_path), None)])
    ssrf = next(r for r in content.result.rules if r.rule_id == "EXH-TEST-SSRF")
    calls = [0]
    original = ssrf.matcher

    def counted(view: Any) -> bool:
        calls[0] += 1
        return original(view)

    ssrf.matcher = counted
    try:
        ctx, detector = make_ctx({LOG: b"x"}), SigmaDetector(content)
        stamps = [f"2021-03-03T00:00:0{i}Z" for i in range(4)]
        for i, stamp in enumerate(stamps):  # same read fields, other times and lines
            detector.on_record(proxy_record(i, "ServerInfo~a]@h:444/ecp/x", "200", "200", "192.0.2.1", stamp), ctx)
        assert calls[0] == 1
        detector.on_record(proxy_record(9, "ServerInfo~b]@h:444/ecp/x", "200", "200", "192.0.2.1", stamps[0]), ctx)
        assert calls[0] == 2
        keyword = proxy_record(10, "ServerInfo~a]@h:444/ecp/x", "200", "200", "192.0.2.1", stamps[1])
        keyword.fields["UrlStem"] = "/ecp/mimikatz.js"  # read by no field rule: only the keyword rule sees it
        keyword = Record(keyword.kind, keyword.path, keyword.fields, raw=",".join(keyword.fields.values()),
                         line=10, offset=1000, timestamp=stamps[1])
        detector.on_record(keyword, ctx)
        findings = detector.finish(ctx)
    finally:
        ssrf.matcher = original
    by_rule = {f.rule_id: f for f in findings}
    assert by_rule["2f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a03"].evidence_total == 6  # the rare field's rule
    assert by_rule["EXH-TEST-SSRF"].evidence_total == 6
    assert [ref.line for ref in by_rule["EXH-TEST-SSRF"].evidence] == [0, 9, 1, 10, 2, 3]
    assert by_rule["1f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0c"].evidence_total == 1
    assert findings == run_fresh(tmp_path, make_ctx, ctx)


def test_rules_reading_a_rare_field_are_judged_anew_in_event_records_only(tmp_path: Path) -> None:
    """A field few rules of a bucket read keeps their rules out of the memo in event records (a logon id, a
    port); in a log line's bucket (a web request's method, status, user) every field rule is kept."""
    from exhunt.detectors.sigma.index import RARE_FIELD, Bucket

    write_memo_rules(tmp_path)
    content = SigmaContent([(str(tmp_path), None)])
    detector = SigmaDetector(content)
    bucket = detector.index.bucket_for(ArtifactKind.HTTPPROXY, (None, None))
    assert bucket is not None
    rare = next(r.index for r in content.result.rules if r.rule_id.endswith("a03"))
    keyword = next(r.index for r in content.result.rules if r.rule_id.endswith("a0c"))
    assert bucket.open == {keyword}
    as_events = Bucket(bucket.entries, None, None, RARE_FIELD)
    assert as_events.open == {keyword, rare}


def test_memo_keys_are_the_read_fields_in_order_whatever_the_layout(tmp_path: Path) -> None:
    """Two events of a layout with the same read values have the same key, whatever the fields no rule
    reads; a read value that differs, or differs in type only, makes another key; a container makes none."""
    write_memo_rules(tmp_path)
    bucket = SigmaDetector(SigmaContent([(str(tmp_path), None)])).index.bucket_for(ArtifactKind.HTTPPROXY,
                                                                                   (None, None))
    assert bucket is not None
    base = proxy_record(1, "a", "200", "200", "192.0.2.1", "2021-03-03T00:00:00Z").fields
    key = bucket.memo_key(base)
    assert key is not None
    assert bucket.memo_key({**base, "DateTime": "2021-03-04T00:00:00Z"}) == key
    assert bucket.memo_key({**base, "AnchorMailbox": "b"}) != key
    assert bucket.memo_key({**base, "Flag": 1}) == key  # read by no rule
    typed = {**base, "ClientIpAddress": 1}
    assert bucket.memo_key(typed) not in (key, bucket.memo_key({**base, "ClientIpAddress": True}))
    assert bucket.memo_key({**base, "ClientIpAddress": ["192.0.2.1"]}) is None


def run_fresh(tmp_path: Path, make_ctx: MakeCtx, ctx: HostContext) -> list[Finding]:
    """The same events judged by a detector that keeps nothing (every answer forgotten at once)."""
    import exhunt.detectors.sigma.detector as module

    budget = module.MEMO_BUDGET
    module.MEMO_BUDGET = 0
    try:
        content = SigmaContent([(str(tmp_path), None)])
        detector = SigmaDetector(content)
        fresh = make_ctx({LOG: b"x"})
        stamps = [f"2021-03-03T00:00:0{i}Z" for i in range(4)]
        for i, stamp in enumerate(stamps):
            detector.on_record(proxy_record(i, "ServerInfo~a]@h:444/ecp/x", "200", "200", "192.0.2.1", stamp), fresh)
        detector.on_record(proxy_record(9, "ServerInfo~b]@h:444/ecp/x", "200", "200", "192.0.2.1", stamps[0]), fresh)
        keyword = proxy_record(10, "ServerInfo~a]@h:444/ecp/x", "200", "200", "192.0.2.1", stamps[1])
        keyword.fields["UrlStem"] = "/ecp/mimikatz.js"
        detector.on_record(Record(keyword.kind, keyword.path, keyword.fields, raw=",".join(keyword.fields.values()),
                                  line=10, offset=1000, timestamp=stamps[1]), fresh)
        return detector.finish(fresh)
    finally:
        module.MEMO_BUDGET = budget


def test_a_failing_rule_is_not_remembered(tmp_path: Path, make_ctx: MakeCtx) -> None:
    (tmp_path / "ssrf.yml").write_text(RULE, encoding="utf-8")
    content = SigmaContent([(str(tmp_path), None)])
    (rule,) = content.result.rules
    original = rule.matcher
    calls = [0]

    def broken(view: object) -> bool:
        calls[0] += 1
        raise RuntimeError("boom")

    rule.matcher = broken
    try:
        ctx, detector = make_ctx({LOG: b"x"}), SigmaDetector(content)
        for i in range(3):
            record = proxy_record(i, "ServerInfo~a]@h:444/ecp/x", "200", "200", "192.0.2.1", "2021-03-03T00:00:00Z")
            assert detector.may_use(record)  # the caller judges it again and reports the failure
            detector.on_record(record, ctx)
        assert calls[0] == 6
    finally:
        rule.matcher = original


def test_the_memo_is_bounded(tmp_path: Path, make_ctx: MakeCtx, monkeypatch: Any) -> None:
    import exhunt.detectors.sigma.detector as module

    write_memo_rules(tmp_path)
    monkeypatch.setattr(module, "MEMO_BUDGET", 2000)
    content = SigmaContent([(str(tmp_path), None)])
    ctx, detector = make_ctx({LOG: b"x"}), SigmaDetector(content)
    for i in range(500):  # every event new to the memo
        detector.on_record(proxy_record(i, f"ServerInfo~{i}]@h:444/ecp/x", "200", "200", "192.0.2.1",
                                        "2021-03-03T00:00:00Z"), ctx)
        assert detector._memo_size <= 2000
    assert 0 < len(detector._memo) < 50
    (ssrf,) = [f for f in detector.finish(ctx) if f.rule_id == "EXH-TEST-SSRF"]
    assert ssrf.evidence_total == 500


def test_values_equal_in_python_but_not_to_a_rule_are_judged_apart(tmp_path: Path, make_ctx: MakeCtx,
                                                                  monkeypatch: Any) -> None:
    """``1 == 1.0 == True`` in Python, but a rule reads ``1``, ``1.0`` and ``true``: never the same memo key."""
    import exhunt.detectors.sigma.detector as module

    write_memo_rules(tmp_path)
    (tmp_path / "o4.yml").write_text(other_rule(4, "Flag: 'true'"), encoding="utf-8")
    (tmp_path / "o5.yml").write_text(other_rule(5, "Flag|startswith: 'tr'"), encoding="utf-8")
    (tmp_path / "o6.yml").write_text(other_rule(6, "Flag|endswith: 'ue'"), encoding="utf-8")
    content = SigmaContent([(str(tmp_path), None)])

    def hits() -> dict[str, int]:
        ctx, detector = make_ctx({LOG: b"x"}), SigmaDetector(content)
        for i, flag in enumerate([1, True, 1.0, True, "1", [1], 1]):
            record = proxy_record(i, "x", "200", "200", "192.0.2.9", "2021-03-03T00:00:00Z")
            record.fields["Flag"] = flag
            detector.on_record(record, ctx)
        return {f.rule_id: f.evidence_total for f in detector.finish(ctx)}

    kept = hits()
    assert kept["2f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a05"] == kept["2f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a06"] == 2
    monkeypatch.setattr(module, "MEMO_BUDGET", 0)  # every answer forgotten at once: judged every time
    assert hits() == kept
