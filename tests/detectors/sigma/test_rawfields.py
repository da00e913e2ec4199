"""The raw-JSON field probe never rejects a record a rule would match (generated values and keys)."""

from __future__ import annotations

import copy
import random
from pathlib import Path

import orjson
import pytest

from exhunt.detectors.sigma.detector import SigmaDetector
from exhunt.detectors.sigma.family import SigmaContent
from exhunt.detectors.sigma.matchers import build
from exhunt.detectors.sigma.rawfields import probe_for, required_tests
from exhunt.detectors.sigma.view import EventView
from exhunt.model.evidence import ArtifactKind
from exhunt.parsers.winevent import flatten_event

NUM = ("and", (("field", ("eventid",), "EventID", ("num", 4624)), ("field", ("logontype",), "LogonType", ("num", 9))))
EQ = ("or", (("field", ("logontype",), "LogonType", ("num", 10)),
             ("field", ("keylength",), "KeyLength", ("str", True, (("eq", "0"),)))))
CMP = ("field", ("logontype",), "LogonType", ("cmp", "gte", 9))


def _values(rng: random.Random) -> object:
    digits = rng.choice(["9", "09", "0x9", "0X09", "9.0", "9e0", "0.9e1", "+9", "-9", "9_0", "0x_9", "\u0669",
                         "10", "3", "0", "", "nine", "9 9", "1e1", "10.0", "0xa", ".9e1"])
    pad = rng.choice(["", " ", "\t", "  ", "\n"])
    choice = rng.randrange(8)
    if choice == 0:
        return rng.choice([9, 10, 3, 0, -9, 9.0, 10.0, 1e1, 2**63 - 1])
    if choice == 1:
        return rng.choice([None, True, False])
    if choice == 2:
        return [digits, rng.choice(["9", "3"])]
    if choice == 3:
        return {"#text": pad + digits}
    return pad + digits + rng.choice(["", "", pad])


def _key(rng: random.Random, name: str) -> str:
    key = "".join(c.upper() if rng.random() < 0.3 else c for c in name)
    if rng.random() < 0.1:
        key = key.replace("k", "\u212a")
    if rng.random() < 0.15:
        at = rng.randrange(1, len(key))
        key = key[:at] + " " + key[at:]
    return key


def _event(rng: random.Random) -> dict[str, object]:
    data: dict[str, object] = {}
    for _ in range(rng.randrange(0, 4)):
        data[_key(rng, rng.choice(["LogonType", "KeyLength", "TargetLogonType", "Other"]))] = _values(rng)
    if rng.random() < 0.2:
        data["Message"] = rng.choice([f'a "LogonType":{rng.choice(["9", "10"])} b', "LogonType", 'LogonType":9'])
    if rng.random() < 0.2:
        data[rng.choice(["Name", "LogonType"])] = rng.choice(["LogonType", " logontype ", "KeyLength"])
    event: dict[str, object] = {"System": {"EventID": 4624, "Channel": "Security"}, "EventData": data}
    if rng.random() < 0.2:
        event["UserData"] = {"X": {"#attributes": {_key(rng, "LogonType"): _values(rng)}}}
    return event


def test_probe_never_rejects_a_match() -> None:
    rng = random.Random(7)
    for program in (NUM, EQ, CMP):
        probe = probe_for([program])
        assert probe is not None
        rule = build(program)
        matched = 0
        for _ in range(6000):
            event = _event(rng)
            raw = orjson.dumps({"Event": event}).decode()
            try:
                fields = flatten_event(orjson.loads(raw)["Event"])
            except orjson.JSONDecodeError:
                continue
            if rule(EventView(fields)):
                matched += 1
                assert probe(raw), raw
        assert matched > 100


