"""Use cases of the SLA service: load, decide in the domain, record, commit."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid4

import structlog

from sla.app.commands import (
    CaseChange,
    CreateCalendar,
    RecordCancellation,
    RecordCustomerMessage,
    RecordFirstResponse,
    RecordReopening,
    RecordResolution,
    RecordStatusChange,
    ReEvaluate,
    StartKpis,
)
from sla.app.ports import (
    COMPLIANCE_GROUPS,
    CaseSla,
    ComplianceRow,
    KpiCompliance,
    NamedCalendar,
    SlaUnitOfWork,
)
from sla.domain import (
    Calendar,
    CaseFacts,
    EscalationStep,
    EscalationTarget,
    InvalidCalendarError,
    KpiDefinition,
    KpiEscalated,
    KpiEvent,
    KpiInstance,
    KpiNearingBreach,
    KpiStatus,
    NoApplicablePolicyError,
    ReopenMode,
    SlaError,
    SlaPolicy,
    WorkingInterval,
    add_working_time,
    choose_policy,
    start_kpi,
    working_time_between,
)

log = structlog.get_logger(__name__)

FIRST_RESPONSE = "first_response"
"""The KPI met by an agent's first answer to the customer."""

NEXT_RESPONSE = "next_response"
"""The optional KPI a customer's message starts once an agent has answered, met by the next
agent reply; it starts afresh at each such message."""

RESPONSES = frozenset({FIRST_RESPONSE, NEXT_RESPONSE})
"""The KPIs an agent's reply to the customer meets."""

RESOLUTION = "resolution"
"""The KPI met by resolving the case; it continues where it stopped when the case reopens."""

CLOSED_STATUSES = frozenset({"resolved", "cancelled"})
"""Case statuses whose own events (resolved, cancelled) end the KPIs."""

NEARING_TEMPLATE = "sla.nearing_breach"
"""The notification telling the assignee a deadline nears (rendered by intake)."""


_ZERO = timedelta(0)


class CaseNotKnown(SlaError):
    """SLA has not seen the case open."""


class CalendarNotFound(SlaError):
    """No calendar has the id asked for."""


class CalendarNameTaken(SlaError):
    """Another calendar already has the name asked for."""


class InvalidPeriodError(SlaError, ValueError):
    """A report period that ends before it starts."""


def is_first_response(*, to_customer: bool, agent_id: UUID | None) -> bool:
    """Whether logged work answers the customer: an agent's reply sent to them.

    An internal note is no answer, even an agent's; nor is work logged without an agent (a
    customer's follow-up, an automatic acknowledgement).
    """
    return to_customer and agent_id is not None


def is_customer_message(
    *, agent_id: UUID | None, interaction_id: UUID | None, auto_reply: bool, to_customer: bool
) -> bool:
    """Whether logged work is the customer writing on the case: an interaction of theirs
    (an email, a web follow-up) that no agent logged and no machine sent."""
    return agent_id is None and interaction_id is not None and not auto_reply and not to_customer


