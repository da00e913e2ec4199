"""RecordGate: how the answers of several detectors for one route combine (literal tests merged into one)."""

from __future__ import annotations

from collections.abc import Callable

from exhunt.parsers.base import LiteralTest, RecordGate, RecordGateFn, RouteGate


def _answer(value: RouteGate) -> RecordGateFn:
    return lambda _channel, _event_id: value


def test_any_detector_wanting_every_record_wins() -> None:
    gate = RecordGate([_answer(False), _answer(lambda raw: False), _answer(True)])
    assert gate.for_route("security", 4624) is True


def test_nobody_wanting_the_route_skips_it() -> None:
    assert RecordGate([_answer(False), _answer(False)]).for_route("system", 7036) is False
    assert RecordGate([]).for_route("system", 7036) is False


def test_raw_tests_are_combined_with_or() -> None:
    gate = RecordGate([_answer(lambda raw: "mimikatz" in raw), _answer(False), _answer(lambda raw: "4.3.2.1" in raw)])
    route = gate.for_route("security", 4688)
    assert callable(route)
    assert route('{"CommandLine":"mimikatz"}') and route('{"IpAddress":"4.3.2.1"}') and not route("{}")


def test_route_is_passed_to_each_detector() -> None:
    seen: list[tuple[str | None, int | None]] = []

    def record(channel: str | None, event_id: int | None) -> RouteGate:
        seen.append((channel, event_id))
        return False

    RecordGate([record]).for_route(None, 1)
    assert seen == [(None, 1)]


class _Union:
    """A ``LiteralTest.union`` that records what it was asked to build."""

    def __init__(self) -> None:
        self.built: list[frozenset[str]] = []

    def __call__(self, literals: frozenset[str]) -> Callable[[str], bool]:
        self.built.append(literals)
        return lambda raw: any(literal in raw.lower() for literal in literals)


def _literal_test(literals: set[str], union: _Union) -> LiteralTest:
    return LiteralTest(frozenset(literals), lambda raw: any(lit in raw.lower() for lit in literals), union)


def test_literal_tests_of_several_detectors_become_one_test_for_their_union() -> None:
    union = _Union()
    sigma, ioc = _literal_test({"mimikatz", "sekurlsa"}, union), _literal_test({"4.3.2.1"}, union)
    gate = RecordGate([_answer(sigma), _answer(False), _answer(ioc)])
    route = gate.for_route("security", 4688)
    assert union.built == [frozenset({"mimikatz", "sekurlsa", "4.3.2.1"})]
    # a record holding a literal of one detector only passes, as with the tests ORed
    assert route('{"CommandLine":"MimiKatz"}') and route('{"IpAddress":"4.3.2.1"}') and not route("{}")
    # the same literal sets on another route: the same union asked of its maker, which keeps what it built
    # (once per process: test_literalscan); each route's answer is kept by the gate
    other = gate.for_route("system", 7045)
    assert union.built == [frozenset({"mimikatz", "sekurlsa", "4.3.2.1"})] * 2
    assert other('{"CommandLine":"MimiKatz"}') and not other("{}") and gate.for_route("system", 7045) is other


def test_a_route_is_asked_of_the_detectors_once() -> None:
    asked: list[tuple[str | None, int | None]] = []

    def record(channel: str | None, event_id: int | None) -> RouteGate:
        asked.append((channel, event_id))
        return True

    gate = RecordGate([record])
    assert gate.for_route("security", 1) is True and gate.for_route("security", 1) is True
    assert gate.for_route("security", 2) is True
    assert asked == [("security", 1), ("security", 2)]


def test_a_route_taken_whole_by_one_detector_is_not_scanned() -> None:
    union = _Union()
    gate = RecordGate([_answer(_literal_test({"mimikatz"}, union)), _answer(True)])
    assert gate.for_route("microsoft-windows-sysmon/operational", 1) is True
    assert union.built == []


def test_a_test_without_its_literals_is_ored_not_merged() -> None:
    union = _Union()
    gate = RecordGate([_answer(_literal_test({"mimikatz"}, union)), _answer(lambda raw: "4.3.2.1" in raw)])
    route = gate.for_route("security", 4688)
    assert union.built == [] and callable(route)
    assert route("MIMIKATZ") and route("4.3.2.1") and not route("{}")


def test_literal_tests_that_cannot_be_merged_are_ored() -> None:
    def no_union(_literals: frozenset[str]) -> None:
        return None

    first = LiteralTest(frozenset({"a1"}), lambda raw: "a1" in raw, no_union)
    second = LiteralTest(frozenset({"b2"}), lambda raw: "b2" in raw, no_union)
    route = RecordGate([_answer(first), _answer(second)]).for_route(None, 1)
    assert callable(route) and route("xb2") and route("a1") and not route("c3")