def test_probe_skips_plain_misses() -> None:
    probe = probe_for([NUM])
    assert probe is not None
    raw = '{"Event":{"System":{"EventID":4624},"EventData":{"LogonType":3,"IpAddress":"-"}}}'
    assert not probe(raw)
    assert probe(raw.replace('"LogonType":3', '"LogonType":" 0x9"'))
    assert probe(raw.replace('"LogonType":3', '"LogonType":{"#text":"3"}'))  # not sure: decoded
    assert not probe(raw.replace('"LogonType":3,', ""))  # absent: no rule can match
    assert not probe(raw.replace('"IpAddress":"-"', '"TargetLogonTypeName":9,"X":"LogonType"'))  # no such key
    assert probe(raw.replace('"LogonType":3', '"Logon Type":9'))  # the view finds it without the space


def test_made_up_fields_are_not_probed() -> None:
    assert required_tests(("field", ("eventid",), "EventID", ("num", 4624))) is None
    assert required_tests(("field", ("message",), "Message", ("num", 1))) is None
    assert required_tests(("not", ("field", ("logontype",), "LogonType", ("num", 9)))) is None
    assert required_tests(("field", ("a",), "", ("num", 1)), {"a": object()}) is None


SIGMAHQ_WINDOWS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus" / "sigmahq" / "rules" / "windows"
TEMPLATE = {"System": {"Provider": {"#attributes": {"Name": "Microsoft-Windows-Security-Auditing"}}, "EventID": 4624,
                       "Channel": "Security", "Computer": "h"},
            "EventData": {"SubjectUserSid": "S-1-5-18", "TargetUserName": "SYSTEM", "LogonType": 5,
                          "LogonProcessName": "Advapi  ", "AuthenticationPackageName": "Negotiate",
                          "WorkstationName": "", "IpAddress": "-", "KeyLength": 0}}
VARIANTS = {"SubjectUserSid": ["S-1-0-0", "S-1-5-21-1-2-3-500", "S-1-5-18"],
            "LogonType": [2, 3, 5, 9, 10, "9", " 10 ", "0x3", 3.0, None],
            "LogonProcessName": ["Advapi  ", "seclogo", "User32 ", "NtLmSsp "],
            "AuthenticationPackageName": ["Negotiate", "NTLM", "Kerberos"],
            "WorkstationName": ["", "ABCDEFGHIJKLMNOP", "WS1"],
            "IpAddress": ["-", "127.0.0.1", "::1", "8.8.8.8", "10.1.2.3"],
            "TargetUserName": ["SYSTEM", "ANONYMOUS LOGON", "admin"]}


@pytest.mark.skipif(not SIGMAHQ_WINDOWS.is_dir(), reason=f"SigmaHQ rules not found at {SIGMAHQ_WINDOWS}")
def test_route_gate_keeps_every_record_a_rule_matches() -> None:
    """Security 4624 (rules testing only numbers, and rules with literals that need a number too): every
    generated record a rule of the route matches passes the route's gate, and most others do not."""
    content = SigmaContent([(str(SIGMAHQ_WINDOWS), str(SIGMAHQ_WINDOWS.parent))])
    index = SigmaDetector(content).index
    bucket = index.bucket_for(ArtifactKind.EVTX, ("security", 4624))
    assert bucket is not None and bucket.always
    gate = index.record_gate(ArtifactKind.EVTX, "security", 4624)
    assert callable(gate)
    rng = random.Random(11)
    matched = skipped = 0
    for _ in range(3000):
        event = copy.deepcopy(TEMPLATE)
        data = event["EventData"]
        assert isinstance(data, dict)
        for name, values in VARIANTS.items():
            if rng.random() < 0.5:
                data[name] = rng.choice(values)
        raw = orjson.dumps({"Event": event}).decode()
        view = EventView(flatten_event(orjson.loads(raw)["Event"]), bucket.derived)
        if any(entry.rule.matcher(view) for entry in bucket.entries):
            matched += 1
            assert gate(raw), raw
        elif not gate(raw):
            skipped += 1
    assert matched > 50 and skipped > 500
