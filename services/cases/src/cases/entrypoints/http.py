"""The cases HTTP API: an agent opens, reads and works cases.

Every change answers with the case's `ETag` (its version, quoted); `PATCH` needs `If-Match`
with it, and any other change honours one when sent. Errors are raised and answered as
problem+json by the mapping in `cases.bootstrap`.
"""

# No `from __future__ import annotations` here: FastAPI must evaluate the route signatures,
# which use the router's own dependencies.

import base64
import binascii
import json
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Response
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, EmailStr, Field, StringConstraints, model_validator

from caseflow_servicekit import Authenticator, Clock, NotFound, Principal, Role
from caseflow_servicekit.edge import (
    INT32_MAX,
    INT64_MAX,
    EdgeModel,
    Limit,
    Text,
    if_match_responses,
    if_match_version,
)
from cases.adapters.projections import ROUTING_KEY
from cases.adapters.repository import CaseFilter
from cases.adapters.uow import SqlCasesUnitOfWork
from cases.app.handlers import (
    OpenCase,
    OpenCaseForNewCustomer,
    open_case,
    request_case_for_new_customer,
)
from cases.app.work import (
    AcceptCase,
    CancelCase,
    ChangeEntitlement,
    EscalateCase,
    LogActivity,
    MoveCase,
    RecordDecision,
    ReopenCase,
    ReplyToCustomer,
    ResolveCase,
    UpdateCase,
    accept_case,
    cancel_case,
    change_entitlement,
    escalate_case,
    log_activity,
    move_case,
    record_decision,
    reopen_case,
    reply_to_customer,
    resolve_case,
    update_case,
)
from cases.domain.case import (
    MAX_ACTIVITY_MINUTES,
    Activity,
    Case,
    Escalation,
    RecordedDecision,
    next_steps,
)
from cases.domain.errors import CaseValidationError
from cases.domain.values import (
    ActivityKind,
    Attachment,
    CaseStatus,
    Channel,
    EscalationTarget,
    Priority,
)

