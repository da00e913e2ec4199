"""The raw-JSON field probe never rejects a record a rule would match (generated values and keys)."""

from __future__ import annotations

import random

import orjson

from exhunt.detectors.sigma.matchers import build
from exhunt.detectors.sigma.rawfields import probe_for, required_tests
from exhunt.detectors.sigma.view import EventView
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
        data["Message"] = f'a "LogonType":{rng.choice(["9", "10"])} b'
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


def test_made_up_fields_are_not_probed() -> None:
    assert required_tests(("field", ("eventid",), "EventID", ("num", 4624))) is None
    assert required_tests(("field", ("message",), "Message", ("num", 1))) is None
    assert required_tests(("not", ("field", ("logontype",), "LogonType", ("num", 9)))) is None
    assert required_tests(("field", ("a",), "", ("num", 1)), {"a": object()}) is None
