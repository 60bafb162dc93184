"""Prometheus metrics the kit itself keeps; business metrics live with their services.

Labels never carry ids: topics, consumers, outcomes and routes only.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram


@dataclass(frozen=True)
class KitMetrics:
    """The kit's counters and histograms, registered in one service's registry."""

    registry: CollectorRegistry
    consumed: Counter
    handling_seconds: Histogram
    retries: Counter
    dead_letters: Counter
    duplicates: Counter
    relayed: Counter
    relay_failures: Counter
    republished: Counter
    retention_deleted: Counter
    http_requests: Counter
    http_seconds: Histogram

    @classmethod
    def create(cls, registry: CollectorRegistry) -> KitMetrics:
        """Register the kit's metrics in `registry`."""
        return cls(
            registry=registry,
            consumed=Counter(
                "caseflow_events_consumed",
                "Events handled by a consumer, by outcome "
                "(applied, duplicate, dead_lettered, skipped).",
                ["topic", "consumer", "outcome"],
                registry=registry,
            ),
            handling_seconds=Histogram(
                "caseflow_event_handling_seconds",
                "Time to apply one event, including retries.",
                ["topic", "consumer"],
                registry=registry,
                buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            ),
            retries=Counter(
                "caseflow_event_retries",
                "Failed attempts at applying an event that were retried.",
                ["topic", "consumer"],
                registry=registry,
            ),
            dead_letters=Counter(
                "caseflow_dead_letters",
                "Events forwarded to a dead-letter topic, by reason.",
                ["topic", "consumer", "reason"],
                registry=registry,
            ),
            duplicates=Counter(
                "caseflow_event_duplicates",
                "Redelivered events recognised by the inbox and skipped.",
                ["topic", "consumer"],
                registry=registry,
            ),
            relayed=Counter(
                "caseflow_outbox_relayed",
                "Outbox rows published to Kafka.",
                ["topic"],
                registry=registry,
            ),
            relay_failures=Counter(
                "caseflow_outbox_relay_failures",
                "Failed attempts at publishing an outbox row.",
                ["topic"],
                registry=registry,
            ),
            republished=Counter(
                "caseflow_outbox_republished",
                "Relayed outbox rows sent again because the Kafka cluster changed (lost them).",
                ["topic"],
                registry=registry,
            ),
            retention_deleted=Counter(
                "caseflow_retention_deleted",
                "Rows deleted once older than their table's retention window.",
                ["table"],
                registry=registry,
            ),
            http_requests=Counter(
                "caseflow_http_requests",
                "HTTP requests by route template, method and status class.",
                ["route", "method", "status"],
                registry=registry,
            ),
            http_seconds=Histogram(
                "caseflow_http_request_seconds",
                "HTTP request duration by route template.",
                ["route", "method"],
                registry=registry,
            ),
        )
