"""Service contracts over HTTP: templates, contracts and their lines, the lines' ledger.

Agents read contracts (they see what covers a case); supervisors draw them up, change them
and move them through their lives. Every contract shows each line's allotment, used and
remaining, the remaining being the line's ledger summed. Errors are raised, and answered as
problem+json by the mapping in `cases.bootstrap`.
"""

# No `from __future__ import annotations` here: FastAPI must evaluate the route signatures.

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Response
from pydantic import BaseModel, Field, StringConstraints

from caseflow_servicekit import Authenticator, Clock, Principal, Role
from caseflow_servicekit.edge import EdgeModel, Limit, Offset, Text, if_match_version
from cases.adapters.uow import SqlCasesUnitOfWork
from cases.app.contracts import (
    AddLine,
    ChangeContract,
    ChangeLine,
    DrawUpContract,
    LineTerms,
    MoveContract,
    RemoveLine,
    RenewContract,
    TemplateTerms,
    add_line,
    change_contract,
    change_line,
    change_template,
    define_template,
    draw_up_contract,
    move_contract,
    remove_line,
    renew_contract,
)
from cases.domain.contracts import (
    DEFAULT_WARN_BELOW_PERCENT,
    MAX_CONTRACT_DAYS,
    Allocation,
    Balance,
    Contract,
    ContractLine,
    ContractNotFoundError,
    ContractStatus,
    ContractTemplate,
    LedgerEntry,
)
from cases.domain.values import Channel

