"""KPI instances: one KPI of one case measured against its target in working time.

Statuses and the commands that move between them::

    in_progress ──tick──▶ nearing_breach ──tick──▶ breached ──tick──▶ breached, a level up
    in_progress or nearing_breach ──pause──▶ paused ──resume──▶ the status it was paused in
    any open status (the four above) ──succeed──▶ succeeded
    any open status (the four above) ──cancel───▶ cancelled
    succeeded or cancelled ──reopen──▶ in_progress (nearing_breach, breached: as it had come to)

Every command takes `now` and returns the events it caused, oldest first. Before acting,
pause, succeed and cancel catch up on the warning and breach moments that have already
passed, so each of them is reported exactly once however late the timer runs. A breached
KPI ignores pause and resume: its deadline has passed, so its clock no longer matters.
A deadline is reached at `due_at` itself: meeting the KPI at that moment is late.

A breached KPI that is still open climbs its policy's escalation ladder: each step falls due
its delay after the breach, and only the timer's tick fires it (a case resolved meanwhile has
no one left to escalate to).

Reopening continues an ended KPI (the resolution of a case opened again) rather than starting
it afresh: the working time it had used is kept and its clock runs again from the reopening, so
the time between the end and the reopening does not count.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TypedDict
from uuid import UUID

from sla.domain.calendar import Calendar, add_working_time, require_aware, working_time_between
from sla.domain.errors import InvalidTimeError, InvalidTransitionError
from sla.domain.policy import (
    DEFAULT_LADDER,
    DEFAULT_PAUSE_STATUSES,
    EscalationStep,
    KpiDefinition,
    ReopenMode,
)

_ZERO = timedelta(0)


class KpiStatus(StrEnum):
    """Where a KPI instance stands."""

    IN_PROGRESS = "in_progress"
    PAUSED = "paused"
    NEARING_BREACH = "nearing_breach"
    BREACHED = "breached"
    SUCCEEDED = "succeeded"
    CANCELLED = "cancelled"


_RUNNING = frozenset({KpiStatus.IN_PROGRESS, KpiStatus.NEARING_BREACH})
_OPEN = _RUNNING | {KpiStatus.PAUSED, KpiStatus.BREACHED}
_ENDED = frozenset({KpiStatus.SUCCEEDED, KpiStatus.CANCELLED})


@dataclass(frozen=True, kw_only=True)
class KpiEvent:
    """Something that happened to one KPI of one case at one moment."""

    instance_id: UUID
    case_id: UUID
    kpi: str
    occurred_at: datetime


@dataclass(frozen=True, kw_only=True)
class KpiStarted(KpiEvent):
    """A KPI started counting for a case under a policy."""

    policy_id: UUID
    target: timedelta
    due_at: datetime
    warn_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class KpiPaused(KpiEvent):
    """A KPI's clock stopped while the case waits; `consumed` working time is used so far."""

    consumed: timedelta
    remaining: timedelta


@dataclass(frozen=True, kw_only=True)
class KpiResumed(KpiEvent):
    """A KPI's clock runs again, towards a deadline moved by the wait."""

    due_at: datetime
    warn_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class KpiNearingBreach(KpiEvent):
    """A KPI reached its warning point; `occurred_at` is that point, `due_at` the deadline."""

    due_at: datetime


@dataclass(frozen=True, kw_only=True)
class KpiBreached(KpiEvent):
    """A KPI was not met by its deadline, which is `occurred_at`."""


@dataclass(frozen=True, kw_only=True)
class KpiEscalated(KpiEvent):
    """A breached KPI reached step `level` (1 first) of its escalation ladder, `step`;
    `occurred_at` is the moment the step fell due, `breached_at` the deadline it missed."""

    level: int
    step: EscalationStep
    breached_at: datetime


@dataclass(frozen=True, kw_only=True)
class KpiSucceeded(KpiEvent):
    """A KPI was met; `breached` tells whether that was after its deadline."""

    breached: bool


@dataclass(frozen=True, kw_only=True)
class KpiCancelled(KpiEvent):
    """A KPI stopped counting without being met, for example because the case was cancelled."""


@dataclass(frozen=True, kw_only=True)
class KpiReEvaluated(KpiEvent):
    """The KPI is measured against another target or calendar since the case's facts changed;
    the working time it had used stays. `due_at` is None while it is paused."""

    policy_id: UUID
    target: timedelta
    status: KpiStatus
    due_at: datetime | None
    warn_at: datetime | None
    reason: str


class _EventIdentity(TypedDict):
    instance_id: UUID
    case_id: UUID
    kpi: str
    occurred_at: datetime