async def start_kpis(
    cmd: StartKpis,
    *,
    uow: SlaUnitOfWork,
    new_id: Callable[[], UUID] = uuid4,
) -> list[KpiInstance]:
    """Start the KPIs of the policy that applies to a newly opened case, from its opening.

    The policy of the contract covering the case applies, on the contract's calendar if it
    names one. A policy SLA does not know gives way to the one the case's facts choose, an
    unknown calendar to the policy's own: a case is never left unmeasured for a bad reference.
    """
    async with uow:
        if await uow.cases.get(cmd.case_id) is not None:
            return []  # a redelivered or replayed opening starts nothing twice
        facts = await _facts(cmd, uow)
        try:
            policy = await _policy_for(cmd, facts, uow)
        except NoApplicablePolicyError:
            log.warning("sla.no_policy_applies", case_id=str(cmd.case_id))
            await uow.cases.add(_case_sla(cmd, policy_id=None, calendar_id=None))
            await uow.cases.take_parked(cmd.case_id)  # nothing is measured, so nothing moves
            await uow.commit()
            return []
        item, definitions, calendar_id = policy.terms_for(facts)
        reopen = policy.reopen if item is None else item.reopen
        named = await _calendar_for(cmd, policy, calendar_id, uow)
        if item is not None:
            log.info("sla.policy_item_applies", case_id=str(cmd.case_id), item=item.name)
        await uow.cases.add(
            _case_sla(cmd, policy_id=policy.policy_id, calendar_id=named.calendar_id)
        )
        book = await _calendars(uow, named, definitions=definitions)
        instances: list[KpiInstance] = []
        for definition in definitions:
            if definition.name == NEXT_RESPONSE:
                continue  # it starts with the customer's next message after an answer
            counted_on = definition.calendar_id or named.calendar_id
            instance, events = start_kpi(
                instance_id=new_id(),
                case_id=cmd.case_id,
                policy_id=policy.policy_id,
                definition=definition,
                calendar=book.by_id(counted_on),
                now=cmd.opened_at,
                reopen=reopen,
                ladder=policy.escalation,
            )
            uow.emit(events, calendar_id=counted_on)
            instances.append(instance)
        if cmd.status not in CLOSED_STATUSES:
            # A KPI whose policy pauses it in the status the case opened in starts paused.
            _apply(
                RecordStatusChange(case_id=cmd.case_id, at=cmd.opened_at, status=cmd.status),
                instances,
                book,
                uow,
            )
        # Changes that arrived before the opening are applied now, in the order they happened.
        for change in sorted(await uow.cases.take_parked(cmd.case_id), key=lambda c: c.at):
            _apply(change, instances, book, uow)
        for instance in instances:
            await uow.kpis.add(instance)
        await uow.commit()
        return instances


async def _facts(cmd: StartKpis, uow: SlaUnitOfWork) -> CaseFacts:
    """What the policies' conditions look at: the case's own facts, and its account's tier and
    region as far as SLA has learnt them."""
    tier, region = (
        (None, None)
        if cmd.account_id is None
        else await uow.accounts.tier_and_region(cmd.account_id)
    )
    return CaseFacts(
        priority=cmd.priority,
        channel=cmd.channel,
        request_type=cmd.request_type,
        tier=tier,
        region=region,
        contract_id=cmd.contract_id,
        queue_id=await uow.cases.queue_of(cmd.case_id),
    )


async def _policy_for(cmd: StartKpis, facts: CaseFacts, uow: SlaUnitOfWork) -> SlaPolicy:
    """The policy of the case's contract if SLA has it, else the one the case's facts choose.

    Raises `NoApplicablePolicyError` when it comes to choosing and no policy applies.
    """
    policies = await uow.policies.list()
    if cmd.sla_policy_id is not None:
        # A contract's policy applies even once retired: the contract still names it.
        contracted = next((p for p in policies if p.policy_id == cmd.sla_policy_id), None)
        if contracted is not None:
            return contracted
        # A contract may name a policy SLA does not (or no longer) have; the case is measured
        # all the same, on the policy it would have had without a contract.
        log.warning(
            "sla.contract_policy_unknown",
            case_id=str(cmd.case_id),
            sla_policy_id=str(cmd.sla_policy_id),
        )
    return choose_policy(facts, policies)


async def _calendar_for(
    cmd: StartKpis, policy: SlaPolicy, calendar_id: UUID, uow: SlaUnitOfWork
) -> NamedCalendar:
    """The calendar a case's KPIs count on: its contract's, when the contract's policy
    applies and SLA has that calendar; else the one of the policy item that applies (the
    policy's own when the item names none)."""
    if cmd.calendar_id is not None and policy.policy_id == cmd.sla_policy_id:
        contracted = await uow.calendars.get(cmd.calendar_id)
        if contracted is not None:
            return contracted
        log.warning(
            "sla.contract_calendar_unknown",
            case_id=str(cmd.case_id),
            calendar_id=str(cmd.calendar_id),
            policy_id=str(policy.policy_id),
        )
    named = await uow.calendars.get(calendar_id)
    if named is None:
        raise CalendarNotFound(
            f"SLA policy {policy.name!r} names calendar {calendar_id}, which is missing"
        )
    return named


