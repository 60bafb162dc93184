"""The SLA use cases with in-memory fakes: starting, moving, ticking and reading KPIs."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from types import TracebackType
from typing import Self
from uuid import UUID, uuid4

import pytest
from structlog.testing import capture_logs

from sla.app.commands import (
    CaseChange,
    CreateCalendar,
    RecordCancellation,
    RecordFirstResponse,
    RecordReopening,
    RecordResolution,
    RecordStatusChange,
    StartKpis,
)
from sla.app.handlers import (
    CalendarNameTaken,
    CaseNotKnown,
    InvalidPeriodError,
    apply_case_change,
    compliance,
    create_calendar,
    is_first_response,
    kpis_of_case,
    start_kpis,
    tick_kpis,
)
from sla.app.ports import CaseSla, KpiCompliance, NamedCalendar
from sla.domain import (
    AppliesTo,
    Calendar,
    EscalationStep,
    EscalationTarget,
    InvalidCalendarError,
    KpiBreached,
    KpiCancelled,
    KpiDefinition,
    KpiEscalated,
    KpiEvent,
    KpiInstance,
    KpiNearingBreach,
    KpiPaused,
    KpiResumed,
    KpiStarted,
    KpiStatus,
    KpiSucceeded,
    SlaPolicy,
)

pytestmark = pytest.mark.unit

OPENED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
CASE = UUID("ca5e0000-0000-4000-8000-000000000001")
ALWAYS = UUID("ca1e0000-0000-4000-8000-000000000001")
OFFICE = UUID("ca1e0000-0000-4000-8000-000000000002")
DEFAULT = UUID("9011c400-0000-4000-8000-000000000001")
URGENT = UUID("9011c400-0000-4000-8000-000000000002")


def hours(amount: float) -> timedelta:
    return timedelta(hours=amount)


DEFAULT_POLICY = SlaPolicy(
    policy_id=DEFAULT,
    name="Default",
    calendar_id=ALWAYS,
    kpis=(
        KpiDefinition("first_response", hours(8), hours(2)),
        KpiDefinition("resolution", timedelta(days=5)),
    ),
    is_default=True,
)
URGENT_POLICY = SlaPolicy(
    policy_id=URGENT,
    name="Urgent",
    calendar_id=OFFICE,
    kpis=(KpiDefinition("first_response", hours(1)),),
    applies_to=AppliesTo(priorities=frozenset({"urgent"})),
)


# -- fakes ---------------------------------------------------------------------------------


class FakeCaseSlaRepository:
    def __init__(self) -> None:
        self.slas: dict[UUID, CaseSla] = {}
        self.parked: list[CaseChange] = []
        self.assignees_of: dict[UUID, UUID | None] = {}
        self.queue_of_case: dict[UUID, UUID] = {}
        self.managers: dict[UUID, tuple[str | None, UUID | None]] = {}

    async def get(self, case_id: UUID) -> CaseSla | None:
        return self.slas.get(case_id)

    async def add(self, sla: CaseSla) -> None:
        assert sla.case_id not in self.slas, "a case opens once"
        self.slas[sla.case_id] = sla

    async def park(self, change: CaseChange) -> None:
        self.parked.append(change)

    async def take_parked(self, case_id: UUID) -> list[CaseChange]:
        taken = [change for change in self.parked if change.case_id == case_id]
        self.parked = [change for change in self.parked if change.case_id != case_id]
        return taken

    async def save(self, sla: CaseSla) -> None:
        assert sla.case_id in self.slas
        self.slas[sla.case_id] = sla

    async def set_assignee(self, case_id: UUID, agent_id: UUID | None) -> None:
        self.assignees_of[case_id] = agent_id

    async def set_queue(self, case_id: UUID, queue_id: UUID) -> None:
        self.queue_of_case[case_id] = queue_id

    async def queue_of(self, case_id: UUID) -> UUID | None:
        return self.queue_of_case.get(case_id)

    async def placements(
        self, case_ids: Collection[UUID]
    ) -> dict[UUID, tuple[UUID | None, UUID | None]]:
        placed = {i: (self.assignees_of.get(i), self.queue_of_case.get(i)) for i in case_ids}
        return {i: both for i, both in placed.items() if both != (None, None)}

    async def get_many(self, case_ids: Collection[UUID]) -> dict[UUID, CaseSla]:
        return {i: self.slas[i] for i in case_ids if i in self.slas}

    async def assignees(self, case_ids: Collection[UUID]) -> dict[UUID, UUID]:
        return {i: a for i in case_ids if (a := self.assignees_of.get(i)) is not None}

    async def people(
        self, agent_ids: Collection[UUID]
    ) -> dict[UUID, tuple[str | None, UUID | None]]:
        return {i: self.managers[i] for i in agent_ids if i in self.managers}

    async def keep_agent(
        self, agent_id: UUID, *, name: str, manager_id: UUID | None, version: int
    ) -> None:
        self.managers[agent_id] = (name, manager_id)


class FakeKpiRepository:
    """Keeps copies, as a database would: changes count only once saved."""

    def __init__(self) -> None:
        self.rows: dict[UUID, KpiInstance] = {}

    async def of_case(self, case_id: UUID, *, for_update: bool = False) -> list[KpiInstance]:
        return [copy.copy(k) for k in self.rows.values() if k.case_id == case_id]

    async def add(self, instance: KpiInstance) -> None:
        assert all(
            (k.case_id, k.kpi) != (instance.case_id, instance.kpi) for k in self.rows.values()
        ), "one instance per KPI and case"
        self.rows[instance.instance_id] = copy.copy(instance)

    async def save(self, instance: KpiInstance) -> None:
        assert instance.instance_id in self.rows
        self.rows[instance.instance_id] = copy.copy(instance)

    async def save_many(self, instances: Sequence[KpiInstance]) -> None:
        for instance in instances:
            await self.save(instance)

    async def next_check(self) -> datetime | None:
        return min((k.next_check_at for k in self.rows.values() if k.next_check_at), default=None)

    async def claim_due(self, now: datetime, *, limit: int) -> list[KpiInstance]:
        due = [
            k for k in self.rows.values() if k.next_check_at is not None and k.next_check_at <= now
        ]
        due.sort(key=lambda k: k.next_check_at or now)
        return [copy.copy(k) for k in due[:limit]]

    async def compliance(self, *, since: datetime, until: datetime) -> list[KpiCompliance]:
        raise AssertionError("not used by these tests")

    def one(self, kpi: str) -> KpiInstance:
        [instance] = [k for k in self.rows.values() if k.kpi == kpi]
        return instance


class FakePolicyRepository:
    def __init__(self, policies: Iterable[SlaPolicy]) -> None:
        self.policies = list(policies)

    async def list(self) -> list[SlaPolicy]:
        return list(self.policies)


class FakeCalendarRepository:
    def __init__(self, calendars: Iterable[NamedCalendar]) -> None:
        self.calendars = {named.calendar_id: named for named in calendars}

    async def get(self, calendar_id: UUID) -> NamedCalendar | None:
        return self.calendars.get(calendar_id)

    async def get_by_name(self, name: str) -> NamedCalendar | None:
        return next((c for c in self.calendars.values() if c.name == name), None)

    async def list(self) -> list[NamedCalendar]:
        return sorted(self.calendars.values(), key=lambda c: c.name)

    async def add(self, calendar: NamedCalendar) -> None:
        self.calendars[calendar.calendar_id] = calendar


class FakeQueueManagerRepository:
    def __init__(self) -> None:
        self.managers: dict[UUID, UUID] = {}

    async def get(self, queue_id: UUID) -> UUID | None:
        return self.managers.get(queue_id)

    async def put(self, queue_id: UUID, manager_id: UUID) -> None:
        self.managers[queue_id] = manager_id

    async def delete(self, queue_id: UUID) -> bool:
        return self.managers.pop(queue_id, None) is not None

    async def all(self) -> dict[UUID, UUID]:
        return dict(self.managers)

    async def of_queues(self, queue_ids: Collection[UUID]) -> dict[UUID, UUID]:
        return {q: m for q in queue_ids if (m := self.managers.get(q)) is not None}


@dataclass(frozen=True)
class Raised:
    """An escalation SLA asked the cases service for."""

    case_id: UUID
    kpi: str
    level: int
    to: UUID | None
    assignee: UUID | None
    queue: UUID | None
    reason: str


class FakeSlaUnitOfWork:
    """Events count as published only once committed."""

    def __init__(self, policies: Iterable[SlaPolicy] = (DEFAULT_POLICY, URGENT_POLICY)) -> None:
        self.cases = FakeCaseSlaRepository()
        self.kpis = FakeKpiRepository()
        self.queue_managers = FakeQueueManagerRepository()
        self.policies = FakePolicyRepository(policies)
        self.calendars = FakeCalendarRepository(
            [
                NamedCalendar(calendar_id=ALWAYS, name="24x7", calendar=Calendar.always_open()),
                NamedCalendar(
                    calendar_id=OFFICE, name="office", calendar=Calendar.business_hours("UTC")
                ),
            ]
        )
        self._pending: list[tuple[KpiEvent, UUID | None, datetime | None]] = []
        self.published: list[tuple[KpiEvent, UUID | None, datetime | None]] = []
        self._told: list[tuple[UUID, str, datetime]] = []
        self.told: list[tuple[UUID, str, datetime]] = []
        self._raised: list[Raised] = []
        self.raised: list[Raised] = []
        self.commits = 0

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._pending = []
        self._told = []
        self._raised = []

    def emit(
        self,
        events: Iterable[KpiEvent],
        *,
        calendar_id: UUID | None = None,
        due_at: datetime | None = None,
    ) -> None:
        self._pending.extend((event, calendar_id, due_at) for event in events)

    def escalate(
        self,
        step: KpiEscalated,
        *,
        escalated_to: UUID | None,
        assignee_id: UUID | None,
        queue_id: UUID | None,
        reason: str,
    ) -> None:
        self._pending.append((step, None, None))
        self._raised.append(
            Raised(step.case_id, step.kpi, step.level, escalated_to, assignee_id, queue_id, reason)
        )

    def notify(
        self,
        *,
        recipient: UUID,
        template: str,
        case_id: UUID,
        at: datetime,
        parameters: dict[str, str],
    ) -> None:
        self._told.append((recipient, template, at))

    async def commit(self) -> None:
        self.published.extend(self._pending)
        self._pending = []
        self.told.extend(self._told)
        self._told = []
        self.raised.extend(self._raised)
        self._raised = []
        self.commits += 1

    def events(self) -> list[KpiEvent]:
        return [event for event, _, _ in self.published]

    def take(self) -> list[tuple[type[KpiEvent], str]]:
        """What was published since the last look, as (event type, KPI) pairs."""
        taken = [(type(event), event.kpi) for event in self.events()]
        self.published = []
        return taken


def opening(**overrides: object) -> StartKpis:
    values: dict[str, object] = {
        "case_id": CASE,
        "opened_at": OPENED,
        "status": "new",
        "priority": "normal",
        "channel": "email",
    }
    values.update(overrides)
    return StartKpis(**values)  # type: ignore[arg-type]


async def opened_case(uow: FakeSlaUnitOfWork, **overrides: object) -> None:
    await start_kpis(opening(**overrides), uow=uow)
    uow.published = []


# -- starting ------------------------------------------------------------------------------


async def test_an_opened_case_gets_the_default_policy_kpis_on_its_calendar() -> None:
    uow = FakeSlaUnitOfWork()
    counter = itertools.count(1)

    started = await start_kpis(opening(), uow=uow, new_id=lambda: UUID(int=next(counter)))

    assert [(k.kpi, k.due_at, k.warn_at) for k in started] == [
        ("first_response", OPENED + hours(8), OPENED + hours(6)),
        ("resolution", OPENED + timedelta(days=5), None),
    ]
    assert [k.instance_id for k in started] == [UUID(int=1), UUID(int=2)]
    assert uow.kpis.one("first_response").status is KpiStatus.IN_PROGRESS
    assert uow.cases.slas[CASE] == CaseSla(
        case_id=CASE,
        policy_id=DEFAULT,
        calendar_id=ALWAYS,
        opened_at=OPENED,
        priority="normal",
        channel="email",
    )
    [(first, calendar_id, _), (resolution, _, _)] = uow.published
    assert isinstance(first, KpiStarted) and isinstance(resolution, KpiStarted)
    assert (first.kpi, first.due_at, first.occurred_at) == (
        "first_response",
        OPENED + hours(8),
        OPENED,
    )
    assert calendar_id == ALWAYS


async def test_an_opening_delivered_again_starts_nothing_twice() -> None:
    uow = FakeSlaUnitOfWork()
    await start_kpis(opening(), uow=uow)
    uow.published = []

    again = await start_kpis(opening(opened_at=OPENED + hours(1)), uow=uow)

    assert again == []
    assert uow.published == []
    assert len(uow.kpis.rows) == 2
    assert uow.kpis.one("first_response").due_at == OPENED + hours(8)


async def test_the_first_policy_whose_conditions_hold_is_chosen() -> None:
    uow = FakeSlaUnitOfWork()

    friday_afternoon = datetime(2026, 3, 6, 16, 30, tzinfo=UTC)
    [urgent] = await start_kpis(opening(priority="urgent", opened_at=friday_afternoon), uow=uow)

    # Urgent cases are measured in office hours (Mon-Fri 9-17 UTC): half an hour on Friday,
    # the other half on Monday morning.
    assert (urgent.policy_id, urgent.due_at) == (URGENT, datetime(2026, 3, 9, 9, 30, tzinfo=UTC))
    assert uow.cases.slas[CASE].calendar_id == OFFICE


async def test_a_case_opened_waiting_starts_with_its_clocks_stopped() -> None:
    uow = FakeSlaUnitOfWork()

    await start_kpis(opening(status="waiting_for_customer"), uow=uow)

    assert uow.take() == [
        (KpiStarted, "first_response"),
        (KpiStarted, "resolution"),
        (KpiPaused, "first_response"),
        (KpiPaused, "resolution"),
    ]
    assert uow.kpis.one("first_response").status is KpiStatus.PAUSED
    assert uow.kpis.one("first_response").next_check_at is None


async def test_a_case_no_policy_applies_to_is_remembered_without_kpis() -> None:
    uow = FakeSlaUnitOfWork(policies=[URGENT_POLICY])

    assert await start_kpis(opening(priority="low"), uow=uow) == []
    await apply_case_change(RecordResolution(case_id=CASE, at=OPENED + hours(1)), uow=uow)

    assert uow.cases.slas[CASE].policy_id is None
    assert uow.cases.parked == []  # known case: its changes are not parked, just ignored
    assert uow.published == [] and uow.kpis.rows == {}


# -- the contract's policy and calendar ----------------------------------------------------

FRIDAY_4PM = datetime(2026, 3, 6, 16, 0, tzinfo=UTC)


async def test_the_contracts_policy_applies_whatever_the_case_would_otherwise_get() -> None:
    uow = FakeSlaUnitOfWork()

    [first] = await start_kpis(opening(priority="normal", sla_policy_id=URGENT), uow=uow)

    assert (first.policy_id, first.kpi, first.target) == (URGENT, "first_response", hours(1))
    # The facts the policy was chosen on are kept with it, the contract's policy among them.
    assert uow.cases.slas[CASE] == CaseSla(
        case_id=CASE,
        policy_id=URGENT,
        calendar_id=OFFICE,
        opened_at=OPENED,
        priority="normal",
        channel="email",
        sla_policy_id=URGENT,
    )


async def test_the_contracts_calendar_replaces_the_policys_own() -> None:
    uow = FakeSlaUnitOfWork()

    started = await start_kpis(
        opening(opened_at=FRIDAY_4PM, sla_policy_id=DEFAULT, calendar_id=OFFICE), uow=uow
    )

    # The default policy's 8 hours, counted in office hours: one on Friday, seven on Monday.
    assert [(k.policy_id, k.kpi) for k in started] == [
        (DEFAULT, "first_response"),
        (DEFAULT, "resolution"),
    ]
    assert uow.kpis.one("first_response").due_at == datetime(2026, 3, 9, 16, 0, tzinfo=UTC)
    assert uow.cases.slas[CASE].calendar_id == OFFICE
    assert {calendar_id for _, calendar_id, _ in uow.published} == {OFFICE}
    # Reading the KPIs later counts on the same calendar: the weekend used no time.
    states = await kpis_of_case(CASE, uow=uow, now=datetime(2026, 3, 9, 10, 0, tzinfo=UTC))
    assert {state.instance.kpi: state.consumed for state in states}["first_response"] == hours(2)


@pytest.mark.parametrize(("priority", "expected"), [("normal", DEFAULT), ("urgent", URGENT)])
async def test_an_unknown_contract_policy_falls_back_on_the_policy_the_case_would_get(
    priority: str, expected: UUID
) -> None:
    uow = FakeSlaUnitOfWork()

    with capture_logs() as logs:
        started = await start_kpis(
            opening(priority=priority, sla_policy_id=uuid4(), calendar_id=OFFICE), uow=uow
        )

    assert started and {k.policy_id for k in started} == {expected}
    # The contract's calendar goes with the contract's policy, so the fallback's own applies.
    assert uow.cases.slas[CASE].calendar_id == (ALWAYS if expected == DEFAULT else OFFICE)
    assert [(entry["event"], entry["log_level"]) for entry in logs] == [
        ("sla.contract_policy_unknown", "warning")
    ]


async def test_an_unknown_contract_calendar_leaves_the_policy_on_its_own() -> None:
    uow = FakeSlaUnitOfWork()

    with capture_logs() as logs:
        started = await start_kpis(opening(sla_policy_id=URGENT, calendar_id=uuid4()), uow=uow)

    assert [k.policy_id for k in started] == [URGENT]
    assert uow.cases.slas[CASE].calendar_id == OFFICE
    assert [(entry["event"], entry["log_level"]) for entry in logs] == [
        ("sla.contract_calendar_unknown", "warning")
    ]


async def test_a_calendar_named_without_a_contract_policy_is_not_used() -> None:
    uow = FakeSlaUnitOfWork()

    started = await start_kpis(opening(calendar_id=OFFICE), uow=uow)

    assert {k.policy_id for k in started} == {DEFAULT}
    assert uow.cases.slas[CASE].calendar_id == ALWAYS


async def test_an_unknown_contract_policy_and_no_policy_applying_leaves_the_case_unmeasured() -> (
    None
):
    uow = FakeSlaUnitOfWork(policies=[URGENT_POLICY])

    assert await start_kpis(opening(priority="low", sla_policy_id=uuid4()), uow=uow) == []
    assert uow.cases.slas[CASE].policy_id is None


# -- pausing and resuming ------------------------------------------------------------------


async def test_waiting_for_the_customer_stops_the_clocks_and_coming_back_moves_the_deadline() -> (
    None
):
    uow = FakeSlaUnitOfWork()
    await opened_case(uow)

    await apply_case_change(
        RecordStatusChange(case_id=CASE, at=OPENED + hours(1), status="waiting_for_customer"),
        uow=uow,
    )
    paused = uow.kpis.one("first_response")
    assert (paused.status, paused.due_at, paused.consumed) == (KpiStatus.PAUSED, None, hours(1))
    assert uow.take() == [(KpiPaused, "first_response"), (KpiPaused, "resolution")]

    # Moving between two waiting statuses changes nothing.
    await apply_case_change(
        RecordStatusChange(case_id=CASE, at=OPENED + hours(2), status="on_hold"), uow=uow
    )
    assert uow.take() == []

    await apply_case_change(
        RecordStatusChange(case_id=CASE, at=OPENED + hours(3), status="in_progress"), uow=uow
    )
    resumed = uow.kpis.one("first_response")
    assert (resumed.status, resumed.due_at, resumed.warn_at) == (
        KpiStatus.IN_PROGRESS,
        OPENED + hours(10),
        OPENED + hours(8),
    )
    assert uow.kpis.one("resolution").due_at == OPENED + timedelta(days=5) + hours(2)
    [(event, _, _), _] = uow.published
    assert isinstance(event, KpiResumed) and event.due_at == OPENED + hours(10)


SPLIT_POLICY = SlaPolicy(
    policy_id=DEFAULT,
    name="Split",
    calendar_id=OFFICE,
    kpis=(
        # Answered round the clock; resolved in office hours, the policy's calendar.
        KpiDefinition("first_response", hours(4), calendar_id=ALWAYS),
        KpiDefinition("resolution", hours(16)),
    ),
    is_default=True,
)


async def test_each_kpi_counts_on_the_calendar_its_definition_names() -> None:
    uow = FakeSlaUnitOfWork(policies=[SPLIT_POLICY])
    opened_at = OPENED + hours(6)  # Monday 15:00
    await start_kpis(opening(opened_at=opened_at), uow=uow)

    started = {
        event.kpi: (event.due_at, calendar_id)
        for event, calendar_id, _ in uow.published
        if isinstance(event, KpiStarted)
    }
    assert started == {
        "first_response": (OPENED + hours(10), ALWAYS),  # Monday 19:00
        # Monday 15-17, Tuesday 9-17, Wednesday 9-15.
        "resolution": (OPENED + timedelta(days=2, hours=6), OFFICE),
    }
    assert uow.kpis.one("first_response").calendar_id == ALWAYS
    assert uow.kpis.one("resolution").calendar_id is None  # the case's

    # Waiting from Monday 16:00 to Tuesday 10:00 stops both, each on its own calendar.
    for at, status in ((hours(7), "waiting_for_customer"), (hours(25), "in_progress")):
        await apply_case_change(
            RecordStatusChange(case_id=CASE, at=OPENED + at, status=status), uow=uow
        )
    assert uow.kpis.one("first_response").due_at == OPENED + hours(28)  # Tuesday 13:00
    assert uow.kpis.one("resolution").due_at == OPENED + timedelta(days=2, hours=8)  # Wed 17:00
    [first, resolution] = sorted(
        await kpis_of_case(CASE, uow=uow, now=OPENED + hours(26)), key=lambda s: s.instance.kpi
    )
    assert (first.calendar_id, first.consumed) == (ALWAYS, hours(2))
    assert (resolution.calendar_id, resolution.consumed) == (OFFICE, hours(2))


async def test_working_statuses_do_not_touch_running_clocks() -> None:
    uow = FakeSlaUnitOfWork()
    await opened_case(uow)

    await apply_case_change(
        RecordStatusChange(case_id=CASE, at=OPENED + hours(1), status="in_progress"), uow=uow
    )
    # The closing statuses are left to the resolved and cancelled events.
    await apply_case_change(
        RecordStatusChange(case_id=CASE, at=OPENED + hours(2), status="resolved"), uow=uow
    )

    assert uow.published == []
    assert uow.kpis.one("first_response").status is KpiStatus.IN_PROGRESS


async def test_a_breached_kpi_is_not_paused_but_the_others_are() -> None:
    uow = FakeSlaUnitOfWork()
    await opened_case(uow)
    await tick_kpis(uow=uow, now=OPENED + hours(9))
    uow.published = []

    await apply_case_change(
        RecordStatusChange(case_id=CASE, at=OPENED + hours(10), status="on_hold"), uow=uow
    )

    assert uow.take() == [(KpiPaused, "resolution")]
    assert uow.kpis.one("first_response").status is KpiStatus.BREACHED


# -- meeting and cancelling ----------------------------------------------------------------


async def test_an_agents_first_work_meets_the_first_response_only() -> None:
    uow = FakeSlaUnitOfWork()
    await opened_case(uow)

    await apply_case_change(RecordFirstResponse(case_id=CASE, at=OPENED + hours(3)), uow=uow)
    await apply_case_change(RecordFirstResponse(case_id=CASE, at=OPENED + hours(4)), uow=uow)

    [(event, _, due_at)] = uow.published
    assert isinstance(event, KpiSucceeded)
    assert (event.kpi, event.occurred_at, event.breached) == (
        "first_response",
        OPENED + hours(3),
        False,
    )
    assert due_at == OPENED + hours(8)
    assert uow.kpis.one("first_response").next_check_at is None
    assert uow.kpis.one("resolution").status is KpiStatus.IN_PROGRESS


async def test_resolving_meets_every_open_kpi_and_a_late_one_is_reported_breached() -> None:
    uow = FakeSlaUnitOfWork()
    await opened_case(uow)

    # No timer ran: resolving catches up on the warning and the breach first.
    await apply_case_change(RecordResolution(case_id=CASE, at=OPENED + hours(9)), uow=uow)

    assert uow.take() == [
        (KpiNearingBreach, "first_response"),
        (KpiBreached, "first_response"),
        (KpiSucceeded, "first_response"),
        (KpiSucceeded, "resolution"),
    ]
    first = uow.kpis.one("first_response")
    assert (first.status, first.breached_at) == (KpiStatus.SUCCEEDED, OPENED + hours(8))
    assert uow.kpis.one("resolution").breached_at is None


async def test_a_kpi_met_while_paused_reports_the_deadline_it_would_have_had() -> None:
    uow = FakeSlaUnitOfWork()
    await opened_case(uow)
    await apply_case_change(
        RecordStatusChange(case_id=CASE, at=OPENED + hours(2), status="waiting_for_customer"),
        uow=uow,
    )
    uow.published = []

    await apply_case_change(RecordFirstResponse(case_id=CASE, at=OPENED + hours(30)), uow=uow)

    [(event, _, due_at)] = uow.published
    assert isinstance(event, KpiSucceeded) and not event.breached
    assert due_at == OPENED + hours(30) + hours(6)  # 6 of its 8 hours were left


async def test_cancelling_the_case_cancels_what_is_still_open() -> None:
    uow = FakeSlaUnitOfWork()
    await opened_case(uow)
    await apply_case_change(RecordFirstResponse(case_id=CASE, at=OPENED + hours(1)), uow=uow)
    uow.published = []

    await apply_case_change(RecordCancellation(case_id=CASE, at=OPENED + hours(2)), uow=uow)

    assert uow.take() == [(KpiCancelled, "resolution")]
    assert uow.kpis.one("resolution").status is KpiStatus.CANCELLED
    assert uow.kpis.one("first_response").status is KpiStatus.SUCCEEDED


async def test_a_change_stamped_before_the_kpis_last_change_is_applied_at_that_change() -> None:
    uow = FakeSlaUnitOfWork()
    await opened_case(uow)

    await apply_case_change(RecordFirstResponse(case_id=CASE, at=OPENED - hours(1)), uow=uow)

    [(event, _, _)] = uow.published
    assert event.occurred_at == OPENED


@pytest.mark.parametrize(
    ("to_customer", "agent_id", "expected"),
    [
        (True, uuid4(), True),  # an agent's reply to the customer
        (False, uuid4(), False),  # an internal note, even an agent's
        (True, None, False),  # sent without an agent: an automatic acknowledgement
        (False, None, False),  # a customer's follow-up
    ],
)
def test_only_an_agents_answer_to_the_customer_is_a_first_response(
    to_customer: bool, agent_id: UUID | None, expected: bool
) -> None:
    assert is_first_response(to_customer=to_customer, agent_id=agent_id) is expected


# -- reopening -----------------------------------------------------------------------------


async def test_a_reopened_case_continues_its_resolution_with_the_time_it_had_used() -> None:
    uow = FakeSlaUnitOfWork()
    await opened_case(uow)
    await apply_case_change(RecordFirstResponse(case_id=CASE, at=OPENED + hours(1)), uow=uow)
    await apply_case_change(RecordResolution(case_id=CASE, at=OPENED + hours(10)), uow=uow)
    resolution_id = uow.kpis.one("resolution").instance_id
    uow.published = []

    reopening = RecordReopening(case_id=CASE, at=OPENED + hours(34))
    await apply_case_change(reopening, uow=uow)
    await apply_case_change(reopening, uow=uow)  # delivered again: nothing more

    [(event, _, _)] = uow.published
    assert isinstance(event, KpiResumed)
    # 10 of its 120 hours were used before the resolution; 110 are left from the reopening.
    assert (event.kpi, event.occurred_at, event.due_at) == (
        "resolution",
        OPENED + hours(34),
        OPENED + hours(34 + 110),
    )
    resolution = uow.kpis.one("resolution")
    assert (resolution.instance_id, resolution.status, resolution.ended_at) == (
        resolution_id,
        KpiStatus.IN_PROGRESS,
        None,
    )
    assert resolution.next_check_at == OPENED + hours(144)
    assert len(uow.kpis.rows) == 2  # continued, not started anew
    assert uow.kpis.one("first_response").status is KpiStatus.SUCCEEDED
    [state] = [
        k
        for k in await kpis_of_case(CASE, uow=uow, now=OPENED + hours(40))
        if k.instance.kpi == "resolution"
    ]
    assert (state.consumed, state.remaining) == (hours(16), hours(104))
    uow.published = []

    await apply_case_change(RecordResolution(case_id=CASE, at=OPENED + hours(40)), uow=uow)

    [(met, _, due_at)] = uow.published
    assert isinstance(met, KpiSucceeded) and not met.breached
    assert (met.kpi, met.occurred_at, due_at) == (
        "resolution",
        OPENED + hours(40),
        OPENED + hours(144),
    )


async def test_a_reopened_resolution_breaches_when_its_remaining_time_runs_out() -> None:
    uow = FakeSlaUnitOfWork()
    await opened_case(uow)
    await apply_case_change(RecordResolution(case_id=CASE, at=OPENED + hours(100)), uow=uow)
    await apply_case_change(RecordReopening(case_id=CASE, at=OPENED + hours(200)), uow=uow)
    uow.published = []

    await tick_kpis(uow=uow, now=OPENED + hours(219))
    assert uow.published == []
    await tick_kpis(uow=uow, now=OPENED + hours(220))
    assert uow.take() == [(KpiBreached, "resolution"), (KpiEscalated, "resolution")]

    await apply_case_change(RecordResolution(case_id=CASE, at=OPENED + hours(230)), uow=uow)
    [(met, _, _)] = uow.published
    assert isinstance(met, KpiSucceeded) and met.breached


async def test_a_cancelled_case_reopened_measures_its_resolution_again() -> None:
    uow = FakeSlaUnitOfWork()
    await opened_case(uow)
    await apply_case_change(RecordCancellation(case_id=CASE, at=OPENED + hours(2)), uow=uow)
    uow.published = []

    await apply_case_change(RecordReopening(case_id=CASE, at=OPENED + hours(5)), uow=uow)

    assert uow.take() == [(KpiResumed, "resolution")]
    assert uow.kpis.one("resolution").due_at == OPENED + hours(5 + 118)
    assert uow.kpis.one("first_response").status is KpiStatus.CANCELLED


async def test_a_reopening_of_a_case_still_open_changes_nothing() -> None:
    uow = FakeSlaUnitOfWork()
    await opened_case(uow)

    await apply_case_change(RecordReopening(case_id=CASE, at=OPENED + hours(5)), uow=uow)

    assert uow.published == []
    assert uow.kpis.one("resolution").due_at == OPENED + timedelta(days=5)


# -- changes before the opening ------------------------------------------------------------


async def test_changes_arriving_before_the_opening_are_parked_and_applied_after_it() -> None:
    uow = FakeSlaUnitOfWork()

    await apply_case_change(RecordResolution(case_id=CASE, at=OPENED + hours(5)), uow=uow)
    await apply_case_change(
        RecordStatusChange(case_id=CASE, at=OPENED + hours(1), status="on_hold"), uow=uow
    )
    assert uow.published == [] and uow.kpis.rows == {}
    assert len(uow.cases.parked) == 2

    await start_kpis(opening(), uow=uow)

    # Applied in the order they happened: paused at +1h, then met at +5h.
    assert uow.take() == [
        (KpiStarted, "first_response"),
        (KpiStarted, "resolution"),
        (KpiPaused, "first_response"),
        (KpiPaused, "resolution"),
        (KpiSucceeded, "first_response"),
        (KpiSucceeded, "resolution"),
    ]
    assert uow.cases.parked == []
    assert {k.status for k in uow.kpis.rows.values()} == {KpiStatus.SUCCEEDED}
    assert all(k.next_check_at is None for k in uow.kpis.rows.values())


async def test_a_resolution_and_reopening_before_the_opening_leave_the_resolution_running() -> None:
    uow = FakeSlaUnitOfWork()
    await apply_case_change(RecordReopening(case_id=CASE, at=OPENED + hours(8)), uow=uow)
    await apply_case_change(RecordResolution(case_id=CASE, at=OPENED + hours(3)), uow=uow)

    await start_kpis(opening(), uow=uow)

    assert uow.take() == [
        (KpiStarted, "first_response"),
        (KpiStarted, "resolution"),
        (KpiSucceeded, "first_response"),
        (KpiSucceeded, "resolution"),
        (KpiResumed, "resolution"),
    ]
    resolution = uow.kpis.one("resolution")
    assert (resolution.status, resolution.due_at) == (KpiStatus.IN_PROGRESS, OPENED + hours(125))


# -- the timer -----------------------------------------------------------------------------


async def test_ticking_fires_the_warning_then_the_breach_each_once() -> None:
    uow = FakeSlaUnitOfWork()
    await opened_case(uow)

    assert await tick_kpis(uow=uow, now=OPENED + hours(5)) == 0
    assert await tick_kpis(uow=uow, now=OPENED + hours(6)) == 1
    assert uow.take() == [(KpiNearingBreach, "first_response")]
    assert await tick_kpis(uow=uow, now=OPENED + hours(7)) == 0
    assert await tick_kpis(uow=uow, now=OPENED + hours(8)) == 1
    assert await tick_kpis(uow=uow, now=OPENED + hours(9)) == 0

    # The default ladder's one step (the manager, at the breach) fires with it.
    [(breach, _, _), (step, _, _)] = uow.published
    assert isinstance(breach, KpiBreached) and breach.occurred_at == OPENED + hours(8)
    assert isinstance(step, KpiEscalated) and (step.level, step.occurred_at) == (
        1,
        OPENED + hours(8),
    )
    assert uow.kpis.one("first_response").status is KpiStatus.BREACHED


async def test_a_late_tick_fires_warning_and_breach_together_in_order() -> None:
    uow = FakeSlaUnitOfWork()
    await opened_case(uow)

    await tick_kpis(uow=uow, now=OPENED + timedelta(days=6))

    assert uow.take() == [
        (KpiNearingBreach, "first_response"),
        (KpiBreached, "first_response"),
        (KpiBreached, "resolution"),
        (KpiEscalated, "first_response"),
        (KpiEscalated, "resolution"),
    ]


async def test_a_tick_takes_at_most_its_batch() -> None:
    uow = FakeSlaUnitOfWork()
    for n in range(3):
        await start_kpis(opening(case_id=uuid4(), opened_at=OPENED + hours(n)), uow=uow)

    assert await tick_kpis(uow=uow, now=OPENED + hours(20), limit=2) == 2
    assert await tick_kpis(uow=uow, now=OPENED + hours(20), limit=2) == 1
    assert await tick_kpis(uow=uow, now=OPENED + hours(20), limit=2) == 0


# -- the escalation ladder -----------------------------------------------------------------

AGENT, MANAGER, HEAD, OWNER, DIRECTOR = (UUID(int=n) for n in range(101, 106))
QUEUE = UUID("9e9e0000-0000-4000-8000-000000000001")
LADDER_POLICY = SlaPolicy(
    policy_id=DEFAULT,
    name="Laddered",
    calendar_id=ALWAYS,
    kpis=(KpiDefinition("first_response", hours(8)),),
    is_default=True,
    escalation=(
        EscalationStep(hours(0), EscalationTarget.MANAGER),
        EscalationStep(hours(1), EscalationTarget.DEPARTMENT_HEAD),
        EscalationStep(hours(2), EscalationTarget.QUEUE_OWNER),
        EscalationStep(hours(3), EscalationTarget.AGENT, DIRECTOR),
    ),
)


async def test_each_step_of_the_ladder_asks_the_cases_service_to_raise_the_case_to_its_person() -> (
    None
):
    uow = FakeSlaUnitOfWork(policies=[LADDER_POLICY])
    await opened_case(uow)
    await uow.cases.set_assignee(CASE, AGENT)
    await uow.cases.set_queue(CASE, QUEUE)
    await uow.cases.keep_agent(AGENT, name="Ona", manager_id=MANAGER, version=1)
    await uow.cases.keep_agent(MANAGER, name="Rūta", manager_id=HEAD, version=1)
    await uow.queue_managers.put(QUEUE, OWNER)

    for at in (8, 9, 10, 11):
        await tick_kpis(uow=uow, now=OPENED + hours(at))

    assert [(r.level, r.to, r.assignee, r.queue) for r in uow.raised] == [
        (1, MANAGER, AGENT, QUEUE),
        (2, HEAD, AGENT, QUEUE),
        (3, OWNER, AGENT, QUEUE),
        (4, DIRECTOR, AGENT, QUEUE),
    ]
    assert "first_response passed its deadline" in uow.raised[0].reason
    assert "the case is with Ona" in uow.raised[0].reason
    assert "the department head" in uow.raised[1].reason
    assert uow.told == []  # the cases service tells them, as it records each escalation


async def test_a_step_the_directory_names_nobody_for_goes_to_the_queues_manager() -> None:
    uow = FakeSlaUnitOfWork(policies=[LADDER_POLICY])
    await opened_case(uow)
    await uow.cases.set_queue(CASE, QUEUE)  # queued, but nobody works it
    await uow.queue_managers.put(QUEUE, OWNER)

    await tick_kpis(uow=uow, now=OPENED + hours(9))

    assert [(r.level, r.to, r.assignee) for r in uow.raised] == [
        (1, OWNER, None),
        (2, OWNER, None),
    ]
    assert "nobody works the case" in uow.raised[0].reason


async def test_a_step_that_finds_nobody_still_raises_the_case_a_level() -> None:
    uow = FakeSlaUnitOfWork(policies=[LADDER_POLICY])
    await opened_case(uow)
    await uow.cases.set_assignee(CASE, AGENT)  # the directory has not named them

    await tick_kpis(uow=uow, now=OPENED + hours(8))

    assert [(r.level, r.to, r.assignee) for r in uow.raised] == [(1, None, AGENT)]


# -- reading -------------------------------------------------------------------------------


async def test_the_state_of_a_case_kpis_counts_used_left_and_paused_time() -> None:
    uow = FakeSlaUnitOfWork()
    await opened_case(uow)
    for at, status in ((1, "on_hold"), (3, "in_progress")):
        await apply_case_change(
            RecordStatusChange(case_id=CASE, at=OPENED + hours(at), status=status), uow=uow
        )

    states = await kpis_of_case(CASE, uow=uow, now=OPENED + hours(4))

    first = next(s for s in states if s.instance.kpi == "first_response")
    assert (first.consumed, first.remaining, first.paused) == (hours(2), hours(6), hours(2))


async def test_reading_an_unknown_case_fails() -> None:
    with pytest.raises(CaseNotKnown):
        await kpis_of_case(CASE, uow=FakeSlaUnitOfWork(), now=OPENED)


async def test_a_report_period_must_end_after_it_starts() -> None:
    with pytest.raises(InvalidPeriodError):
        await compliance(uow=FakeSlaUnitOfWork(), since=OPENED, until=OPENED)


# -- calendars -----------------------------------------------------------------------------


def paris_office(name: str = "Paris office") -> CreateCalendar:
    return CreateCalendar(
        name=name,
        time_zone="Europe/Paris",
        week={day: ["09:00-12:30", "13:30-17:00"] for day in range(5)},
        holidays=[date(2026, 5, 1)],
        special_days={date(2026, 5, 2): ["10:00-12:00"]},
    )


async def test_a_calendar_is_created_under_a_free_name() -> None:
    uow = FakeSlaUnitOfWork()

    named = await create_calendar(paris_office(" Paris office "), uow=uow)

    assert named.name == "Paris office"
    assert uow.calendars.calendars[named.calendar_id] == named
    assert named.calendar.hours_on(date(2026, 5, 1)) == ()
    assert [str(h) for h in named.calendar.hours_on(date(2026, 5, 4))] == [
        "09:00-12:30",
        "13:30-17:00",
    ]
    assert uow.commits == 1
    with pytest.raises(CalendarNameTaken):
        await create_calendar(paris_office(), uow=uow)


@pytest.mark.parametrize(
    "bad",
    [
        {"time_zone": "Mars/Olympus"},
        {"week": {0: ["17:00-09:00"]}},
        {"week": {0: ["nine to five"]}},
        {"week": {9: ["09:00-17:00"]}},
        {"name": "  "},
    ],
)
async def test_a_calendar_that_cannot_be_used_is_refused(bad: dict[str, object]) -> None:
    base = paris_office()
    values: dict[str, object] = {
        "name": base.name,
        "time_zone": base.time_zone,
        "week": base.week,
        **bad,
    }
    uow = FakeSlaUnitOfWork()
    with pytest.raises(InvalidCalendarError):
        await create_calendar(CreateCalendar(**values), uow=uow)  # type: ignore[arg-type]
    assert uow.commits == 0
