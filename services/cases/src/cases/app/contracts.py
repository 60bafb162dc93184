"""Use cases of service contracts: templates, contracts and their lines, what covers a case,
and the ledger a case's resolution and reopening write to.

Contract days are UTC days: a contract ending on 31 December covers cases opened until
midnight UTC.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from uuid import UUID, uuid4

import structlog

from cases.app.ports import CasesUnitOfWork
from cases.domain.case import Case
from cases.domain.catalogue import Decision
from cases.domain.contracts import (
    DEFAULT_WARN_BELOW_PERCENT,
    ENDING_NOTICE_DAYS,
    Allocation,
    Contract,
    ContractConflictError,
    ContractEvent,
    ContractLine,
    ContractNotFoundError,
    ContractTemplate,
    Coverage,
    EntryKind,
    InvalidContractError,
    LedgerEntry,
    LineDrawnDown,
    LineRestored,
    NotEntitled,
    StaleContractError,
    balance_warnings,
    cover,
    drawdown,
    format_contract_number,
    line_from_template,
    miss,
    new_contract,
)
from cases.domain.notifications import contract_notices
from cases.domain.values import Channel

log = structlog.get_logger(__name__)

NewId = Callable[[], UUID]

DEFAULT_CONTRACT_DAYS = 365
"""How long a contract drawn up from scratch runs when no end date is given."""


# -- templates --------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class TemplateTerms:
    """What a contract template says."""

    name: str
    allocation: Allocation
    default_allotment: int
    default_duration_days: int
    channels: frozenset[Channel] = frozenset()
    request_types: frozenset[str] = frozenset()
    sla_policy_id: UUID | None = None
    calendar_id: UUID | None = None
    allow_overdraft: bool = False
    warn_below_percent: int = DEFAULT_WARN_BELOW_PERCENT
    active: bool = True


async def define_template(
    terms: TemplateTerms, *, uow: CasesUnitOfWork, new_id: NewId = uuid4
) -> ContractTemplate:
    """Add a contract template; its name must be free."""
    async with uow:
        template = _template(new_id(), terms)
        if not await uow.contracts.add_template(template):
            raise ContractConflictError(f"a contract template is already named {template.name!r}")
        await uow.commit()
        return template


async def change_template(
    template_id: UUID, terms: TemplateTerms, *, uow: CasesUnitOfWork
) -> ContractTemplate:
    """Replace what a template says; contracts drawn up from it keep their terms."""
    async with uow:
        current = await uow.contracts.template(template_id, for_update=True)
        if current is None:
            raise ContractNotFoundError(f"There is no contract template {template_id}.")
        changed = _template(template_id, terms, version=current.version)
        await uow.contracts.save_template(changed)
        await uow.commit()
        return changed


def _template(template_id: UUID, terms: TemplateTerms, *, version: int = 1) -> ContractTemplate:
    return ContractTemplate(
        template_id=template_id,
        name=terms.name,
        allocation=terms.allocation,
        default_allotment=terms.default_allotment,
        default_duration_days=terms.default_duration_days,
        channels=terms.channels,
        request_types=terms.request_types,
        sla_policy_id=terms.sla_policy_id,
        calendar_id=terms.calendar_id,
        allow_overdraft=terms.allow_overdraft,
        warn_below_percent=terms.warn_below_percent,
        active=terms.active,
        version=version,
    )


# -- contracts --------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class LineTerms:
    """What a line says; its dates default to the contract's."""

    name: str
    allocation: Allocation
    allotment: int
    starts_on: date | None = None
    ends_on: date | None = None
    channels: frozenset[Channel] = frozenset()
    request_types: frozenset[str] = frozenset()
    allow_overdraft: bool = False
    warn_below_percent: int = DEFAULT_WARN_BELOW_PERCENT

    def line(self, contract: Contract, *, line_id: UUID, number: int) -> ContractLine:
        """The line these terms make in `contract`."""
        return ContractLine(
            line_id=line_id,
            number=number,
            name=self.name,
            allocation=self.allocation,
            allotment=self.allotment,
            starts_on=self.starts_on or contract.starts_on,
            ends_on=self.ends_on or contract.ends_on,
            channels=self.channels,
            request_types=self.request_types,
            allow_overdraft=self.allow_overdraft,
            warn_below_percent=self.warn_below_percent,
        )