async def apply_case_change(change: CaseChange, *, uow: SlaUnitOfWork) -> list[KpiInstance]:
    """Move a case's KPIs on a change to the case: pause, resume, meet, cancel or reopen them."""
    async with uow:
        sla = await uow.cases.get(change.case_id)
        if sla is None:
            # The case's opening has not arrived yet (events about one case may come in any
            # order, e.g. when a dead-lettered opening is replayed later). The change is
            # parked, not dropped: dropping a resolution would leave the KPIs to breach once
            # the opening arrives. `start_kpis` applies parked changes after starting KPIs.
            await uow.cases.park(change)
            await uow.commit()
            return []
        if sla.calendar_id is None:
            return []  # no policy applied to the case: it has no KPIs to move
        instances = await uow.kpis.of_case(change.case_id, for_update=True)
        book = await _calendars(uow, await _named(uow, sla.calendar_id), instances=instances)
        fired: list[KpiEvent] = []
        changed = _apply(change, instances, book, uow, fired=fired)
        for instance in changed:
            await uow.kpis.save(instance)
        # A warning or breach the change caught up with is told as the timer would.
        await _tell_all([(event, sla) for event in fired], uow)
        await uow.commit()
        return changed


async def tick_kpis(*, uow: SlaUnitOfWork, now: datetime, limit: int = 200) -> int:
    """Fire the warnings, breaches and escalation steps that have come by `now`; returns how
    many KPIs it looked at.

    Each claimed KPI's next check moves past `now` (or away), so calling again until this
    returns 0 drains everything due. A batch takes a fixed number of statements, whatever its
    size: the claim, the KPIs written back, the cases, assignees, queues and managers to tell,
    the state log and the events.
    """
    async with uow:
        due = await uow.kpis.claim_due(now, limit=limit)
        fired: list[KpiEvent] = []
        for instance in due:
            fired.extend(instance.tick(now))
        steps = [e for e in fired if isinstance(e, KpiEscalated)]
        uow.emit(e for e in fired if not isinstance(e, KpiEscalated))
        await uow.kpis.save_many(due)
        await _tell_fired(fired, uow)
        await _escalate(steps, uow)
        await uow.commit()
    return len(due)


async def _escalate(steps: Sequence[KpiEscalated], uow: SlaUnitOfWork) -> None:
    """Ask the cases service to raise each case a level, to the person its ladder's step
    names: the assignee's manager or that manager's own, found in the agent directory, with
    the manager configured for the case's queue when the directory names nobody; the queue's
    manager; or a named agent. A step that finds nobody still raises the case's level."""
    if not steps:
        return
    placed = await uow.cases.placements({step.case_id for step in steps})
    owners = await uow.queue_managers.of_queues({q for _, q in placed.values() if q is not None})
    people = await uow.cases.people({a for a, _ in placed.values() if a is not None})
    managers = {manager for _, manager in people.values() if manager is not None}
    heads = (
        await uow.cases.people(managers)
        if managers and any(s.step.to is EscalationTarget.DEPARTMENT_HEAD for s in steps)
        else {}
    )
    for step in steps:
        assignee, queue_id = placed.get(step.case_id, (None, None))
        owner = None if queue_id is None else owners.get(queue_id)
        name, manager = people.get(assignee, (None, None)) if assignee else (None, None)
        head = None if manager is None else heads.get(manager, (None, None))[1]
        escalated_to = _recipient(step.step, manager=manager, head=head, owner=owner)
        uow.escalate(
            step,
            escalated_to=escalated_to,
            assignee_id=assignee,
            queue_id=queue_id,
            reason=_escalation_reason(step, assignee=assignee, name=name),
        )


def _recipient(
    step: EscalationStep, *, manager: UUID | None, head: UUID | None, owner: UUID | None
) -> UUID | None:
    match step.to:
        case EscalationTarget.MANAGER:
            return manager or owner
        case EscalationTarget.DEPARTMENT_HEAD:
            return head or owner
        case EscalationTarget.QUEUE_OWNER:
            return owner
        case EscalationTarget.AGENT:
            return step.agent_id
    return None


