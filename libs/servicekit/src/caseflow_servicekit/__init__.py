"""What every Caseflow service shares: settings, database, outbox, inbox, dead letters,
telemetry, metrics, health, auth and problem details."""

from caseflow_servicekit.auth import Authenticator, Principal, Role, mint_token, verify_token
from caseflow_servicekit.clock import (
    Clock,
    ShiftedClock,
    SystemClock,
    clock_from,
    move_clock,
    shift_clock,
)
from caseflow_servicekit.consumer import (
    BatchHandler,
    Delivered,
    EventConsumers,
    EventHandler,
    is_transient,
)
from caseflow_servicekit.db import create_engine, new_metadata, session_factory
from caseflow_servicekit.deadletter import DeadLetters, replay
from caseflow_servicekit.outbox import Outbox, OutboxRelay
from caseflow_servicekit.periodic import PeriodicJob
from caseflow_servicekit.problems import (
    Conflict,
    Forbidden,
    NotFound,
    Problem,
    Unauthorized,
    install_problem_handlers,
)
from caseflow_servicekit.runtime import Kit, ServiceApp, run_service
from caseflow_servicekit.settings import ServiceSettings, async_database_url
from caseflow_servicekit.uow import SqlUnitOfWork

__all__ = [
    "Authenticator",
    "BatchHandler",
    "Clock",
    "Conflict",
    "DeadLetters",
    "Delivered",
    "EventConsumers",
    "EventHandler",
    "Forbidden",
    "Kit",
    "NotFound",
    "Outbox",
    "OutboxRelay",
    "PeriodicJob",
    "Principal",
    "Problem",
    "Role",
    "ServiceApp",
    "ServiceSettings",
    "ShiftedClock",
    "SqlUnitOfWork",
    "SystemClock",
    "Unauthorized",
    "async_database_url",
    "clock_from",
    "create_engine",
    "install_problem_handlers",
    "is_transient",
    "mint_token",
    "move_clock",
    "new_metadata",
    "replay",
    "run_service",
    "session_factory",
    "shift_clock",
    "verify_token",
]
