"""The cases domain: cases, their numbers, priority rules and entitlements, as pure Python."""

from cases.domain.case import (
    ALLOWED_TRANSITIONS,
    WORKING_STATUSES,
    Activity,
    Case,
    Customer,
    Resolution,
    can_transition,
    open_case,
)
from cases.domain.entitlements import (
    Entitlement,
    EntitlementCheck,
    EntitlementKind,
    EntitlementRefusal,
    check_entitlement,
)
from cases.domain.errors import (
    CaseClosedError,
    CaseError,
    CaseNumberError,
    CaseValidationError,
    InvalidTransitionError,
)
from cases.domain.events import (
    ActivityLogged,
    CaseCancelled,
    CaseEscalated,
    CaseEvent,
    CaseOpened,
    CaseReopened,
    CaseResolved,
    CaseStatusChanged,
    CaseUpdated,
    EntitlementDeducted,
)
from cases.domain.numbers import (
    find_case_numbers,
    format_case_number,
    normalize_case_number,
    parse_case_number,
)
from cases.domain.priority import DEFAULT_PRIORITY, PriorityRule, initial_priority
from cases.domain.values import ActivityKind, CaseStatus, Channel, Priority

__all__ = [
    "ALLOWED_TRANSITIONS",
    "DEFAULT_PRIORITY",
    "WORKING_STATUSES",
    "Activity",
    "ActivityKind",
    "ActivityLogged",
    "Case",
    "CaseCancelled",
    "CaseClosedError",
    "CaseError",
    "CaseEscalated",
    "CaseEvent",
    "CaseNumberError",
    "CaseOpened",
    "CaseReopened",
    "CaseResolved",
    "CaseStatus",
    "CaseStatusChanged",
    "CaseUpdated",
    "CaseValidationError",
    "Channel",
    "Customer",
    "Entitlement",
    "EntitlementCheck",
    "EntitlementDeducted",
    "EntitlementKind",
    "EntitlementRefusal",
    "InvalidTransitionError",
    "Priority",
    "PriorityRule",
    "Resolution",
    "can_transition",
    "check_entitlement",
    "find_case_numbers",
    "format_case_number",
    "initial_priority",
    "normalize_case_number",
    "open_case",
    "parse_case_number",
]
