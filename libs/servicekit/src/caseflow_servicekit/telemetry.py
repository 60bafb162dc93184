"""Tracing: one trace follows a case from the HTTP request through every service.

Context travels in W3C `traceparent`/`tracestate` headers: on HTTP requests, in outbox rows
(so the relay publishes an event as part of the trace that caused it) and in Kafka headers.
"""

from __future__ import annotations

from opentelemetry import context as otel_context
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


_last_headers: tuple[otel_context.Context, dict[str, str]] | None = None
"""The context the headers were last asked in, and what they were: every event a unit of work
records in one context carries the same headers, found once."""


def current_trace_headers() -> dict[str, str]:
    """The W3C trace headers of the active span, empty when there is none."""
    global _last_headers  # a one-entry cache, replaced whole
    context = otel_context.get_current()
    last = _last_headers
    if last is not None and last[0] is context:  # contexts are immutable: the same one, same span
        return dict(last[1])
    if not trace.get_current_span(context).get_span_context().is_valid:
        headers: dict[str, str] = {}  # nothing to carry, and no propagator need be asked
    else:
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=context)
        headers = {k: v for k, v in carrier.items() if k in TRACE_HEADERS}
    _last_headers = (context, headers)
    return dict(headers)


def current_trace_id() -> str | None:
    """The active trace id as 32 hex digits, or None."""
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return None
    return format(span_context.trace_id, "032x")