@dataclass(kw_only=True)
class KpiInstance:
    """One KPI of one case, measured in working time against its target.

    `consumed` is the working time used before the current running stretch, which began at
    `running_since` (None while paused). `due_at` is the deadline while the clock runs (None
    while paused). `warn_at` is the warning moment: None for a KPI without a warning, and
    None while paused before the warning fired. `warned_at` and `breached_at` record when
    the warning and the breach happened; `ended_at` when the KPI succeeded or was cancelled.
    """

    instance_id: UUID
    case_id: UUID
    policy_id: UUID
    kpi: str
    target: timedelta
    warn_after: timedelta | None
    started_at: datetime
    status: KpiStatus
    consumed: timedelta
    running_since: datetime | None
    due_at: datetime | None
    warn_at: datetime | None
    paused_at: datetime | None = None
    warned_at: datetime | None = None
    breached_at: datetime | None = None
    ended_at: datetime | None = None
    pause_statuses: frozenset[str] = DEFAULT_PAUSE_STATUSES
    """The case statuses in which the clock stops."""
    reopen_mode: ReopenMode = ReopenMode.CONTINUE
    """What reopening the case does to it, once it has ended."""
    ladder: tuple[EscalationStep, ...] = DEFAULT_LADDER
    """Who hears of its breach, and when."""
    escalated: int = 0
    """How many steps of the ladder have fired."""
    calendar_id: UUID | None = None
    """The calendar its definition names; None when it counts on the case's."""

    def pauses_in(self, status: str) -> bool:
        """Whether the clock stops while the case is in `status`."""
        return status in self.pause_statuses

    @property
    def is_running(self) -> bool:
        """Whether the clock runs towards a deadline that has not yet been reached."""
        return self.status in _RUNNING

    @property
    def is_open(self) -> bool:
        """Whether the KPI still waits to be met or cancelled."""
        return self.status in _OPEN

    @property
    def breached(self) -> bool:
        """Whether the deadline passed before the KPI was met."""
        return self.breached_at is not None

    @property
    def next_check_at(self) -> datetime | None:
        """The next moment a tick has something to fire, or None when nothing is pending."""
        if self.status is KpiStatus.BREACHED:
            step = self._next_step()
            return None if step is None else self._breached_at() + step.after
        if not self.is_running:
            return None
        if self.warn_at is not None and self.warned_at is None:
            return self.warn_at
        return self.due_at

    def consumed_at(self, now: datetime, calendar: Calendar) -> timedelta:
        """The working time used by `now`, or by the end for a succeeded or cancelled KPI."""
        require_aware(now, "now")
        if self.running_since is None:
            return self.consumed
        until = self.ended_at if self.ended_at is not None else now
        if until <= self.running_since:
            return self.consumed
        return self.consumed + working_time_between(self.running_since, until, calendar)

    def remaining_at(self, now: datetime, calendar: Calendar) -> timedelta:
        """The working time left before the deadline at `now` (negative once overdue)."""
        return self.target - self.consumed_at(now, calendar)

    def tick(self, now: datetime) -> list[KpiEvent]:
        """Fire the warning, the breach and the escalation steps whose moments have come,
        each once, in order."""
        events = self._fire_deadlines(now)
        while self.status is KpiStatus.BREACHED and (step := self._next_step()) is not None:
            due = self._breached_at() + step.after
            if now < due:
                break
            self.escalated += 1
            events.append(
                KpiEscalated(
                    **self._about(due),
                    level=self.escalated,
                    step=step,
                    breached_at=self._breached_at(),
                )
            )
        return events

    def _fire_deadlines(self, now: datetime) -> list[KpiEvent]:
        """Fire the warning and the breach whose moments have come, each once, in order."""
        require_aware(now, "now")
        if not self.is_running:
            return []
        events: list[KpiEvent] = []
        if self.warn_at is not None and self.warned_at is None and now >= self.warn_at:
            self.warned_at = self.warn_at
            self.status = KpiStatus.NEARING_BREACH
            events.append(KpiNearingBreach(**self._about(self.warn_at), due_at=self._deadline()))
        if now >= self._deadline():
            self.breached_at = self._deadline()
            self.status = KpiStatus.BREACHED
            events.append(KpiBreached(**self._about(self._deadline())))
        return events

    def pause(self, now: datetime, calendar: Calendar) -> list[KpiEvent]:
        """Stop the clock while the case waits, keeping the working time used so far."""
        require_aware(now, "now")
        if self.status is KpiStatus.BREACHED:
            return []
        self._require(_RUNNING, "pause")
        self._require_not_before(now)
        events = self._fire_deadlines(now)
        if not self.is_running:
            return events
        self.consumed += working_time_between(self._running_since(), now, calendar)
        self.running_since = None
        self.paused_at = now
        self.due_at = None
        if self.warned_at is None:
            self.warn_at = None
        self.status = KpiStatus.PAUSED
        events.append(
            KpiPaused(
                **self._about(now),
                consumed=self.consumed,
                remaining=self.target - self.consumed,
            )
        )
        return events

    def resume(self, now: datetime, calendar: Calendar) -> list[KpiEvent]:
        """Restart the clock after a wait; the deadline moves by the working time waited."""
        require_aware(now, "now")
        if self.status is KpiStatus.BREACHED:
            return []
        self._require({KpiStatus.PAUSED}, "resume")
        self._require_not_before(now)
        self.due_at = add_working_time(now, max(self.target - self.consumed, _ZERO), calendar)
        if self.warn_after is not None and self.warned_at is None:
            self.warn_at = add_working_time(
                now, max(self.warn_after - self.consumed, _ZERO), calendar
            )
        self.running_since = now
        self.paused_at = None
        self.status = KpiStatus.IN_PROGRESS if self.warned_at is None else KpiStatus.NEARING_BREACH
        return [KpiResumed(**self._about(now), due_at=self.due_at, warn_at=self.warn_at)]

    def reopen(self, now: datetime, calendar: Calendar) -> list[KpiEvent]:
        """Measure an ended KPI again from `now`, as its `reopen_mode` says.

        Continuing, it keeps the working time it had already used: its deadline is what
        remained of its target, counted from `now`. A KPI that had breached stays breached
        (and is met late when it next succeeds); one whose warning had fired keeps it fired.
        Restarting, it is measured afresh: the whole target from `now`, its warning and
        breach to come again (the earlier ones stay in its state log).
        """
        return self._measure_again(now, calendar, afresh=self.reopen_mode is ReopenMode.RESTART)

    def restart(self, now: datetime, calendar: Calendar) -> list[KpiEvent]:
        """Measure an ended KPI afresh from `now`, whatever its reopen mode (a next response
        at the customer's next message)."""
        return self._measure_again(now, calendar, afresh=True)

    def _measure_again(self, now: datetime, calendar: Calendar, *, afresh: bool) -> list[KpiEvent]:
        require_aware(now, "now")
        self._require(_ENDED, "reopen")
        self._require_not_before(now)
        ended_at = self._ended_at()
        if afresh:
            self.consumed = _ZERO
            self.warned_at = None
            self.breached_at = None
            self.warn_at = None
            self.escalated = 0
        else:
            self.consumed = self.consumed_at(ended_at, calendar)
            if self.breached_at is not None:
                # The steps that fell due while the case was closed are not climbed late:
                # the ladder goes on from the next one to come.
                passed = [s for s in self.ladder if self.breached_at + s.after <= now]
                self.escalated = max(self.escalated, len(passed))
        self.running_since = now
        self.paused_at = None
        self.ended_at = None
        if self.breached:
            # The deadline has passed for good; the clock only keeps counting the time used.
            self.status = KpiStatus.BREACHED
        else:
            self.due_at = add_working_time(now, max(self.target - self.consumed, _ZERO), calendar)
            if self.warn_after is not None and self.warned_at is None:
                self.warn_at = add_working_time(
                    now, max(self.warn_after - self.consumed, _ZERO), calendar
                )
            self.status = (
                KpiStatus.IN_PROGRESS if self.warned_at is None else KpiStatus.NEARING_BREACH
            )
        return [KpiResumed(**self._about(now), due_at=self._deadline(), warn_at=self.warn_at)]

    def re_evaluate(
        self,
        definition: KpiDefinition,
        now: datetime,
        *,
        was: Calendar,
        calendar: Calendar,
        policy_id: UUID,
        reason: str,
    ) -> list[KpiEvent]:
        """Measure the KPI against `definition`'s target from `now`, on `calendar`, keeping the
        working time used so far (counted on the calendar it `was` measured on).

        An ended or breached KPI keeps its outcome; a warning already given stays given. A new
        target already used up breaches at the next tick.
        """
        require_aware(now, "now")
        if not self.is_open or self.status is KpiStatus.BREACHED:
            return []
        self._require_not_before(now)
        events = self._fire_deadlines(now)
        if self.breached:
            return events  # the deadline passed before the facts changed: the outcome stands
        if self.running_since is not None:
            self.consumed += working_time_between(self.running_since, now, was)
            self.running_since = now
        self.policy_id = policy_id
        self.target = definition.target
        self.warn_after = definition.warn_after
        self.pause_statuses = definition.pause_statuses
        self.calendar_id = definition.calendar_id
        if self.warned_at is None:
            self.warn_at = None
        if self.is_running:
            self.due_at = add_working_time(now, max(self.target - self.consumed, _ZERO), calendar)
            if self.warn_after is not None and self.warned_at is None:
                self.warn_at = add_working_time(
                    now, max(self.warn_after - self.consumed, _ZERO), calendar
                )
        events.append(
            KpiReEvaluated(
                **self._about(now),
                policy_id=policy_id,
                target=self.target,
                status=self.status,
                due_at=self.due_at if self.is_running else None,
                warn_at=self.warn_at,
                reason=reason,
            )
        )
        return events

    def succeed(self, now: datetime) -> list[KpiEvent]:
        """Record that the KPI was met, late if its deadline had already come."""
        events = self._close(now, "succeed", KpiStatus.SUCCEEDED)
        events.append(KpiSucceeded(**self._about(now), breached=self.breached))
        return events

    def cancel(self, now: datetime) -> list[KpiEvent]:
        """Stop measuring the KPI without it being met."""
        events = self._close(now, "cancel", KpiStatus.CANCELLED)
        events.append(KpiCancelled(**self._about(now)))
        return events

    def settle(self, calendar: Calendar) -> None:
        """Fold the last running stretch of an ended KPI into `consumed`, so that the working
        time it used is kept as a figure (its clock stopped at the end)."""
        self._require(_ENDED, "settle")
        self.consumed = self.consumed_at(self._ended_at(), calendar)
        self.running_since = None

    def _close(self, now: datetime, command: str, status: KpiStatus) -> list[KpiEvent]:
        require_aware(now, "now")
        self._require(_OPEN, command)
        self._require_not_before(now)
        events = self._fire_deadlines(now)
        self.status = status
        self.ended_at = now
        return events

    def _about(self, moment: datetime) -> _EventIdentity:
        return {
            "instance_id": self.instance_id,
            "case_id": self.case_id,
            "kpi": self.kpi,
            "occurred_at": moment,
        }

    def _require(self, allowed: Collection[KpiStatus], command: str) -> None:
        if self.status not in allowed:
            raise InvalidTransitionError(
                f"cannot {command} KPI {self.kpi!r} of case {self.case_id}: "
                f"it is {self.status.value}"
            )

    def _require_not_before(self, now: datetime) -> None:
        last = max(
            moment
            for moment in (self.started_at, self.running_since, self.paused_at, self.ended_at)
            if moment is not None
        )
        if now < last:
            raise InvalidTimeError(
                f"KPI {self.kpi!r} of case {self.case_id} last changed at {last.isoformat()}, "
                f"after {now.isoformat()}"
            )

    def _deadline(self) -> datetime:
        if self.due_at is None:
            raise InvalidTransitionError(f"KPI {self.kpi!r} runs without a deadline")
        return self.due_at

    def _next_step(self) -> EscalationStep | None:
        return self.ladder[self.escalated] if self.escalated < len(self.ladder) else None

    def _breached_at(self) -> datetime:
        if self.breached_at is None:
            raise InvalidTransitionError(f"KPI {self.kpi!r} is breached without a breach")
        return self.breached_at

    def _ended_at(self) -> datetime:
        if self.ended_at is None:
            raise InvalidTransitionError(f"KPI {self.kpi!r} ended without an end")
        return self.ended_at

    def _running_since(self) -> datetime:
        if self.running_since is None:
            raise InvalidTransitionError(f"KPI {self.kpi!r} runs without a start")
        return self.running_since


