"""Errors raised by the Caseflow development stack.

DevstackError
├── InfrastructureError   PostgreSQL or the broker did not start, answer or accept a change
└── ServiceError          a service failed: its migration, its readiness, or it exited
"""

from __future__ import annotations


class DevstackError(Exception):
    """Base of every error the development stack raises."""


class InfrastructureError(DevstackError):
    """PostgreSQL or the Kafka broker did not start, answer or accept a change."""


class ServiceError(DevstackError):
    """A Caseflow service process failed; `service` names it."""

    def __init__(self, service: str, message: str) -> None:
        super().__init__(f"{service}: {message}")
        self.service = service
