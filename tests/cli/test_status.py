"""Exit codes of a scan: an incomplete exposure answer is not clean."""

from __future__ import annotations

from exhunt.cli.status import ExitCode, exit_code_for
from exhunt.model.result import HostResult, Verdict


def _host(verdict: Verdict, exposure: dict[str, object]) -> HostResult:
    return HostResult(host="ex01", evidence="ex01", verdict=verdict, exposure=dict(exposure))


def test_a_clean_host_with_a_complete_exposure_answer_is_clean() -> None:
    assert exit_code_for([_host(Verdict.NO_SIGN, {"complete": True})]) is ExitCode.CLEAN
    assert exit_code_for([_host(Verdict.NO_SIGN, {})]) is ExitCode.CLEAN  # no build known: nothing to judge


def test_an_exposure_answer_with_unknown_parts_is_partial_not_clean() -> None:
    incomplete = {"complete": False, "gaps": ["build 15.2.9999.1 is newer than the table's data"]}
    assert exit_code_for([_host(Verdict.NO_SIGN, incomplete)]) is ExitCode.PARTIAL


def test_findings_still_win_over_an_incomplete_exposure_answer() -> None:
    assert exit_code_for([_host(Verdict.COMPROMISED, {"complete": False})]) is ExitCode.FINDINGS