def _escalation_reason(step: KpiEscalated, *, assignee: UUID | None, name: str | None) -> str:
    whose = "nobody works the case" if assignee is None else f"the case is with {name or assignee}"
    return (
        f"{step.kpi} passed its deadline ({step.breached_at.isoformat()}); {whose}. "
        f"Step {step.level} of the escalation ladder: the {step.step.to.value.replace('_', ' ')}."
    )


async def _tell_fired(fired: Sequence[KpiEvent], uow: SlaUnitOfWork) -> None:
    """`_tell_all` for the timer's events: the cases are read only where someone is to be
    told (a case nobody works on has nobody to tell)."""
    told = [e for e in fired if isinstance(e, KpiNearingBreach)]
    if not told:
        return
    assignees = await uow.cases.assignees({e.case_id for e in told})
    if not assignees:
        return
    cases = await uow.cases.get_many(set(assignees))
    await _tell_all(
        [(e, cases.get(e.case_id)) for e in told if e.case_id in assignees],
        uow,
        assignees=assignees,
    )


async def next_check(*, uow: SlaUnitOfWork) -> datetime | None:
    """When the timer next has a warning or a breach to fire (None: nothing is pending)."""
    async with uow:
        return await uow.kpis.next_check()


async def _tell_all(
    events: Sequence[tuple[KpiEvent, CaseSla | None]],
    uow: SlaUnitOfWork,
    *,
    assignees: Mapping[UUID, UUID] | None = None,
) -> None:
    """A nearing deadline is told to the case's assignee. Each is told once: each event
    fires once, by the timer or by the change that caught up with it. A breach is told by
    the steps of the escalation ladder, through the cases service."""
    wanted = [
        (event, sla)
        for event, sla in events
        if sla is not None and isinstance(event, KpiNearingBreach)
    ]
    if not wanted:
        return
    if assignees is None:
        assignees = await uow.cases.assignees({sla.case_id for _, sla in wanted})
    people = await uow.cases.people(set(assignees.values()))
    for event, sla in wanted:
        assignee = assignees.get(sla.case_id)
        if assignee is None:
            continue
        name, _ = people.get(assignee, (None, None))
        uow.notify(
            recipient=assignee,
            template=NEARING_TEMPLATE,
            case_id=sla.case_id,
            at=event.occurred_at,
            parameters={
                "number": sla.number or str(sla.case_id),
                "kpi": event.kpi,
                "due_at": event.due_at.isoformat(),
                "assignee": name or str(assignee),
            },
        )


