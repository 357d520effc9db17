"""Static checks in detail: what expressions read, what operations provide, ISO timers."""
from __future__ import annotations

import pytest

import app.operations  # noqa: F401  registers the shipped operations
from app.engine.checks import (
    is_iso_cycle,
    is_iso_datetime,
    is_iso_duration,
    operation_results,
)
from app.engine.operations import operation, unregister


@pytest.mark.parametrize("text", ["PT2H", "P3D", "P1DT12H", "PT30M", "P2W", "PT1.5H", "P1Y2M"])
def test_iso_durations_accepted(text):
    assert is_iso_duration(text)


@pytest.mark.parametrize("text", ["PT2HOURS", "P3 days", "P", "PT", "2H", "P1H", "PT2H ", "p3d x"])
def test_not_iso_durations_refused(text):
    assert not is_iso_duration(text)


def test_iso_dates_and_cycles():
    assert is_iso_datetime("2026-05-01T18:00:00+08:00") and is_iso_datetime("2026-05-01")
    assert not is_iso_datetime("2026-13-45T99:00:00") and not is_iso_datetime("tomorrow")
    assert is_iso_cycle("R3/PT1H") and is_iso_cycle("R/P1D")
    assert is_iso_cycle("R2/2026-05-01T08:00:00Z/P1D")
    assert not is_iso_cycle("PT1H") and not is_iso_cycle("R3/every hour")


def test_operation_results_are_declared_or_read_from_the_code():
    assert operation_results("data.set", {"a": "1", "b": "2"}) == {"a", "b"}
    assert operation_results("notify.log", {}) == {"notified", "notified_channel"}
    assert operation_results("no.such.op", {}) == frozenset()

    @operation("test.declared", results=["x"])
    def declared(params, ctx):
        return dict(params)

    @operation("test.opaque")
    def opaque(params, ctx):
        return dict(params)

    try:
        assert operation_results("test.declared", {}) == {"x"}
        assert operation_results("test.opaque", {}) is None  # cannot tell: no warnings
    finally:
        unregister("test.declared")
        unregister("test.opaque")
