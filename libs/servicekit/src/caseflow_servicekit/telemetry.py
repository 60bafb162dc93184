"""Tracing: one trace follows a case from the HTTP request through every service.

Context travels in W3C `traceparent`/`tracestate` headers: on HTTP requests, in outbox rows
(so the relay publishes an event as part of the trace that caused it) and in Kafka headers.
"""

from __future__ import annotations

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

TRACE_HEADERS = ("traceparent", "tracestate")


def configure_tracing(service_name: str, *, otlp_endpoint: str | None) -> TracerProvider:
    """The process's tracer provider, exporting over OTLP/HTTP when an endpoint is set."""
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        # One provider per process; a second service in the same process (tests) shares it.
        return current
    provider = TracerProvider(
        resource=Resource.create({"service.name": f"caseflow-{service_name}"})
    )
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = otlp_endpoint.rstrip("/") + "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    return provider


def current_trace_headers() -> dict[str, str]:
    """The W3C trace headers of the active span, empty when there is none."""
    if not trace.get_current_span().get_span_context().is_valid:
        return {}  # nothing to carry, and no propagator need be asked
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return {k: v for k, v in carrier.items() if k in TRACE_HEADERS}


def current_trace_id() -> str | None:
    """The active trace id as 32 hex digits, or None."""
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return None
    return format(span_context.trace_id, "032x")