async def re_evaluate(
    cmd: ReEvaluate, *, uow: SlaUnitOfWork, new_id: Callable[[], UUID] = uuid4
) -> list[KpiInstance]:
    """The facts a case's policy was chosen on changed: choose again (the contract's policy,
    else the first whose scope matches, else the default, then the item), and measure each
    open KPI against its new target and calendar, keeping the working time it has used.

    KPIs the new terms do not name run on as they were; one that ended keeps its outcome.
    KPIs they add start at the re-evaluation, while the case has a KPI open (but for a first
    response, which the case may have had already).
    """
    async with uow:
        sla = await uow.cases.get(cmd.case_id)
        if sla is None or sla.calendar_id is None:
            log.info("sla.re_evaluation_skipped", case_id=str(cmd.case_id))
            return []
        updated = dataclasses.replace(
            sla,
            priority=cmd.priority or sla.priority,
            request_type=cmd.request_type if cmd.request_type_changed else sla.request_type,
        )
        if cmd.contract_changed:
            updated = dataclasses.replace(
                updated,
                contract_id=cmd.contract_id,
                sla_policy_id=cmd.sla_policy_id,
                contract_calendar_id=cmd.calendar_id,
            )
        opening = _opening_of(updated)
        facts = await _facts(opening, uow)
        try:
            policy = await _policy_for(opening, facts, uow)
        except NoApplicablePolicyError:
            log.warning("sla.no_policy_applies", case_id=str(cmd.case_id))
            return []
        item, definitions, calendar_id = policy.terms_for(facts)
        reopen = policy.reopen if item is None else item.reopen
        named = await _calendar_for(opening, policy, calendar_id, uow)
        measured = await uow.kpis.of_case(cmd.case_id, for_update=True)
        was = await _calendars(uow, await _named(uow, sla.calendar_id), instances=measured)
        book = await _calendars(uow, named, definitions=definitions)
        terms = {definition.name: definition for definition in definitions}
        changed = []
        moved = named.calendar_id != sla.calendar_id
        for instance in measured:
            definition = terms.get(instance.kpi)
            if definition is None and moved and instance.is_open and instance.calendar_id is None:
                # The new terms do not name it: it keeps its target, but it is counted on the
                # case's new calendar from now on, like the others.
                definition = _as_defined(instance)
            # What pauses it and what a reopening does follow the new terms as they are.
            followed = (
                definition is not None
                and instance.is_open
                and _follow_terms(instance, definition, reopen, policy.escalation)
            )
            if definition is None:
                continue
            counted_on = definition.calendar_id or named.calendar_id
            if (
                definition.target == instance.target
                and definition.warn_after == instance.warn_after
                and counted_on == was.id_of(instance)
                and policy.policy_id == instance.policy_id
            ):
                if followed:
                    await uow.kpis.save(instance)
                continue
            events = instance.re_evaluate(
                definition,
                _not_before_last_change(instance, cmd.at),
                was=was.of(instance),
                calendar=book.by_id(counted_on),
                policy_id=policy.policy_id,
                reason=cmd.reason,
            )
            if events:
                uow.emit(events, calendar_id=counted_on)
                await uow.kpis.save(instance)
                changed.append(instance)
                await _tell_all([(event, sla) for event in events], uow)
            elif followed:
                await uow.kpis.save(instance)
        if any(instance.is_open for instance in measured):
            # KPIs the new terms add start now, on the new calendar, while the case is worked.
            # A first response they add is left out: whether the case was answered already,
            # SLA cannot tell without a KPI that was measuring it. A next response starts with
            # the customer's next message.
            names = {instance.kpi for instance in measured}
            at = max(cmd.at, sla.opened_at)
            for definition in definitions:
                if definition.name in names or definition.name in RESPONSES:
                    continue
                counted_on = definition.calendar_id or named.calendar_id
                instance, events = start_kpi(
                    instance_id=new_id(),
                    case_id=cmd.case_id,
                    policy_id=policy.policy_id,
                    definition=definition,
                    calendar=book.by_id(counted_on),
                    now=at,
                    reopen=reopen,
                    ladder=policy.escalation,
                )
                uow.emit(events, calendar_id=counted_on)
                await uow.kpis.add(instance)
                changed.append(instance)
        await uow.cases.save(
            dataclasses.replace(updated, policy_id=policy.policy_id, calendar_id=named.calendar_id)
        )
        await uow.commit()
        return changed


def _opening_of(sla: CaseSla) -> StartKpis:
    """The opening a case's terms are chosen on, from what SLA keeps of it."""
    return StartKpis(
        case_id=sla.case_id,
        opened_at=sla.opened_at,
        status="",
        priority=sla.priority,
        channel=sla.channel,
        request_type=sla.request_type,
        sla_policy_id=sla.sla_policy_id,
        calendar_id=sla.contract_calendar_id,
        account_id=sla.account_id,
        contract_id=sla.contract_id,
        number=sla.number,
    )