@dataclass(frozen=True, kw_only=True)
class DrawUpContract:
    """A new contract for an account, from a template or from scratch.

    From a template, what is not given comes from it: the end date (after its default
    duration), the SLA policy and calendar, and, when no lines are given, one line with its
    default allotment, channels and request types.
    """

    account_id: UUID
    by: UUID | None
    name: str | None = None
    template_id: UUID | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    contacts: frozenset[UUID] = frozenset()
    owner_id: UUID | None = None
    sla_policy_id: UUID | None = None
    calendar_id: UUID | None = None
    lines: Sequence[LineTerms] = ()
    origin_case_id: UUID | None = None


async def draw_up_contract(
    cmd: DrawUpContract, *, uow: CasesUnitOfWork, now: datetime, new_id: NewId = uuid4
) -> Contract:
    """Draw up a draft contract; its owner (who hears of its allotments and end) is the one
    named, else the account's owner on the customer card, else whoever drew it up."""
    async with uow:
        contract = await _draft(cmd, uow=uow, now=now, new_id=new_id)
        await uow.commit()
        return contract


async def _draft(
    cmd: DrawUpContract, *, uow: CasesUnitOfWork, now: datetime, new_id: NewId
) -> Contract:
    template = None
    if cmd.template_id is not None:
        template = await uow.contracts.template(cmd.template_id)
        if template is None or not template.active:
            raise InvalidContractError(
                f"there is no active contract template {cmd.template_id}",
                members={"errors": [{"loc": ["body", "template_id"], "msg": "unknown template"}]},
            )
    starts_on = cmd.starts_on or now.date()
    days = template.default_duration_days if template else DEFAULT_CONTRACT_DAYS
    ends_on = cmd.ends_on or starts_on + timedelta(days=days - 1)
    contract_id = new_id()
    number = format_contract_number(now.year, await uow.contracts.next_sequence())
    contract, events = new_contract(
        contract_id=contract_id,
        number=number,
        account_id=cmd.account_id,
        name=cmd.name or (template.name if template else f"Contract {number}"),
        starts_on=starts_on,
        ends_on=ends_on,
        now=now,
        contacts=cmd.contacts,
        # Who hears of the contract: the one named, else the account's owner (from the
        # customer card), else whoever drew it up.
        owner_id=cmd.owner_id or await uow.accounts.owner_of(cmd.account_id) or cmd.by,
        template_id=cmd.template_id,
        sla_policy_id=cmd.sla_policy_id or (template.sla_policy_id if template else None),
        calendar_id=cmd.calendar_id or (template.calendar_id if template else None),
        origin_case_id=cmd.origin_case_id,
    )
    if cmd.lines:
        for number_in_contract, terms in enumerate(cmd.lines, start=1):
            contract.add_line(
                terms.line(contract, line_id=new_id(), number=number_in_contract), now=now
            )
    elif template is not None:
        contract.add_line(
            line_from_template(
                template, line_id=new_id(), starts_on=contract.starts_on, ends_on=contract.ends_on
            ),
            now=now,
        )
    await uow.contracts.add(contract)
    # Drawn up whole: one `contract.created`, carrying its lines.
    uow.emit_contract(contract, events)
    return contract


@dataclass(frozen=True, kw_only=True)
class ContractCommand:
    """Something done to one contract; `expected_version` is the version the caller read."""

    contract_id: UUID
    by: UUID | None
    expected_version: int | None = None


@dataclass(frozen=True, kw_only=True)
class ChangeContract(ContractCommand):
    """Change a contract's own terms; fields left None stay."""

    name: str | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    contacts: frozenset[UUID] | None = None
    owner_id: UUID | None = None
    sla_policy_id: UUID | None = None
    calendar_id: UUID | None = None


@dataclass(frozen=True, kw_only=True)
class AddLine(ContractCommand):
    """Add a line to a contract."""

    terms: LineTerms


@dataclass(frozen=True, kw_only=True)
class ChangeLine(ContractCommand):
    """Replace a line's terms."""

    line_id: UUID
    terms: LineTerms


@dataclass(frozen=True, kw_only=True)
class RemoveLine(ContractCommand):
    """Remove a line no case has drawn on."""

    line_id: UUID


