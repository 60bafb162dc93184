"""The trace headers an event is recorded with: its span's, found once per context."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider

from caseflow_servicekit.telemetry import current_trace_headers

pytestmark = pytest.mark.unit

TRACER = TracerProvider().get_tracer("test")


def test_no_span_carries_no_headers() -> None:
    assert current_trace_headers() == {}


def test_each_span_gives_its_own_headers_and_the_same_ones_while_it_is_current() -> None:
    with TRACER.start_as_current_span("first") as first:
        once, again = current_trace_headers(), current_trace_headers()
        with TRACER.start_as_current_span("inner") as inner:
            nested = current_trace_headers()
        after_inner = current_trace_headers()
    with TRACER.start_as_current_span("second") as second:
        other = current_trace_headers()
    outside = current_trace_headers()

    def span_id(headers: dict[str, str]) -> int:
        return int(headers["traceparent"].split("-")[2], 16)

    assert once == again == after_inner
    assert span_id(once) == first.get_span_context().span_id
    assert span_id(nested) == inner.get_span_context().span_id
    assert span_id(other) == second.get_span_context().span_id
    assert outside == {}


def test_the_headers_handed_out_are_the_callers_own() -> None:
    with TRACER.start_as_current_span("span"):
        mine = current_trace_headers()
        mine["traceparent"] = "changed"
        assert current_trace_headers()["traceparent"] != "changed"