async def record_customer_message(
    cmd: RecordCustomerMessage, *, uow: SlaUnitOfWork, new_id: Callable[[], UUID] = uuid4
) -> list[KpiInstance]:
    """The customer wrote on a case an agent has answered: its next response, where its terms
    have one, is measured from this message (afresh each time) until the next agent reply. A
    message while an answer is still awaited (the first response or an earlier message's)
    changes nothing."""
    async with uow:
        sla = await uow.cases.get(cmd.case_id)
        if sla is None or sla.calendar_id is None or sla.policy_id is None:
            return []
        instances = await uow.kpis.of_case(cmd.case_id, for_update=True)
        by_name = {instance.kpi: instance for instance in instances}
        awaited = [by_name.get(FIRST_RESPONSE), by_name.get(NEXT_RESPONSE)]
        if any(k is not None and k.is_open for k in awaited):
            return []
        if not any(instance.is_open for instance in instances):
            return []  # the case has ended: a reopening starts its clocks again
        case_calendar = await _named(uow, sla.calendar_id)
        current = by_name.get(NEXT_RESPONSE)
        if current is not None:
            # Each message is answered on a clock of its own.
            book = await _calendars(uow, case_calendar, instances=[current])
            counted_on = book.id_of(current)
            events = current.restart(_not_before_last_change(current, cmd.at), book.of(current))
            await uow.kpis.save(current)
            measured = current
        else:
            policy = await uow.policies.get(sla.policy_id)
            if policy is None:
                return []
            _, definitions, _ = policy.terms_for(await _facts(_opening_of(sla), uow))
            definition = next((d for d in definitions if d.name == NEXT_RESPONSE), None)
            if definition is None:
                return []
            book = await _calendars(uow, case_calendar, definitions=[definition])
            counted_on = definition.calendar_id or sla.calendar_id
            measured, events = start_kpi(
                instance_id=new_id(),
                case_id=cmd.case_id,
                policy_id=policy.policy_id,
                definition=definition,
                calendar=book.by_id(counted_on),
                now=max(cmd.at, sla.opened_at),
                ladder=policy.escalation,
            )
            await uow.kpis.add(measured)
        uow.emit(events, calendar_id=counted_on)
        await uow.commit()
        return [measured]


def _follow_terms(
    instance: KpiInstance,
    definition: KpiDefinition,
    reopen: ReopenMode,
    ladder: tuple[EscalationStep, ...],
) -> bool:
    """Give an open KPI the pause statuses, reopen mode and escalation ladder of the terms it
    is now under; whether they changed. The steps already climbed stay climbed."""
    terms = (definition.pause_statuses, reopen, ladder)
    if (instance.pause_statuses, instance.reopen_mode, instance.ladder) == terms:
        return False
    instance.pause_statuses = definition.pause_statuses
    instance.reopen_mode = reopen
    instance.ladder = ladder
    return True


def _as_defined(instance: KpiInstance) -> KpiDefinition:
    """The definition a KPI instance is measured on: its own target and warning."""
    warn_after = instance.warn_after
    warn_before = None if warn_after is None else instance.target - warn_after
    if warn_before is not None and not timedelta(0) < warn_before < instance.target:
        warn_before = None
    return KpiDefinition(
        instance.kpi, instance.target, warn_before, instance.pause_statuses, instance.calendar_id
    )


def _case_sla(cmd: StartKpis, *, policy_id: UUID | None, calendar_id: UUID | None) -> CaseSla:
    return CaseSla(
        case_id=cmd.case_id,
        policy_id=policy_id,
        calendar_id=calendar_id,
        opened_at=cmd.opened_at,
        number=cmd.number,
        priority=cmd.priority,
        channel=cmd.channel,
        request_type=cmd.request_type,
        account_id=cmd.account_id,
        contract_id=cmd.contract_id,
        sla_policy_id=cmd.sla_policy_id,
        contract_calendar_id=cmd.calendar_id,
    )


async def record_assignee(case_id: UUID, agent_id: UUID | None, *, uow: SlaUnitOfWork) -> None:
    """Note who works a case now (from routing's events), to tell them of nearing deadlines."""
    async with uow:
        await uow.cases.set_assignee(case_id, agent_id)
        await uow.commit()


async def record_queue(
    case_id: UUID, queue_id: UUID, *, at: datetime, reason: str, uow: SlaUnitOfWork
) -> list[KpiInstance]:
    """Note the queue a case was placed in (from routing's events), and choose its terms
    again: a policy may depend on the queue. The KPIs it re-evaluated."""
    async with uow:
        await uow.cases.set_queue(case_id, queue_id)
        await uow.commit()
    return await re_evaluate(ReEvaluate(case_id=case_id, at=at, reason=reason), uow=uow)


async def keep_agent(
    agent_id: UUID, *, name: str, manager_id: UUID | None, version: int, uow: SlaUnitOfWork
) -> None:
    """Keep an agent's name and manager from the directory (the highest version wins)."""
    async with uow:
        await uow.cases.keep_agent(agent_id, name=name, manager_id=manager_id, version=version)
        await uow.commit()


