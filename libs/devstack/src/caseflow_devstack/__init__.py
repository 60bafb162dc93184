"""The embedded Caseflow stack: PostgreSQL and a Kafka-compatible broker from PyPI wheels,
the services as child processes (`caseflow-up`), and the test infrastructure fixtures.

Names are loaded on first use, so that importing the package (as pytest does for the plugin)
stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from caseflow_devstack.broker import EmbeddedKafka, create_topics, wait_for_kafka
    from caseflow_devstack.databases import (
        as_asyncpg,
        as_libpq,
        drop_database,
        ensure_database,
        with_database,
    )
    from caseflow_devstack.errors import DevstackError, InfrastructureError, ServiceError
    from caseflow_devstack.ports import free_port
    from caseflow_devstack.postgres import EmbeddedPostgres
    from caseflow_devstack.processes import ServiceProcess, ServiceSpec
    from caseflow_devstack.pytest_plugin import PgServer
    from caseflow_devstack.stack import SERVICE_NAMES, Stack, default_services

_EXPORTS = {
    "EmbeddedKafka": "broker",
    "create_topics": "broker",
    "wait_for_kafka": "broker",
    "as_asyncpg": "databases",
    "as_libpq": "databases",
    "drop_database": "databases",
    "ensure_database": "databases",
    "with_database": "databases",
    "DevstackError": "errors",
    "InfrastructureError": "errors",
    "ServiceError": "errors",
    "free_port": "ports",
    "EmbeddedPostgres": "postgres",
    "ServiceProcess": "processes",
    "ServiceSpec": "processes",
    "PgServer": "pytest_plugin",
    "SERVICE_NAMES": "stack",
    "Stack": "stack",
    "default_services": "stack",
}

__all__ = [
    "SERVICE_NAMES",
    "DevstackError",
    "EmbeddedKafka",
    "EmbeddedPostgres",
    "InfrastructureError",
    "PgServer",
    "ServiceError",
    "ServiceProcess",
    "ServiceSpec",
    "Stack",
    "as_asyncpg",
    "as_libpq",
    "create_topics",
    "default_services",
    "drop_database",
    "ensure_database",
    "free_port",
    "wait_for_kafka",
    "with_database",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