Name = Annotated[Text, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Reason = Annotated[Text, StringConstraints(min_length=1, max_length=2_000, strip_whitespace=True)]
Code = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[a-z0-9._-]+$")]
"""A request type's code."""
Day = Annotated[date, Field(ge=date(2000, 1, 1), le=date(2199, 12, 31))]
"""A day between 2000 and 2199."""
Allotment = Annotated[int, Field(ge=0, le=10_000_000)]
"""Cases or minutes: 0 to ten million."""
Percent = Annotated[int, Field(ge=0, le=100)]
Channels = Annotated[list[Channel], Field(max_length=len(Channel))]
"""The channels covered; empty: all."""
RequestTypes = Annotated[list[Code], Field(max_length=200)]
"""The request types covered; empty: all."""
Contacts = Annotated[list[UUID], Field(max_length=1_000)]
"""The account's contacts it covers; empty: all of them."""


# -- bodies -----------------------------------------------------------------------------------


class TemplateBody(EdgeModel):
    """What a contract template says."""

    name: Name
    allocation: Allocation
    """What its contracts count: cases or minutes."""
    default_allotment: Allotment
    default_duration_days: Annotated[int, Field(ge=1, le=MAX_CONTRACT_DAYS)] = 365
    channels: Channels = []
    request_types: RequestTypes = []
    sla_policy_id: UUID | None = None
    """The SLA policy cases under its contracts get (an id of the SLA service's policies)."""
    calendar_id: UUID | None = None
    """The working-time calendar they are measured on (an id of the SLA service's calendars)."""
    allow_overdraft: bool = False
    warn_below_percent: Percent = DEFAULT_WARN_BELOW_PERCENT
    active: bool = True

    def terms(self) -> TemplateTerms:
        return TemplateTerms(
            name=self.name,
            allocation=self.allocation,
            default_allotment=self.default_allotment,
            default_duration_days=self.default_duration_days,
            channels=frozenset(self.channels),
            request_types=frozenset(self.request_types),
            sla_policy_id=self.sla_policy_id,
            calendar_id=self.calendar_id,
            allow_overdraft=self.allow_overdraft,
            warn_below_percent=self.warn_below_percent,
            active=self.active,
        )


class LineBody(EdgeModel):
    """A contract line: an allotment of cases or minutes, for some channels and request
    types, between two days within the contract's (default: the contract's own)."""

    name: Name
    allocation: Allocation
    allotment: Allotment
    starts_on: Day | None = None
    ends_on: Day | None = None
    channels: Channels = []
    request_types: RequestTypes = []
    allow_overdraft: bool = False
    """Cover cases past the allotment (remaining goes below 0) instead of billing overage."""
    warn_below_percent: Percent = DEFAULT_WARN_BELOW_PERCENT
    """Tell the contract's owner once remaining falls below this share of the allotment."""

    def terms(self) -> LineTerms:
        return LineTerms(
            name=self.name,
            allocation=self.allocation,
            allotment=self.allotment,
            starts_on=self.starts_on,
            ends_on=self.ends_on,
            channels=frozenset(self.channels),
            request_types=frozenset(self.request_types),
            allow_overdraft=self.allow_overdraft,
            warn_below_percent=self.warn_below_percent,
        )


class ContractTerms(EdgeModel):
    """A new contract: from a template (`template_id`) or from scratch. From a template, what
    is not given comes from it, and without `lines` it gets one line of its defaults."""

    name: Name | None = None
    template_id: UUID | None = None
    starts_on: Day | None = None
    """Default: today."""
    ends_on: Day | None = None
    """Default: after the template's duration, or a year."""
    contacts: Contacts = []
    owner_id: UUID | None = None
    """Who hears of low and exhausted allotments and of the coming end; default: the caller."""
    sla_policy_id: UUID | None = None
    calendar_id: UUID | None = None
    lines: Annotated[list[LineBody], Field(max_length=100)] = []


class NewContract(ContractTerms):
    """A new contract for an account."""

    account_id: UUID


class ContractChange(EdgeModel):
    """A contract's own terms to change; what is left out stays."""

    name: Name | None = None
    starts_on: Day | None = None
    """Only while a draft."""
    ends_on: Day | None = None
    contacts: Contacts | None = None
    owner_id: UUID | None = None
    sla_policy_id: UUID | None = None
    calendar_id: UUID | None = None


class Because(EdgeModel):
    """Why."""

    reason: Reason


class MaybeBecause(EdgeModel):
    """Why (optional)."""

    reason: Reason | None = None


class Renewal(EdgeModel):
    """How to renew: by default the next period starts the day after this one ends, as long
    as it, with the same lines at full allotment, as a draft."""

    starts_on: Day | None = None
    activate: bool = False
    """Activate the renewal at once (it covers cases from its first day)."""


# -- views ------------------------------------------------------------------------------------


class TemplateView(BaseModel):
    template_id: UUID
    name: str
    allocation: Allocation
    default_allotment: int
    default_duration_days: int
    channels: list[Channel]
    request_types: list[str]
    sla_policy_id: UUID | None
    calendar_id: UUID | None
    allow_overdraft: bool
    warn_below_percent: int
    active: bool
    version: int

    @classmethod
    def of(cls, t: ContractTemplate) -> "TemplateView":
        return cls(
            template_id=t.template_id,
            name=t.name,
            allocation=t.allocation,
            default_allotment=t.default_allotment,
            default_duration_days=t.default_duration_days,
            channels=sorted(t.channels),
            request_types=sorted(t.request_types),
            sla_policy_id=t.sla_policy_id,
            calendar_id=t.calendar_id,
            allow_overdraft=t.allow_overdraft,
            warn_below_percent=t.warn_below_percent,
            active=t.active,
            version=t.version,
        )


class LineView(BaseModel):
    """A line with its balance: `used` is its ledger summed, `remaining` the allotment less
    that."""

    line_id: UUID
    number: int
    name: str
    allocation: Allocation
    allotment: int
    used: int
    remaining: int
    starts_on: date
    ends_on: date
    channels: list[Channel]
    request_types: list[str]
    allow_overdraft: bool
    warn_below_percent: int

    @classmethod
    def of(cls, line: ContractLine, balance: Balance | None) -> "LineView":
        used = 0 if balance is None else balance.used
        return cls(
            line_id=line.line_id,
            number=line.number,
            name=line.name,
            allocation=line.allocation,
            allotment=line.allotment,
            used=used,
            remaining=line.allotment - used,
            starts_on=line.starts_on,
            ends_on=line.ends_on,
            channels=sorted(line.channels),
            request_types=sorted(line.request_types),
            allow_overdraft=line.allow_overdraft,
            warn_below_percent=line.warn_below_percent,
        )


class ContractView(BaseModel):
    contract_id: UUID
    number: str
    version: int
    account_id: UUID
    name: str
    status: ContractStatus
    allowed: list[str]
    """What may be done next: activate, hold, resume, cancel, renew."""
    starts_on: date
    ends_on: date
    contacts: list[UUID]
    owner_id: UUID | None
    template_id: UUID | None
    sla_policy_id: UUID | None
    calendar_id: UUID | None
    origin_case_id: UUID | None
    renewed_from: UUID | None
    renewed_to: UUID | None
    hold_reason: str | None
    cancel_reason: str | None
    lines: list[LineView]

    @classmethod
    def of(cls, contract: Contract, balances: dict[UUID, Balance]) -> "ContractView":
        return cls(
            contract_id=contract.contract_id,
            number=contract.number,
            version=contract.version,
            account_id=contract.account_id,
            name=contract.name,
            status=contract.status,
            allowed=_allowed(contract),
            starts_on=contract.starts_on,
            ends_on=contract.ends_on,
            contacts=sorted(contract.contacts, key=str),
            owner_id=contract.owner_id,
            template_id=contract.template_id,
            sla_policy_id=contract.sla_policy_id,
            calendar_id=contract.calendar_id,
            origin_case_id=contract.origin_case_id,
            renewed_from=contract.renewed_from,
            renewed_to=contract.renewed_to,
            hold_reason=contract.hold_reason,
            cancel_reason=contract.cancel_reason,
            lines=[LineView.of(line, balances.get(line.line_id)) for line in contract.lines],
        )


class ContractPage(BaseModel):
    items: list[ContractView]
    total: int
    limit: int
    offset: int


class EntryView(BaseModel):
    """One movement on a line: a resolved case drawing (amount > 0), or a reopened one giving
    back (amount < 0); `overage` is what the line could not cover."""

    entry_id: UUID
    line_id: UUID
    case_id: UUID
    kind: str
    amount: int
    overage: int
    by: UUID | None
    reason: str
    at: datetime

    @classmethod
    def of(cls, e: LedgerEntry) -> "EntryView":
        return cls(
            entry_id=e.entry_id,
            line_id=e.line_id,
            case_id=e.case_id,
            kind=e.kind.value,
            amount=e.amount,
            overage=e.overage,
            by=e.by,
            reason=e.reason,
            at=e.at,
        )


class LedgerPage(BaseModel):
    items: list[EntryView]
    total: int
    limit: int
    offset: int


def _allowed(contract: Contract) -> list[str]:
    steps = {
        ContractStatus.DRAFT: ["activate", "cancel"],
        ContractStatus.ACTIVE: ["hold", "cancel", "renew"],
        ContractStatus.ON_HOLD: ["resume", "cancel", "renew"],
        ContractStatus.EXPIRED: ["renew"],
        ContractStatus.CANCELLED: [],
    }[contract.status]
    if contract.renewed_to is not None:
        steps = [step for step in steps if step != "renew"]
    return steps


# -- the routes -------------------------------------------------------------------------------


def router(
    *, uow_factory: Callable[[], SqlCasesUnitOfWork], auth: Authenticator, clock: Clock
) -> APIRouter:
    """Routes for contract templates, contracts, their lines and ledger."""
    api = APIRouter(tags=["contracts"])
    agent = Depends(auth.requires(Role.AGENT))
    supervisor = Depends(auth.requires(Role.SUPERVISOR))
    Supervisor = Annotated[Principal, supervisor]
    IfMatch = Annotated[str | None, Header(alias="If-Match")]

    async def shown(
        uow: SqlCasesUnitOfWork, contract: Contract, response: Response
    ) -> ContractView:
        response.headers["ETag"] = f'"{contract.version}"'
        return ContractView.of(contract, await uow.contracts.balances(contract))

    # -- templates

    @api.get("/contract-templates", response_model=list[TemplateView], dependencies=[agent])
    async def list_templates(include_inactive: bool = False) -> list[TemplateView]:
        """The templates by name; the inactive ones too with `include_inactive`."""
        async with uow_factory() as uow:
            found = await uow.contracts.templates(include_inactive=include_inactive)
        return [TemplateView.of(t) for t in found]

    @api.post(
        "/contract-templates",
        response_model=TemplateView,
        status_code=201,
        dependencies=[supervisor],
    )
    async def add_template(body: TemplateBody, response: Response) -> TemplateView:
        """Add a template; 409 if its name is taken."""
        template = await define_template(body.terms(), uow=uow_factory())
        response.headers["Location"] = f"/contract-templates/{template.template_id}"
        return TemplateView.of(template)

    @api.get("/contract-templates/{template_id}", response_model=TemplateView, dependencies=[agent])
    async def get_template(template_id: UUID) -> TemplateView:
        """One template."""
        async with uow_factory() as uow:
            found = await uow.contracts.template(template_id)
        if found is None:
            raise ContractNotFoundError(f"There is no contract template {template_id}.")
        return TemplateView.of(found)

    @api.put(
        "/contract-templates/{template_id}", response_model=TemplateView, dependencies=[supervisor]
    )
    async def replace_template(template_id: UUID, body: TemplateBody) -> TemplateView:
        """Replace what a template says; contracts drawn up from it keep their terms."""
        return TemplateView.of(await change_template(template_id, body.terms(), uow=uow_factory()))

    # -- contracts

    async def drawn_up(
        account_id: UUID, body: ContractTerms, principal: Principal, response: Response
    ) -> ContractView:
        async with uow_factory() as uow:
            contract = await draw_up_contract(
                DrawUpContract(
                    account_id=account_id,
                    by=principal.agent_id,
                    name=body.name,
                    template_id=body.template_id,
                    starts_on=body.starts_on,
                    ends_on=body.ends_on,
                    contacts=frozenset(body.contacts),
                    owner_id=body.owner_id,
                    sla_policy_id=body.sla_policy_id,
                    calendar_id=body.calendar_id,
                    lines=[line.terms() for line in body.lines],
                ),
                uow=uow,
                now=clock.now(),
            )
            response.headers["Location"] = f"/contracts/{contract.contract_id}"
            return await shown(uow, contract, response)

    @api.post("/contracts", response_model=ContractView, status_code=201)
    async def add_contract(
        body: NewContract, principal: Supervisor, response: Response
    ) -> ContractView:
        """Draw up a contract for an account, as a draft: from a template or from scratch.
        Published as `contract.created`."""
        return await drawn_up(body.account_id, body, principal, response)

    @api.post("/accounts/{account_id}/contracts", response_model=ContractView, status_code=201)
    async def add_account_contract(
        account_id: UUID, body: ContractTerms, principal: Supervisor, response: Response
    ) -> ContractView:
        """Draw up a contract for this account, as a draft."""
        return await drawn_up(account_id, body, principal, response)

    async def page(
        *, account_id: UUID | None, status: ContractStatus | None, limit: int, offset: int
    ) -> ContractPage:
        async with uow_factory() as uow:
            found, total = await uow.contracts.search(
                account_id=account_id, status=status, limit=limit, offset=offset
            )
            # One ledger query for the whole page.
            balances = await uow.contracts.balances(*found)
            items = [ContractView.of(c, balances) for c in found]
        return ContractPage(items=items, total=total, limit=limit, offset=offset)

    @api.get("/contracts", response_model=ContractPage, dependencies=[agent])
    async def list_contracts(
        account_id: UUID | None = None,
        status: ContractStatus | None = None,
        limit: Annotated[Limit, Query()] = 50,
        offset: Annotated[Offset, Query()] = 0,
    ) -> ContractPage:
        """Contracts by number, with their lines and balances."""
        return await page(account_id=account_id, status=status, limit=limit, offset=offset)

    @api.get("/accounts/{account_id}/contracts", response_model=ContractPage, dependencies=[agent])
    async def account_contracts(
        account_id: UUID,
        status: ContractStatus | None = None,
        limit: Annotated[Limit, Query()] = 50,
        offset: Annotated[Offset, Query()] = 0,
    ) -> ContractPage:
        """An account's contracts, with their lines and balances."""
        return await page(account_id=account_id, status=status, limit=limit, offset=offset)

    @api.get("/contracts/{contract_id}", response_model=ContractView, dependencies=[agent])
    async def get_contract(contract_id: UUID, response: Response) -> ContractView:
        """A contract, its lines and each line's allotment, used and remaining."""
        async with uow_factory() as uow:
            contract = await uow.contracts.get(contract_id)
            if contract is None:
                raise ContractNotFoundError(f"There is no contract {contract_id}.")
            return await shown(uow, contract, response)

    @api.patch("/contracts/{contract_id}", response_model=ContractView)
    async def patch_contract(
        contract_id: UUID,
        body: ContractChange,
        principal: Supervisor,
        response: Response,
        if_match: IfMatch = None,
    ) -> ContractView:
        """Change a contract's name, dates, contacts, owner, SLA policy or calendar. Its lines
        must still fit its dates; a contract in force keeps its start."""
        async with uow_factory() as uow:
            contract = await change_contract(
                ChangeContract(
                    contract_id=contract_id,
                    by=principal.agent_id,
                    expected_version=_version(if_match),
                    name=body.name,
                    starts_on=body.starts_on,
                    ends_on=body.ends_on,
                    contacts=None if body.contacts is None else frozenset(body.contacts),
                    owner_id=body.owner_id,
                    sla_policy_id=body.sla_policy_id,
                    calendar_id=body.calendar_id,
                ),
                uow=uow,
                now=clock.now(),
            )
            return await shown(uow, contract, response)

    @api.post("/contracts/{contract_id}/lines", response_model=LineView, status_code=201)
    async def post_line(
        contract_id: UUID, body: LineBody, principal: Supervisor, if_match: IfMatch = None
    ) -> LineView:
        """Add a line. It must lie within the contract's dates and overlap none of its lines
        (409 names the one it overlaps)."""
        async with uow_factory() as uow:
            _, line = await add_line(
                AddLine(
                    contract_id=contract_id,
                    by=principal.agent_id,
                    expected_version=_version(if_match),
                    terms=body.terms(),
                ),
                uow=uow,
                now=clock.now(),
            )
        return LineView.of(line, None)

    @api.put("/contracts/{contract_id}/lines/{line_id}", response_model=LineView)
    async def put_line(
        contract_id: UUID,
        line_id: UUID,
        body: LineBody,
        principal: Supervisor,
        if_match: IfMatch = None,
    ) -> LineView:
        """Replace a line's terms. A line cases drew on keeps its ledger and what it counts;
        its remaining follows the new allotment."""
        async with uow_factory() as uow:
            contract, line = await change_line(
                ChangeLine(
                    contract_id=contract_id,
                    by=principal.agent_id,
                    expected_version=_version(if_match),
                    line_id=line_id,
                    terms=body.terms(),
                ),
                uow=uow,
                now=clock.now(),
            )
            balances = await uow.contracts.balances(contract)
        return LineView.of(line, balances.get(line_id))

    @api.delete("/contracts/{contract_id}/lines/{line_id}", status_code=204)
    async def delete_line(
        contract_id: UUID, line_id: UUID, principal: Supervisor, if_match: IfMatch = None
    ) -> Response:
        """Remove a line no case has drawn on (409 otherwise)."""
        async with uow_factory() as uow:
            await remove_line(
                RemoveLine(
                    contract_id=contract_id,
                    by=principal.agent_id,
                    expected_version=_version(if_match),
                    line_id=line_id,
                ),
                uow=uow,
                now=clock.now(),
            )
        return Response(status_code=204)

    @api.get("/contracts/{contract_id}/ledger", response_model=LedgerPage, dependencies=[agent])
    async def ledger(
        contract_id: UUID,
        line_id: UUID | None = None,
        limit: Annotated[Limit, Query()] = 50,
        offset: Annotated[Offset, Query()] = 0,
    ) -> LedgerPage:
        """Every movement on the contract's lines (or one line's), oldest first."""
        async with uow_factory() as uow:
            if await uow.contracts.get(contract_id) is None:
                raise ContractNotFoundError(f"There is no contract {contract_id}.")
            entries, total = await uow.contracts.ledger(
                contract_id, line_id=line_id, limit=limit, offset=offset
            )
        return LedgerPage(
            items=[EntryView.of(e) for e in entries], total=total, limit=limit, offset=offset
        )

    async def moved(
        contract_id: UUID,
        step: str,
        reason: str | None,
        principal: Principal,
        response: Response,
        if_match: str | None,
    ) -> ContractView:
        async with uow_factory() as uow:
            contract = await move_contract(
                MoveContract(
                    contract_id=contract_id,
                    by=principal.agent_id,
                    expected_version=_version(if_match),
                    step=step,
                    reason=reason,
                ),
                uow=uow,
                now=clock.now(),
            )
            return await shown(uow, contract, response)

    @api.post("/contracts/{contract_id}/activate", response_model=ContractView)
    async def activate(
        contract_id: UUID, principal: Supervisor, response: Response, if_match: IfMatch = None
    ) -> ContractView:
        """Bring a draft into force; it needs at least one line (409 otherwise)."""
        return await moved(contract_id, "activate", None, principal, response, if_match)

    @api.post("/contracts/{contract_id}/hold", response_model=ContractView)
    async def hold(
        contract_id: UUID,
        principal: Supervisor,
        response: Response,
        body: MaybeBecause | None = None,
        if_match: IfMatch = None,
    ) -> ContractView:
        """Put an active contract on hold: it covers no new case until it resumes."""
        reason = None if body is None else body.reason
        return await moved(contract_id, "hold", reason, principal, response, if_match)

    @api.post("/contracts/{contract_id}/resume", response_model=ContractView)
    async def resume(
        contract_id: UUID, principal: Supervisor, response: Response, if_match: IfMatch = None
    ) -> ContractView:
        """Bring a contract on hold back into force (or to expired, if it ended meanwhile)."""
        return await moved(contract_id, "resume", None, principal, response, if_match)

    @api.post("/contracts/{contract_id}/cancel", response_model=ContractView)
    async def cancel(
        contract_id: UUID,
        body: Because,
        principal: Supervisor,
        response: Response,
        if_match: IfMatch = None,
    ) -> ContractView:
        """End a contract before its time, or drop a draft, saying why."""
        return await moved(contract_id, "cancel", body.reason, principal, response, if_match)

    @api.post("/contracts/{contract_id}/renew", response_model=ContractView, status_code=201)
    async def renew(
        contract_id: UUID,
        principal: Supervisor,
        response: Response,
        body: Renewal | None = None,
        if_match: IfMatch = None,
    ) -> ContractView:
        """Renew into the next period: a new contract, as long as this one, with the same
        lines at full allotment; a draft unless `activate`. Answers with the renewal."""
        asked = body or Renewal()
        async with uow_factory() as uow:
            renewal = await renew_contract(
                RenewContract(
                    contract_id=contract_id,
                    by=principal.agent_id,
                    expected_version=_version(if_match),
                    starts_on=asked.starts_on,
                    activate=asked.activate,
                ),
                uow=uow,
                now=clock.now(),
            )
            response.headers["Location"] = f"/contracts/{renewal.contract_id}"
            return await shown(uow, renewal, response)

    return api


def _version(if_match: str | None) -> int | None:
    return if_match_version(if_match, of="contract")