async def create_calendar(
    cmd: CreateCalendar,
    *,
    uow: SlaUnitOfWork,
    new_id: Callable[[], UUID] = uuid4,
) -> NamedCalendar:
    """Add a business-hours calendar under a name no other calendar has."""
    name = cmd.name.strip()
    if not name:
        raise InvalidCalendarError("a calendar needs a name")
    calendar = calendar_of(cmd)
    async with uow:
        if await uow.calendars.get_by_name(name) is not None:
            raise CalendarNameTaken(f"There is already a calendar named {name!r}.")
        named = NamedCalendar(calendar_id=new_id(), name=name, calendar=calendar)
        await uow.calendars.add(named)
        await uow.commit()
    return named


def calendar_of(cmd: CreateCalendar) -> Calendar:
    """The calendar a command describes; one without any working time is refused."""
    calendar = Calendar.weekly(
        cmd.time_zone,
        {day: [WorkingInterval.parse(text) for text in hours] for day, hours in cmd.week.items()},
        holidays=cmd.holidays,
        special_days={
            day: [WorkingInterval.parse(text) for text in hours]
            for day, hours in cmd.special_days.items()
        },
    )
    if not any(calendar.week) and not any(calendar.special_days.values()):
        raise InvalidCalendarError("a calendar needs some working time in its week")
    return calendar


@dataclass(frozen=True, kw_only=True)
class KpiState:
    """A KPI instance with the working time it has used, has left, and spent paused."""

    instance: KpiInstance
    consumed: timedelta
    remaining: timedelta
    paused: timedelta
    calendar_id: UUID
    """The calendar it counts on."""


async def kpis_of_case(case_id: UUID, *, uow: SlaUnitOfWork, now: datetime) -> list[KpiState]:
    """Where each KPI of a case stands at `now`."""
    async with uow:
        sla = await uow.cases.get(case_id)
        if sla is None:
            raise CaseNotKnown(f"SLA has not seen case {case_id} open.")
        if sla.calendar_id is None:
            return []
        instances = await uow.kpis.of_case(case_id)
        book = await _calendars(uow, await _named(uow, sla.calendar_id), instances=instances)
    states = []
    for instance in instances:
        calendar = book.of(instance)
        until = instance.ended_at or max(now, instance.started_at)
        consumed = instance.consumed_at(until, calendar)
        elapsed = working_time_between(instance.started_at, until, calendar)
        states.append(
            KpiState(
                instance=instance,
                consumed=consumed,
                remaining=instance.target - consumed,
                paused=max(elapsed - consumed, _ZERO),
                calendar_id=book.id_of(instance),
            )
        )
    return states


async def compliance(
    *, uow: SlaUnitOfWork, since: datetime, until: datetime
) -> list[KpiCompliance]:
    """Per KPI, how many were met in time and how many breached between `since` and `until`."""
    if until <= since:
        raise InvalidPeriodError(f"the period ends ({until}) before it starts ({since})")
    async with uow:
        return await uow.kpis.compliance(since=since, until=until)


class UnknownGroupError(SlaError, ValueError):
    """A compliance report grouped by something it cannot be grouped by."""


async def compliance_by(
    *, uow: SlaUnitOfWork, since: datetime, until: datetime, group_by: Sequence[str]
) -> list[ComplianceRow]:
    """The compliance report over [since, until), grouped by `group_by`."""
    if until <= since:
        raise InvalidPeriodError(f"the period ends ({until}) before it starts ({since})")
    unknown = [name for name in group_by if name not in COMPLIANCE_GROUPS]
    if unknown or not group_by or len(set(group_by)) != len(group_by):
        raise UnknownGroupError(
            f"group_by takes distinct names among {', '.join(COMPLIANCE_GROUPS)}"
            + (f", not {', '.join(unknown)}" if unknown else "")
        )
    async with uow:
        return await uow.kpis.compliance_rows(since=since, until=until, group_by=group_by)