@dataclass(frozen=True, kw_only=True)
class MoveContract(ContractCommand):
    """Activate, hold, resume or cancel a contract."""

    step: str
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class RenewContract(ContractCommand):
    """Renew a contract into the next period; the renewal is a draft unless `activate`."""

    starts_on: date | None = None
    activate: bool = False


async def change_contract(cmd: ChangeContract, *, uow: CasesUnitOfWork, now: datetime) -> Contract:
    """Change a contract's name, dates, contacts, owner, SLA policy or calendar."""
    async with uow:
        contract = await _load(cmd, uow=uow)
        events = contract.change_terms(
            now=now,
            name=cmd.name,
            starts_on=cmd.starts_on,
            ends_on=cmd.ends_on,
            contacts=cmd.contacts,
            owner_id=cmd.owner_id,
            sla_policy_id=cmd.sla_policy_id,
            calendar_id=cmd.calendar_id,
        )
        await _store(contract, events, uow=uow)
        return contract


async def add_line(
    cmd: AddLine, *, uow: CasesUnitOfWork, now: datetime, new_id: NewId = uuid4
) -> tuple[Contract, ContractLine]:
    """Add a line to a contract (a draft, or one in force)."""
    async with uow:
        contract = await _load(cmd, uow=uow)
        line = cmd.terms.line(contract, line_id=new_id(), number=contract.next_line_number())
        await _store(contract, contract.add_line(line, now=now), uow=uow)
        return contract, contract.line(line.line_id)


async def change_line(
    cmd: ChangeLine, *, uow: CasesUnitOfWork, now: datetime
) -> tuple[Contract, ContractLine]:
    """Replace a line's terms; its ledger stays as it is."""
    async with uow:
        contract = await _load(cmd, uow=uow)
        current = contract.line(cmd.line_id)
        line = cmd.terms.line(contract, line_id=current.line_id, number=current.number)
        # Held, so that no case draws on the line between this check and the change.
        await uow.contracts.line_for_update(cmd.line_id)
        drawn_on = await uow.contracts.drawn_on(cmd.line_id)
        await _store(contract, contract.change_line(line, drawn_on=drawn_on, now=now), uow=uow)
        return contract, contract.line(cmd.line_id)


async def remove_line(cmd: RemoveLine, *, uow: CasesUnitOfWork, now: datetime) -> Contract:
    """Remove a line no case has drawn on."""
    async with uow:
        contract = await _load(cmd, uow=uow)
        # Held, so that no case draws on the line between this check and the removal.
        await uow.contracts.line_for_update(cmd.line_id)
        drawn_on = await uow.contracts.drawn_on(cmd.line_id)
        events = contract.remove_line(cmd.line_id, drawn_on=drawn_on, now=now)
        await _store(contract, events, uow=uow)
        return contract


async def move_contract(cmd: MoveContract, *, uow: CasesUnitOfWork, now: datetime) -> Contract:
    """Activate, hold, resume or cancel a contract."""
    async with uow:
        contract = await _load(cmd, uow=uow)
        today = now.date()
        match cmd.step:
            case "activate":
                events = contract.activate(today=today, now=now, by=cmd.by)
            case "hold":
                events = contract.hold(reason=cmd.reason, now=now, by=cmd.by)
            case "resume":
                events = contract.resume(today=today, now=now, by=cmd.by)
            case "cancel":
                events = contract.cancel(reason=cmd.reason or "", now=now, by=cmd.by)
            case _:
                raise ValueError(f"no contract step {cmd.step!r}")
        await _store(contract, events, uow=uow)
        return contract


async def renew_contract(
    cmd: RenewContract, *, uow: CasesUnitOfWork, now: datetime, new_id: NewId = uuid4
) -> Contract:
    """Renew a contract into the next period; returns the renewal."""
    async with uow:
        contract = await _load(cmd, uow=uow)
        number = format_contract_number(now.year, await uow.contracts.next_sequence())
        renewal, created, renewed = contract.renew(
            renewal_id=new_id(),
            renewal_number=number,
            line_ids=[new_id() for _ in contract.lines],
            now=now,
            by=cmd.by,
            starts_on=cmd.starts_on,
        )
        await uow.contracts.add(renewal)
        uow.emit_contract(renewal, created)
        if cmd.activate:
            # A renewal ready in advance is active, covering cases from its first day.
            activated = renewal.activate(today=now.date(), now=now, by=cmd.by)
            await uow.contracts.save(renewal)
            uow.emit_contract(renewal, activated)
        await uow.contracts.save(contract)
        uow.emit_contract(contract, renewed)
        await uow.commit()
        return renewal