def start_kpi(
    *,
    instance_id: UUID,
    case_id: UUID,
    policy_id: UUID,
    definition: KpiDefinition,
    calendar: Calendar,
    now: datetime,
    reopen: ReopenMode = ReopenMode.CONTINUE,
    ladder: tuple[EscalationStep, ...] = DEFAULT_LADDER,
) -> tuple[KpiInstance, list[KpiEvent]]:
    """Start measuring a KPI of a case from `now`, with its deadline on the calendar;
    `reopen` says what reopening the case will do to it, `ladder` who hears of a breach."""
    require_aware(now, "now")
    due_at = add_working_time(now, definition.target, calendar)
    warn_after = definition.warn_after
    warn_at = None if warn_after is None else add_working_time(now, warn_after, calendar)
    instance = KpiInstance(
        instance_id=instance_id,
        case_id=case_id,
        policy_id=policy_id,
        kpi=definition.name,
        target=definition.target,
        warn_after=warn_after,
        started_at=now,
        status=KpiStatus.IN_PROGRESS,
        consumed=_ZERO,
        running_since=now,
        due_at=due_at,
        warn_at=warn_at,
        pause_statuses=definition.pause_statuses,
        reopen_mode=reopen,
        ladder=ladder,
        calendar_id=definition.calendar_id,
    )
    started = KpiStarted(
        instance_id=instance_id,
        case_id=case_id,
        kpi=definition.name,
        occurred_at=now,
        policy_id=policy_id,
        target=definition.target,
        due_at=due_at,
        warn_at=warn_at,
    )
    return instance, [started]