def _apply(
    change: CaseChange,
    instances: Sequence[KpiInstance],
    calendars: _Calendars,
    uow: SlaUnitOfWork,
    *,
    fired: list[KpiEvent] | None = None,
) -> list[KpiInstance]:
    """Apply `change` to the KPIs of one case, emitting what happened; the ones it moved."""
    changed = []
    for instance in instances:
        if not instance.is_open and not isinstance(change, RecordReopening):
            continue
        calendar = calendars.of(instance)
        at = _not_before_last_change(instance, change.at)
        events: list[KpiEvent] = []
        due_at: datetime | None = None
        match change:
            case RecordStatusChange(status=status) if instance.pauses_in(status):
                if instance.is_running:
                    events = instance.pause(at, calendar)
            case RecordStatusChange(status=status) if status not in CLOSED_STATUSES:
                if instance.status is KpiStatus.PAUSED:
                    events = instance.resume(at, calendar)
            case RecordFirstResponse():
                if instance.kpi in RESPONSES:
                    due_at = _deadline_when_met(instance, at, calendar)
                    events = instance.succeed(at)
            case RecordResolution():
                # A resolved case has met whatever it was still measured on.
                due_at = _deadline_when_met(instance, at, calendar)
                events = instance.succeed(at)
            case RecordCancellation():
                events = instance.cancel(at)
            case RecordReopening():
                # The resolution runs again where it stopped; the first response stays as it
                # ended. A KPI still open (a reopening delivered twice) is left alone.
                if instance.kpi == RESOLUTION and not instance.is_open:
                    events = instance.reopen(at, calendar)
        if events:
            if not instance.is_open:
                instance.settle(calendar)  # the working time it used, kept for the reports
            uow.emit(events, due_at=due_at)
            changed.append(instance)
            if fired is not None:
                fired.extend(events)
    return changed


def _not_before_last_change(instance: KpiInstance, at: datetime) -> datetime:
    """`at`, or the KPI's last change if that came later.

    Case events carry the cases service's clock, and parked changes are applied after the
    opening; a change stamped a moment before the KPI's last change is applied at that
    change rather than refused, so no case event is lost to clock differences.
    """
    moments = (instance.started_at, instance.running_since, instance.paused_at, instance.ended_at)
    return max(at, *(moment for moment in moments if moment is not None))


def _deadline_when_met(instance: KpiInstance, at: datetime, calendar: Calendar) -> datetime:
    """The deadline reported with a KPI met at `at`: a paused KPI has none, so it is the one
    it would have had if its clock had run again from `at`."""
    if instance.due_at is not None:
        return instance.due_at
    return add_working_time(at, max(instance.remaining_at(at, calendar), _ZERO), calendar)


async def _named(uow: SlaUnitOfWork, calendar_id: UUID) -> NamedCalendar:
    named = await uow.calendars.get(calendar_id)
    if named is None:
        raise CalendarNotFound(f"There is no calendar {calendar_id}.")
    return named


@dataclass(frozen=True)
class _Calendars:
    """The calendars a case's KPIs count on: each KPI's own where its definition names one,
    else the case's."""

    case_calendar_id: UUID
    kept: Mapping[UUID, Calendar]

    def id_of(self, instance: KpiInstance) -> UUID:
        return instance.calendar_id or self.case_calendar_id

    def of(self, instance: KpiInstance) -> Calendar:
        return self.kept[self.id_of(instance)]

    def by_id(self, calendar_id: UUID) -> Calendar:
        return self.kept[calendar_id]


async def _calendars(
    uow: SlaUnitOfWork,
    case_calendar: NamedCalendar,
    *,
    instances: Sequence[KpiInstance] = (),
    definitions: Sequence[KpiDefinition] = (),
) -> _Calendars:
    """The case's calendar and those its KPIs (or the definitions about to start) name."""
    kept = {case_calendar.calendar_id: case_calendar.calendar}
    own = {i.calendar_id for i in instances} | {d.calendar_id for d in definitions}
    for calendar_id in sorted(c for c in own if c is not None and c not in kept):
        kept[calendar_id] = (await _named(uow, calendar_id)).calendar
    return _Calendars(case_calendar.calendar_id, kept)
