"""The SLA rules of Caseflow: business-hours calendars, SLA policies and KPI instances.

Pure Python: every moment is handed in, nothing here reads a clock or does I/O.
"""

from sla.domain.calendar import (
    WORKWEEK,
    Calendar,
    Weekday,
    WorkingInterval,
    add_working_time,
    is_working,
    next_working_moment,
    working_time_between,
)
from sla.domain.errors import (
    InvalidCalendarError,
    InvalidPolicyError,
    InvalidTimeError,
    InvalidTransitionError,
    NoApplicablePolicyError,
    NoWorkingTimeError,
    SlaError,
)
from sla.domain.kpi import (
    KpiBreached,
    KpiCancelled,
    KpiEvent,
    KpiInstance,
    KpiNearingBreach,
    KpiPaused,
    KpiReEvaluated,
    KpiResumed,
    KpiStarted,
    KpiStatus,
    KpiSucceeded,
    start_kpi,
)
from sla.domain.policy import (
    AppliesTo,
    CaseFacts,
    KpiDefinition,
    PolicyItem,
    SlaPolicy,
    choose_policy,
)

__all__ = [
    "WORKWEEK",
    "AppliesTo",
    "Calendar",
    "CaseFacts",
    "InvalidCalendarError",
    "InvalidPolicyError",
    "InvalidTimeError",
    "InvalidTransitionError",
    "KpiBreached",
    "KpiCancelled",
    "KpiDefinition",
    "KpiEvent",
    "KpiInstance",
    "KpiNearingBreach",
    "KpiPaused",
    "KpiReEvaluated",
    "KpiResumed",
    "KpiStarted",
    "KpiStatus",
    "KpiSucceeded",
    "NoApplicablePolicyError",
    "NoWorkingTimeError",
    "PolicyItem",
    "SlaError",
    "SlaPolicy",
    "Weekday",
    "WorkingInterval",
    "add_working_time",
    "choose_policy",
    "is_working",
    "next_working_moment",
    "start_kpi",
    "working_time_between",
]