async def _load(cmd: ContractCommand, *, uow: CasesUnitOfWork) -> Contract:
    contract = await uow.contracts.get(cmd.contract_id, for_update=True)
    if contract is None:
        raise ContractNotFoundError(f"There is no contract {cmd.contract_id}.")
    if cmd.expected_version is not None and cmd.expected_version != contract.version:
        raise StaleContractError(
            f"contract {contract.number} is at version {contract.version}, not "
            f"{cmd.expected_version}; read it again",
            members={"current_version": contract.version},
        )
    return contract


async def _store(
    contract: Contract, events: Sequence[ContractEvent], *, uow: CasesUnitOfWork
) -> None:
    if not events:
        return
    await uow.contracts.save(contract)
    uow.emit_contract(contract, events)
    await uow.commit()


# -- upkeep -----------------------------------------------------------------------------------


async def upkeep(
    *,
    uow: CasesUnitOfWork,
    now: datetime,
    notice_days: int = ENDING_NOTICE_DAYS,
    limit: int = 100,
    new_id: NewId = uuid4,
) -> int:
    """Expire the contracts whose end date has passed, and tell the owners of those ending
    within the notice period; one batch, returns how many contracts it looked at."""
    async with uow:
        today = now.date()
        due = await uow.contracts.due_for_upkeep(today, notice_days=notice_days, limit=limit)
        for contract in due:
            events = contract.expire(today=today, now=now) or contract.ending_notice(
                today=today, now=now, notice_days=notice_days
            )
            if events:
                await uow.contracts.save(contract)
                uow.emit_contract(contract, events)
                for notification in contract_notices(contract, events, new_id=new_id):
                    uow.notify(notification)
        await uow.commit()
        return len(due)


# -- cases and their lines --------------------------------------------------------------------


async def coverage_of(
    *,
    uow: CasesUnitOfWork,
    account_id: UUID | None,
    contact_id: UUID,
    channel: Channel,
    request_type: str | None,
    now: datetime,
) -> Coverage:
    """Which line covers a case opening now, or why none does."""
    lines = [] if account_id is None else await uow.contracts.lines_of_account(account_id)
    return cover(
        lines,
        account_id=account_id,
        contact_id=contact_id,
        channel=channel,
        request_type=request_type,
        on=now.date(),
    )


AGENT_CHOICE = "chosen by an agent"
"""The rule recorded when an agent puts a case under a line."""

AGENT_CLEARED = "cleared by an agent"
"""The rule recorded when an agent takes a case off its line."""


async def chosen_coverage(
    case: Case, line_id: UUID | None, *, uow: CasesUnitOfWork, now: datetime
) -> Coverage:
    """The coverage an agent asks for: `line_id`, which must be one of the case's account's
    lines in force that day for its contact; or none (the case draws on nothing)."""
    if line_id is None:
        return Coverage(rule=AGENT_CLEARED)
    if case.customer.account_id is None:
        raise InvalidContractError(f"case {case.number} has no account, so no contract covers it")
    held = next(
        (
            h
            for h in await uow.contracts.lines_of_account(case.customer.account_id)
            if h.line.line_id == line_id
        ),
        None,
    )
    if held is None:
        raise InvalidContractError(
            f"line {line_id} is not a line of a contract of account {case.customer.account_id}",
            members={"errors": [{"loc": ["body", "line_id"], "msg": "not a line of the account"}]},
        )
    why = miss(
        # The agent may knowingly choose a used-up line: what it cannot cover is overage.
        replace(held, remaining=max(held.remaining, 1)),
        contact_id=case.customer.contact_id,
        channel=case.channel,
        request_type=case.request_type,
        on=now.date(),
    )
    if why in (
        NotEntitled.NO_CONTRACT,
        NotEntitled.EXPIRED,
        NotEntitled.NOT_STARTED,
        NotEntitled.ON_HOLD,
    ):
        raise ContractConflictError(
            f"line {held.line.number} of contract {held.contract.number} covers no case "
            f"today ({why}); choose a line in force",
            members={"not_entitled": why.value if why else None},
        )
    if why is NotEntitled.CONTACT_NOT_COVERED:
        raise ContractConflictError(
            f"contract {held.contract.number} does not cover the case's contact",
            members={"not_entitled": why.value},
        )
    return Coverage.by_line(held, rule=AGENT_CHOICE)