Subject = Annotated[Text, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)]
Body = Annotated[Text, StringConstraints(max_length=20_000)]
Code = Annotated[Text, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
Reason = Annotated[Text, StringConstraints(min_length=1, max_length=2_000, strip_whitespace=True)]
Language = Annotated[Text, StringConstraints(min_length=1, max_length=16, strip_whitespace=True)]
ParameterName = Annotated[Text, StringConstraints(min_length=1, max_length=100)]
Answer = Annotated[Text, StringConstraints(max_length=2_000)]
Search = Annotated[Text, StringConstraints(min_length=1, max_length=200)]
PersonName = Annotated[Text, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Phone = Annotated[Text, StringConstraints(min_length=1, max_length=50, strip_whitespace=True)]
CallId = Annotated[Text, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
FileName = Annotated[Text, StringConstraints(min_length=1, max_length=255)]
ContentType = Annotated[Text, StringConstraints(min_length=1, max_length=255)]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
"""A SHA-256 digest as 64 lower-case hexadecimal digits."""

Minutes = Annotated[int, Field(ge=0, le=MAX_ACTIVITY_MINUTES)]
"""Minutes of one piece of work: 0 to a day."""
BillableMinutes = Annotated[int, Field(ge=0, le=INT32_MAX)]
Parameters = Annotated[dict[ParameterName, Answer], Field(max_length=100)]

MAX_ATTACHMENTS = 50
"""The most files one reply or activity may carry."""


# -- bodies ----------------------------------------------------------------------------------


class AttachmentRef(EdgeModel):
    """A file the agent uploaded to intake first (`POST /attachments`), as intake described
    it: the bytes stay with intake, the case keeps the reference."""

    attachment_id: UUID
    filename: FileName
    content_type: ContentType
    size: Annotated[int, Field(ge=0, le=INT64_MAX)]
    """In bytes."""
    sha256: Sha256

    def to_domain(self) -> Attachment:
        """The reference as the case keeps it."""
        return Attachment(
            attachment_id=self.attachment_id,
            filename=self.filename,
            content_type=self.content_type,
            size=self.size,
            sha256=self.sha256,
        )


Attachments = Annotated[list[AttachmentRef], Field(max_length=MAX_ATTACHMENTS)]


class NewCustomer(EdgeModel):
    """A customer who may not be on file: intake finds them by email, then by phone, or files
    them."""

    name: PersonName
    email: Annotated[EmailStr, Field(max_length=254)] | None = None
    phone: Phone | None = None
    """At least one of `email` and `phone`."""


class NewCase(EdgeModel):
    """A case an agent opens: for a known customer (`contact_id`), or for one who may not be
    on file (`customer`), whom intake identifies before the case opens."""

    contact_id: UUID | None = None
    customer: NewCustomer | None = None
    account_id: UUID | None = None
    """Only with `contact_id`: intake finds a new customer's account."""
    channel: Channel
    subject: Subject
    description: Body = ""
    request_type: Code | None = None
    parameters: Parameters = Field(default_factory=dict)
    priority: Priority | None = None
    """Default: the request type's default priority, else the priority rules'."""
    language: Language | None = None
    """The customer's language, for what they are told (default English)."""
    call_id: CallId | None = None
    """The telephone call the agent is on with the customer (the id in the screen-pop): when
    the call ends, it is logged on the case as a call with its duration."""

    @model_validator(mode="after")
    def _one_customer(self) -> "NewCase":
        if (self.contact_id is None) == (self.customer is None):
            raise ValueError(
                "give exactly one of contact_id (a customer on file) and customer (one who "
                "may not be)"
            )
        if self.customer is not None and self.account_id is not None:
            raise ValueError("account_id goes with contact_id; intake finds a new customer's")
        if self.customer is not None and self.priority is not None:
            raise ValueError(
                "priority goes with contact_id; a new customer's case gets the priority "
                "of its request type and the priority rules"
            )
        return self


class CaseChanges(EdgeModel):
    """What to correct; fields left out stay as they are."""

    subject: Subject | None = None
    description: Body | None = None
    request_type: Code | None = None
    parameters: Parameters | None = None
    priority: Priority | None = None


class StepReason(EdgeModel):
    """Why the case moves (optional)."""

    reason: Reason | None = None


class NewActivity(EdgeModel):
    """A finished piece of work."""

    kind: ActivityKind
    subject: Subject
    description: Body = ""
    performed_by: UUID | None = None
    """Default: the caller."""
    performed_at: AwareDatetime | None = None
    """Default: now."""
    duration_minutes: Minutes = 0
    billable: bool = False
    attachments: Attachments = Field(default_factory=list)
    """Files that went with the work, uploaded to intake first."""


class NewReply(EdgeModel):
    """An answer to the customer."""

    text: Annotated[Body, Field(min_length=1)]
    duration_minutes: Minutes = 0
    billable: bool = False
    attachments: Attachments = Field(default_factory=list)
    """Files sent with the answer, uploaded to intake first; intake mails them along."""


class NewDecision(EdgeModel):
    """A decision of the decisions catalogue, and why."""

    code: Code
    text: Body = ""


class Resolve(EdgeModel):
    """The decision that resolves the case, and what was done; optionally corrected time."""

    code: Code
    text: Annotated[Body, Field(min_length=1)]
    billable_minutes: BillableMinutes | None = None
    """Bill this instead of what the billable activities add up to; needs a reason."""
    correction_reason: Reason | None = None


class Because(EdgeModel):
    """Why."""

    reason: Reason


class EntitlementChoice(EdgeModel):
    """The contract line the case draws on when resolved."""

    line_id: UUID
    """A line of one of the case's account's contracts in force, covering its contact."""


class Escalate(EdgeModel):
    """Raise the case to a manager with the customer's claim."""

    target: EscalationTarget
    claim: Annotated[Body, Field(min_length=1)]
    manager_id: UUID
    """The manager it goes to."""


# -- views -----------------------------------------------------------------------------------


class CaseRequested(BaseModel):
    """A new customer's request on its way: intake identifies them, then the case opens.

    Find the case with `GET /cases?interaction_id=...` (the `Location`)."""

    interaction_id: UUID
    status: Literal["identifying"] = "identifying"


class AttachmentView(BaseModel):
    """A file intake holds (fetch it from intake by `attachment_id`)."""

    attachment_id: UUID
    filename: str
    content_type: str
    size: int
    sha256: str

    @classmethod
    def of(cls, a: Attachment) -> "AttachmentView":
        return cls(
            attachment_id=a.attachment_id,
            filename=a.filename,
            content_type=a.content_type,
            size=a.size,
            sha256=a.sha256,
        )


class ActivityView(BaseModel):
    activity_id: UUID
    kind: str
    subject: str
    description: str
    duration_minutes: int
    billable: bool
    to_customer: bool
    performed_by: UUID | None
    performed_at: datetime | None
    logged_at: datetime
    attachments: list[AttachmentView]
    interaction_id: UUID | None
    """The customer's interaction it records, when it is a message of theirs."""
    contact_id: UUID | None
    """Who wrote, when it is a message from the customer's side."""
    from_other_contact: bool
    """The message came from someone other than the case's contact."""
    auto_reply: bool
    """The message was an automatic answer (an out-of-office)."""

    @classmethod
    def of(cls, a: Activity) -> "ActivityView":
        return cls(
            activity_id=a.activity_id,
            kind=a.kind.value,
            subject=a.subject,
            description=a.description,
            duration_minutes=a.duration_minutes,
            billable=a.billable,
            to_customer=a.to_customer,
            performed_by=a.performed_by,
            performed_at=a.performed_at,
            logged_at=a.logged_at,
            attachments=[AttachmentView.of(f) for f in a.attachments],
            interaction_id=a.interaction_id,
            contact_id=a.contact_id,
            from_other_contact=a.from_other_contact,
            auto_reply=a.auto_reply,
        )


class DecisionView(BaseModel):
    decision_id: UUID
    code: str
    outcome: str
    text: str
    recorded_by: UUID | None
    recorded_at: datetime

    @classmethod
    def of(cls, d: RecordedDecision) -> "DecisionView":
        return cls(
            decision_id=d.decision_id,
            code=d.code,
            outcome=d.outcome.value,
            text=d.text,
            recorded_by=d.recorded_by,
            recorded_at=d.recorded_at,
        )


class EscalationView(BaseModel):
    escalation_id: UUID
    level: int
    target: str
    manager_id: UUID | None
    claim: str
    escalated_by: UUID | None
    escalated_at: datetime

    @classmethod
    def of(cls, e: Escalation) -> "EscalationView":
        return cls(
            escalation_id=e.escalation_id,
            level=e.level,
            target=e.target.value,
            manager_id=e.manager_id,
            claim=e.claim,
            escalated_by=e.escalated_by,
            escalated_at=e.escalated_at,
        )


class ResolutionView(BaseModel):
    code: str
    text: str
    billable_minutes: int
    total_minutes: int
    logged_billable_minutes: int | None
    correction_reason: str | None
    resolved_by: UUID | None
    resolved_at: datetime


class EntitlementView(BaseModel):
    """What covers the case: `entitled` with the line and contract; `not_entitled` with the
    reason; `none` once an agent cleared it. `rule` says how the line was chosen when more
    than one applied, or that an agent chose it."""

    status: Literal["entitled", "not_entitled", "none"]
    line_id: UUID | None
    contract_id: UUID | None
    reason: str | None
    rule: str | None

    @classmethod
    def of(cls, case: Case) -> "EntitlementView":
        status: Literal["entitled", "not_entitled", "none"] = (
            "entitled"
            if case.entitlement_id is not None
            else "not_entitled"
            if case.not_entitled is not None
            else "none"
        )
        return cls(
            status=status,
            line_id=case.entitlement_id,
            contract_id=case.contract_id,
            reason=case.not_entitled,
            rule=case.entitlement_rule,
        )


class QueueView(BaseModel):
    queue_id: UUID | None
    queue_name: str | None


class CaseView(BaseModel):
    """A case as the API shows it."""

    case_id: UUID
    number: str
    version: int
    channel: str
    contact_id: UUID
    account_id: UUID | None
    subject: str
    description: str
    request_type: str | None
    parameters: dict[str, str]
    priority: str
    status: str
    allowed: list[str]
    """The steps that may be taken next: accept, hold, wait, resume, resolve, cancel, reopen."""
    language: str | None
    first_contact: bool
    """The customer had never written or called before this request."""
    opened_at: datetime
    opened_by: UUID | None
    call_id: str | None
    attachments: list[AttachmentView]
    """The files the request came with."""
    related_case_id: UUID | None
    """The earlier case this one continues: the customer wrote on it after it was closed."""
    related_number: str | None
    accepted_by: UUID | None
    resolved_at: datetime | None
    closed_at: datetime | None
    reopened_at: datetime | None
    cancellation_reason: str | None
    billable_minutes: int
    total_minutes: int
    call_minutes: int
    escalation_level: int
    reopen_count: int
    resolution: ResolutionView | None
    entitlement: EntitlementView
    queue: QueueView
    assignee_id: UUID | None
    sla: dict[str, Any]
    overdue: bool
    activities: list[ActivityView]
    decisions: list[DecisionView]
    escalations: list[EscalationView]

    @classmethod
    def of(cls, case: Case, projection: dict[str, Any] | None = None) -> "CaseView":
        facts = projection or {}
        r = case.resolution
        return cls(
            case_id=case.case_id,
            number=case.number,
            version=case.version,
            channel=case.channel.value,
            contact_id=case.customer.contact_id,
            account_id=case.customer.account_id,
            subject=case.subject,
            description=case.description,
            request_type=case.request_type,
            parameters=dict(case.parameters),
            priority=case.priority.value,
            status=case.status.value,
            allowed=list(next_steps(case.status)),
            language=case.language,
            first_contact=case.first_contact,
            opened_at=case.opened_at,
            opened_by=case.opened_by,
            call_id=case.call_id,
            attachments=[AttachmentView.of(a) for a in case.attachments],
            related_case_id=case.related_case_id,
            related_number=case.related_number,
            accepted_by=case.accepted_by,
            resolved_at=case.resolved_at,
            closed_at=case.closed_at,
            reopened_at=case.reopened_at,
            cancellation_reason=case.cancellation_reason,
            billable_minutes=case.billed_minutes,
            total_minutes=case.total_minutes,
            call_minutes=case.call_minutes,
            escalation_level=case.escalation_level,
            reopen_count=case.reopen_count,
            resolution=None
            if r is None
            else ResolutionView(
                code=r.resolution_type,
                text=r.summary,
                billable_minutes=r.billable_minutes,
                total_minutes=r.total_minutes,
                logged_billable_minutes=r.logged_billable_minutes,
                correction_reason=r.correction_reason,
                resolved_by=r.resolved_by,
                resolved_at=r.resolved_at,
            ),
            entitlement=EntitlementView.of(case),
            queue=QueueView(queue_id=facts.get("queue_id"), queue_name=facts.get("queue_name")),
            assignee_id=facts.get("assignee_id"),
            # The projection's own bookkeeping (when routing facts were learnt) is not SLA state.
            sla={
                kpi: state for kpi, state in (facts.get("sla") or {}).items() if kpi != ROUTING_KEY
            },
            overdue=bool(facts.get("overdue", False)),
            activities=[ActivityView.of(a) for a in case.activities],
            decisions=[DecisionView.of(d) for d in case.decisions],
            escalations=[EscalationView.of(e) for e in case.escalations],
        )


class CaseSummary(BaseModel):
    case_id: UUID
    number: str
    version: int
    channel: str
    contact_id: UUID
    account_id: UUID | None
    subject: str
    request_type: str | None
    priority: str
    status: str
    opened_at: datetime
    first_contact: bool
    queue_id: UUID | None
    queue_name: str | None
    assignee_id: UUID | None
    overdue: bool


class CasePage(BaseModel):
    items: list[CaseSummary]
    total: int
    """How many cases match the filters, on every page."""
    limit: int
    next_cursor: str | None
    """Pass as `cursor` for the next page; null on the last."""


Sort = Literal["opened_at", "-opened_at"]


# -- the routes ------------------------------------------------------------------------------


def router(
    *, uow_factory: Callable[[], SqlCasesUnitOfWork], auth: Authenticator, clock: Clock
) -> APIRouter:
    """Routes for opening, reading and working cases."""
    api = APIRouter(prefix="/cases", tags=["cases"])
    agent = Depends(auth.requires(Role.AGENT))
    Agent = Annotated[Principal, agent]
    IfMatch = Annotated[str | None, Header(alias="If-Match")]

    async def shown(uow: SqlCasesUnitOfWork, case: Case, response: Response) -> CaseView:
        response.headers["ETag"] = _etag(case.version)
        return CaseView.of(case, await uow.cases.projection(case.case_id))

    @api.post(
        "",
        response_model=CaseView,
        status_code=201,
        responses={
            202: {
                "model": CaseRequested,
                "description": "A new customer's request, sent to intake to identify them; the "
                "case opens once intake has received it.",
                "headers": {
                    "Location": {
                        "description": "Where the case opened from the request is found.",
                        "schema": {"type": "string"},
                    }
                },
            },
        },
    )
    async def open_new_case(
        body: NewCase, principal: Agent, response: Response
    ) -> CaseView | JSONResponse:
        """Open a case for a known customer (`contact_id`): 201, published as `case.opened`,
        the customer told. For a customer who may not be on file (`customer`): 202; intake
        identifies or files them and receives the request, and the case opens from it.

        Either way the request type must be one the catalogue offers and `parameters` must
        answer its form."""
        if body.customer is not None:
            return await _request_for_new_customer(body, body.customer, principal)
        assert body.contact_id is not None
        async with uow_factory() as uow:
            case = await open_case(
                OpenCase(
                    channel=body.channel,
                    contact_id=body.contact_id,
                    account_id=body.account_id,
                    subject=body.subject,
                    description=body.description,
                    opened_by=principal.agent_id,
                    request_type=body.request_type,
                    parameters=dict(body.parameters),
                    priority=body.priority,
                    language=body.language,
                    call_id=body.call_id,
                ),
                uow=uow,
                now=clock.now(),
            )
            response.headers["Location"] = f"/cases/{case.case_id}"
            return await shown(uow, case, response)

    async def _request_for_new_customer(
        body: NewCase, customer: NewCustomer, principal: Principal
    ) -> JSONResponse:
        async with uow_factory() as uow:
            request = await request_case_for_new_customer(
                OpenCaseForNewCustomer(
                    channel=body.channel,
                    name=customer.name,
                    email=None if customer.email is None else str(customer.email),
                    phone=customer.phone,
                    subject=body.subject,
                    description=body.description,
                    requested_by=principal.agent_id,
                    request_type=body.request_type,
                    parameters=dict(body.parameters),
                    language=body.language,
                ),
                uow=uow,
                now=clock.now(),
            )
        answer = CaseRequested(interaction_id=request.interaction_id)
        return JSONResponse(
            answer.model_dump(mode="json"),
            status_code=202,
            headers={"Location": f"/cases?interaction_id={request.interaction_id}"},
        )

    @api.get("", response_model=CasePage, dependencies=[agent])
    async def list_cases(
        status: CaseStatus | None = None,
        account_id: UUID | None = None,
        contact_id: UUID | None = None,
        assignee_id: UUID | None = None,
        queue_id: UUID | None = None,
        request_type: Annotated[Code | None, Query()] = None,
        channel: Channel | None = None,
        priority: Priority | None = None,
        overdue: bool | None = None,
        first_contact: bool | None = None,
        opened_from: AwareDatetime | None = None,
        opened_to: AwareDatetime | None = None,
        q: Annotated[Search | None, Query(description="Text in subject or description.")] = None,
        interaction_id: Annotated[
            UUID | None,
            Query(description="The case an interaction opened (or was added to)."),
        ] = None,
        sort: Sort = "-opened_at",
        cursor: Annotated[str | None, Query(max_length=500)] = None,
        limit: Annotated[Limit, Query()] = 50,
    ) -> dict[str, Any]:
        """Cases by opening time (newest first unless `sort=opened_at`), filtered, a page at
        a time: pass `next_cursor` back as `cursor` for the next page."""
        where = CaseFilter(
            status=None if status is None else status.value,
            account_id=account_id,
            contact_id=contact_id,
            assignee_id=assignee_id,
            queue_id=queue_id,
            request_type=request_type,
            channel=None if channel is None else channel.value,
            priority=None if priority is None else priority.value,
            overdue=overdue,
            first_contact=first_contact,
            opened_from=opened_from,
            opened_to=opened_to,
            text=q,
            interaction_id=interaction_id,
        )
        async with uow_factory() as uow:
            rows, total, more = await uow.cases.search(
                where,
                newest_first=sort == "-opened_at",
                after=None if cursor is None else _read_cursor(cursor, sort),
                limit=limit,
            )
        last = rows[-1] if rows and more else None
        return {
            "items": rows,
            "total": total,
            "limit": limit,
            "next_cursor": None
            if last is None
            else _cursor(sort, last["opened_at"], last["case_id"]),
        }

    @api.get("/by-number/{number}", response_model=CaseView, dependencies=[agent])
    async def get_case_by_number(number: str, response: Response) -> CaseView:
        """One case by its readable number."""
        async with uow_factory() as uow:
            case = await uow.cases.get_by_number(number.strip().upper())
            if case is None:
                raise NotFound(f"There is no case {number}.")
            return await shown(uow, case, response)

    @api.get("/{case_id}", response_model=CaseView, dependencies=[agent])
    async def get_case(case_id: UUID, response: Response) -> CaseView:
        """One case with its work, decisions, escalations, resolution, queue and SLA."""
        async with uow_factory() as uow:
            case = await uow.cases.get(case_id)
            if case is None:
                raise NotFound(f"There is no case {case_id}.")
            return await shown(uow, case, response)

    @api.patch(
        "/{case_id}",
        response_model=CaseView,
        responses=if_match_responses("case"),
    )
    async def change_case(
        case_id: UUID,
        body: CaseChanges,
        principal: Agent,
        response: Response,
        if_match: IfMatch = None,
    ) -> CaseView:
        """Correct the subject, description, request type and answers, or priority."""
        fields = body.model_fields_set
        async with uow_factory() as uow:
            case = await update_case(
                UpdateCase(
                    case_id=case_id,
                    agent_id=principal.agent_id,
                    expected_version=_expected_version(if_match, required=True),
                    subject=body.subject if "subject" in fields else None,
                    description=body.description if "description" in fields else None,
                    request_type=body.request_type if "request_type" in fields else None,
                    parameters=None if body.parameters is None else dict(body.parameters),
                    priority=body.priority if "priority" in fields else None,
                ),
                uow=uow,
                now=clock.now(),
            )
            return await shown(uow, case, response)

    @api.post("/{case_id}/accept", response_model=CaseView)
    async def accept(
        case_id: UUID, principal: Agent, response: Response, if_match: IfMatch = None
    ) -> CaseView:
        """The caller takes the case into work: in progress, theirs; the customer is told."""
        async with uow_factory() as uow:
            case = await accept_case(
                AcceptCase(
                    case_id=case_id,
                    agent_id=principal.agent_id,
                    expected_version=_expected_version(if_match),
                ),
                uow=uow,
                now=clock.now(),
            )
            return await shown(uow, case, response)

    def step_route(step: str, summary: str) -> None:
        async def move(
            case_id: UUID,
            principal: Agent,
            response: Response,
            body: StepReason | None = None,
            if_match: IfMatch = None,
        ) -> CaseView:
            async with uow_factory() as uow:
                case = await move_case(
                    MoveCase(
                        case_id=case_id,
                        agent_id=principal.agent_id,
                        expected_version=_expected_version(if_match),
                        step=step,
                        reason=None if body is None else body.reason,
                    ),
                    uow=uow,
                    now=clock.now(),
                )
                return await shown(uow, case, response)

        move.__doc__ = summary
        api.post(f"/{{case_id}}/{step}", response_model=CaseView, name=step)(move)

    step_route("hold", "Put the case on hold.")
    step_route("wait", "Wait for the customer to answer.")
    step_route("resume", "Take a case on hold or waiting for the customer back into work.")

    @api.get("/{case_id}/activities", response_model=list[ActivityView], dependencies=[agent])
    async def list_activities(case_id: UUID) -> list[ActivityView]:
        """The work logged on a case, in the order it was logged."""
        case = await _read(uow_factory, case_id)
        return [ActivityView.of(a) for a in case.activities]

    @api.post("/{case_id}/activities", response_model=ActivityView, status_code=201)
    async def add_activity(
        case_id: UUID,
        body: NewActivity,
        principal: Agent,
        response: Response,
        if_match: IfMatch = None,
    ) -> ActivityView:
        """Log finished work (at most a day of it); the case's time totals follow."""
        async with uow_factory() as uow:
            case, activity = await log_activity(
                LogActivity(
                    case_id=case_id,
                    agent_id=principal.agent_id,
                    expected_version=_expected_version(if_match),
                    kind=body.kind,
                    subject=body.subject,
                    description=body.description,
                    performed_by=body.performed_by,
                    performed_at=body.performed_at,
                    duration_minutes=body.duration_minutes,
                    billable=body.billable,
                    attachments=tuple(a.to_domain() for a in body.attachments),
                ),
                uow=uow,
                now=clock.now(),
            )
        response.headers["ETag"] = _etag(case.version)
        return ActivityView.of(activity)

    @api.post("/{case_id}/replies", response_model=ActivityView, status_code=201)
    async def reply(
        case_id: UUID,
        body: NewReply,
        principal: Agent,
        response: Response,
        if_match: IfMatch = None,
    ) -> ActivityView:
        """Answer the customer (intake sends it, with the `attachments` uploaded to intake
        first); logged as work sent to the customer."""
        async with uow_factory() as uow:
            case, activity = await reply_to_customer(
                ReplyToCustomer(
                    case_id=case_id,
                    agent_id=principal.agent_id,
                    expected_version=_expected_version(if_match),
                    text=body.text,
                    duration_minutes=body.duration_minutes,
                    billable=body.billable,
                    attachments=tuple(a.to_domain() for a in body.attachments),
                ),
                uow=uow,
                now=clock.now(),
            )
        response.headers["ETag"] = _etag(case.version)
        return ActivityView.of(activity)

    @api.get("/{case_id}/decisions", response_model=list[DecisionView], dependencies=[agent])
    async def list_decisions(case_id: UUID) -> list[DecisionView]:
        """The decisions taken on a case, in order."""
        case = await _read(uow_factory, case_id)
        return [DecisionView.of(d) for d in case.decisions]

    @api.post("/{case_id}/decisions", response_model=DecisionView, status_code=201)
    async def decide(
        case_id: UUID,
        body: NewDecision,
        principal: Agent,
        response: Response,
        if_match: IfMatch = None,
    ) -> DecisionView:
        """Record a decision of the catalogue (neither unknown nor retired) and why."""
        async with uow_factory() as uow:
            case, decision = await record_decision(
                RecordDecision(
                    case_id=case_id,
                    agent_id=principal.agent_id,
                    expected_version=_expected_version(if_match),
                    code=body.code,
                    text=body.text,
                ),
                uow=uow,
                now=clock.now(),
            )
        response.headers["ETag"] = _etag(case.version)
        return DecisionView.of(decision)

    @api.post("/{case_id}/resolve", response_model=CaseView)
    async def resolve(
        case_id: UUID, body: Resolve, principal: Agent, response: Response, if_match: IfMatch = None
    ) -> CaseView:
        """Resolve with a decision of the catalogue; billable time is what the billable
        activities add up to unless corrected with a reason. The customer is told."""
        async with uow_factory() as uow:
            case = await resolve_case(
                ResolveCase(
                    case_id=case_id,
                    agent_id=principal.agent_id,
                    expected_version=_expected_version(if_match),
                    code=body.code,
                    text=body.text,
                    billable_minutes=body.billable_minutes,
                    correction_reason=body.correction_reason,
                ),
                uow=uow,
                now=clock.now(),
            )
            return await shown(uow, case, response)

    @api.post("/{case_id}/cancel", response_model=CaseView)
    async def cancel(
        case_id: UUID, body: Because, principal: Agent, response: Response, if_match: IfMatch = None
    ) -> CaseView:
        """Close the case without a resolution; the customer is told."""
        async with uow_factory() as uow:
            case = await cancel_case(
                CancelCase(
                    case_id=case_id,
                    agent_id=principal.agent_id,
                    expected_version=_expected_version(if_match),
                    reason=body.reason,
                ),
                uow=uow,
                now=clock.now(),
            )
            return await shown(uow, case, response)

    @api.post("/{case_id}/reopen", response_model=CaseView)
    async def reopen(
        case_id: UUID, body: Because, principal: Agent, response: Response, if_match: IfMatch = None
    ) -> CaseView:
        """Take a resolved or cancelled case back into work."""
        async with uow_factory() as uow:
            case = await reopen_case(
                ReopenCase(
                    case_id=case_id,
                    agent_id=principal.agent_id,
                    expected_version=_expected_version(if_match),
                    reason=body.reason,
                ),
                uow=uow,
                now=clock.now(),
            )
            return await shown(uow, case, response)

    async def covered(
        case_id: UUID,
        line_id: UUID | None,
        principal: Principal,
        response: Response,
        if_match: str | None,
    ) -> CaseView:
        async with uow_factory() as uow:
            case = await change_entitlement(
                ChangeEntitlement(
                    case_id=case_id,
                    agent_id=principal.agent_id,
                    expected_version=_expected_version(if_match),
                    line_id=line_id,
                ),
                uow=uow,
                now=clock.now(),
            )
            return await shown(uow, case, response)

    @api.put("/{case_id}/entitlement", response_model=CaseView)
    async def choose_entitlement(
        case_id: UUID,
        body: EntitlementChoice,
        principal: Agent,
        response: Response,
        if_match: IfMatch = None,
    ) -> CaseView:
        """Put an open case under another line of its account's contracts; its resolution
        draws on it. Published as `case.entitlement_changed`."""
        return await covered(case_id, body.line_id, principal, response, if_match)

    @api.delete("/{case_id}/entitlement", response_model=CaseView)
    async def clear_entitlement(
        case_id: UUID, principal: Agent, response: Response, if_match: IfMatch = None
    ) -> CaseView:
        """Take an open case off its line: its resolution draws on no contract."""
        return await covered(case_id, None, principal, response, if_match)

    @api.post("/{case_id}/escalate", response_model=EscalationView, status_code=201)
    async def escalate(
        case_id: UUID,
        body: Escalate,
        principal: Agent,
        response: Response,
        if_match: IfMatch = None,
    ) -> EscalationView:
        """Raise the case to a manager with the customer's claim; the manager is told."""
        async with uow_factory() as uow:
            case, escalation = await escalate_case(
                EscalateCase(
                    case_id=case_id,
                    agent_id=principal.agent_id,
                    expected_version=_expected_version(if_match),
                    target=body.target,
                    claim=body.claim,
                    manager_id=body.manager_id,
                ),
                uow=uow,
                now=clock.now(),
            )
        response.headers["ETag"] = _etag(case.version)
        return EscalationView.of(escalation)

    return api


async def _read(uow_factory: Callable[[], SqlCasesUnitOfWork], case_id: UUID) -> Case:
    async with uow_factory() as uow:
        case = await uow.cases.get(case_id)
    if case is None:
        raise NotFound(f"There is no case {case_id}.")
    return case


def _etag(version: int) -> str:
    return f'"{version}"'


def _expected_version(if_match: str | None, *, required: bool = False) -> int | None:
    return if_match_version(if_match, of="case", required=required)


def _cursor(sort: str, opened_at: datetime, case_id: UUID) -> str:
    raw = json.dumps({"s": sort, "at": opened_at.isoformat(), "id": str(case_id)})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _read_cursor(cursor: str, sort: str) -> tuple[datetime, UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if data["s"] != sort:
            raise CaseValidationError("the cursor belongs to another sort order")
        at = datetime.fromisoformat(data["at"])
        if at.tzinfo is None:
            raise ValueError("naive")
        return at, UUID(data["id"])
    except CaseValidationError:
        raise
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise CaseValidationError("cursor is not one this API gave") from None
