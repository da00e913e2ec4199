"""RecordGate: how the answers of several detectors for one route combine."""

from __future__ import annotations

from exhunt.parsers.base import RecordGate, RecordGateFn, RouteGate


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
