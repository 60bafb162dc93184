"""The SLA service's business metrics: what happened to KPIs, counted once committed."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter


@dataclass(frozen=True)
class SlaMetrics:
    """KPI outcomes by event type and KPI name (names come from policies: a short list)."""

    kpi_events: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> SlaMetrics:
        """Register the SLA metrics in `registry`."""
        return cls(
            kpi_events=Counter(
                "caseflow_sla_kpi_events",
                "KPI events published, by type (kpi.started, kpi.breached, ...) and KPI.",
                ["event", "kpi"],
                registry=registry,
            )
        )
