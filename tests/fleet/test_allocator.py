"""The C allocator's thresholds in a Dask worker (fleet/allocator.py): raised only where Dask's nanny set a
small trim threshold, and only with glibc."""

from __future__ import annotations

import ctypes
import sys

import pytest

from exhunt.fleet import allocator


def _glibc() -> bool:
    try:
        return sys.platform.startswith("linux") and hasattr(ctypes.CDLL("libc.so.6"), "mallopt")
    except OSError:
        return False


def test_a_worker_started_without_the_variable_keeps_its_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    assert allocator.relax() is False


def test_a_value_that_is_not_a_number_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "lots")
    assert allocator.relax() is False


@pytest.mark.skipif(not _glibc(), reason="glibc's mallopt is needed (Linux with glibc)")
def test_dasks_small_trim_threshold_is_raised_then_put_back(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, int]] = []

    def mallopt(option: int, value: int) -> int:
        calls.append((option, value))
        return 1

    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")  # what distributed's nanny sets
    monkeypatch.setattr(allocator, "_mallopt", lambda: mallopt)
    assert allocator.relax() is True
    allocator.restore()
    assert calls == [(allocator.M_MMAP_THRESHOLD, 32 << 20), (allocator.M_TRIM_THRESHOLD, 64 << 20),
                     (allocator.M_TRIM_THRESHOLD, 65536)]


@pytest.mark.skipif(not _glibc(), reason="glibc's mallopt is needed (Linux with glibc)")
def test_glibc_accepts_the_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")
    assert allocator.relax() is True  # glibc refuses an mmap threshold above its maximum: this would be False