async def draw_for_resolution(
    case: Case, *, uow: CasesUnitOfWork, now: datetime, by: UUID | None, new_id: NewId = uuid4
) -> None:
    """Draw the resolved case on its line: one case, or its billable minutes.

    The line's row is locked first, so resolutions on one line take turns, and each reads
    the remaining the one before it left.
    """
    if case.entitlement_id is None or case.resolution is None:
        return
    found = await uow.contracts.line_for_update(case.entitlement_id)
    if found is None:
        log.warning(
            "case.line_missing", case_id=str(case.case_id), line_id=str(case.entitlement_id)
        )
        return
    contract, line = found
    before = line.allotment - (await uow.contracts.used([line.line_id])).get(line.line_id, 0)
    draw = drawdown(line, remaining=before, billable_minutes=case.resolution.billable_minutes)
    if draw.amount == 0 and draw.overage == 0:
        return
    entry = LedgerEntry(
        entry_id=new_id(),
        line_id=line.line_id,
        contract_id=contract.contract_id,
        case_id=case.case_id,
        kind=EntryKind.DRAWDOWN,
        amount=draw.amount,
        overage=draw.overage,
        by=by,
        reason=f"case {case.number} resolved",
        at=now,
    )
    await uow.contracts.record(entry)
    after = before - draw.amount
    events: list[ContractEvent] = [
        LineDrawnDown(
            contract_id=contract.contract_id,
            occurred_at=now,
            line_id=line.line_id,
            remaining=after,
            entry_id=entry.entry_id,
            case_id=case.case_id,
            amount=draw.amount,
            overage=draw.overage,
            by=by,
        ),
        *balance_warnings(
            line, contract_id=contract.contract_id, before=before, after=after, now=now
        ),
    ]
    uow.emit_contract(contract, events)
    for notification in contract_notices(contract, events, new_id=new_id, case_id=case.case_id):
        uow.notify(notification)


async def restore_for_reopening(
    case: Case,
    *,
    uow: CasesUnitOfWork,
    now: datetime,
    by: UUID | None,
    reason: str,
    new_id: NewId = uuid4,
) -> None:
    """Give back what the reopened case drew, on every line it drew on; its next
    resolution draws its new total."""
    for line_id, amount, overage in await uow.contracts.net_of_case(case.case_id):
        found = await uow.contracts.line_for_update(line_id)
        if found is None:
            continue
        contract, line = found
        before = line.allotment - (await uow.contracts.used([line_id])).get(line_id, 0)
        entry = LedgerEntry(
            entry_id=new_id(),
            line_id=line_id,
            contract_id=contract.contract_id,
            case_id=case.case_id,
            kind=EntryKind.RESTORE,
            amount=-amount,
            overage=-overage,
            by=by,
            reason=f"case {case.number} reopened: {reason}",
            at=now,
        )
        await uow.contracts.record(entry)
        uow.emit_contract(
            contract,
            [
                LineRestored(
                    contract_id=contract.contract_id,
                    occurred_at=now,
                    line_id=line_id,
                    remaining=before + amount,
                    entry_id=entry.entry_id,
                    case_id=case.case_id,
                    amount=amount,
                    reason=reason,
                    by=by,
                )
            ],
        )


async def contract_from_decision(
    case: Case,
    decision: Decision,
    *,
    uow: CasesUnitOfWork,
    now: datetime,
    by: UUID | None,
    new_id: NewId = uuid4,
) -> Contract | None:
    """The draft contract a decision that creates one draws up for the case's account."""
    if not decision.creates_contract:
        return None
    if case.customer.account_id is None:
        raise InvalidContractError(
            f"decision {decision.code!r} draws up a contract for the case's account, and case "
            f"{case.number} has none"
        )
    return await _draft(
        DrawUpContract(
            account_id=case.customer.account_id,
            by=by,
            template_id=decision.contract_template_id,
            contacts=frozenset(),
            origin_case_id=case.case_id,
        ),
        uow=uow,
        now=now,
        new_id=new_id,
    )
