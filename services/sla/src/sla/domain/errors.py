"""Errors raised by the SLA domain.

All of them derive from one base, so callers can catch the family at once::

    SlaError
    ├── InvalidTimeError            a naive datetime, a negative working-time budget
    ├── InvalidCalendarError        a calendar that cannot be used: unknown zone, bad hours
    ├── NoWorkingTimeError          the calendar has no working time left to count on
    ├── InvalidPolicyError          an SLA policy or KPI definition that breaks a rule
    ├── NoApplicablePolicyError     no policy matches the case and there is no default
    └── InvalidTransitionError      a KPI command its current status does not allow

The errors about bad input (time, calendar, policy) are also ``ValueError``s.
"""

from __future__ import annotations


class SlaError(Exception):
    """Base of every error the SLA domain raises."""


class InvalidTimeError(SlaError, ValueError):
    """A moment without a time zone, or a negative amount of working time."""


class InvalidCalendarError(SlaError, ValueError):
    """A calendar definition that cannot be used to count working time."""


class NoWorkingTimeError(SlaError):
    """The calendar has no working time within the search horizon, so no deadline exists."""


class InvalidPolicyError(SlaError, ValueError):
    """An SLA policy or KPI definition that breaks a rule."""


class NoApplicablePolicyError(SlaError):
    """No SLA policy matches the case, and none is marked as the default."""


class InvalidTransitionError(SlaError):
    """A KPI command that the instance's current status does not allow."""
