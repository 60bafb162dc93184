"""Domain events of a case, translated to the published contracts of `cases.case.v1`; the
notifications a case calls for, to `notification.requested` on `intake.notification.v1`; and
requests taken from customers not on file, to `interaction.requested` on `intake.request.v1`;
and the references to attachments intake holds, both ways."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import caseflow_contracts as c
from cases.domain import contracts as k
from cases.domain import events as d
from cases.domain.case import Case
from cases.domain.new_customers import InteractionRequest
from cases.domain.notifications import Notification
from cases.domain.values import Attachment


def to_contract(event: d.CaseEvent, *, case: Case, interaction_id: UUID | None = None) -> c.Event:
    """The contract event that tells other services about `event` on `case`."""
    common = {"case_id": case.case_id, "number": case.number, "occurred_at": event.occurred_at}
    match event:
        case d.CaseOpened():
            if interaction_id is None:
                msg = "a case opened without an interaction cannot be published"
                raise ValueError(msg)
            return c.CaseOpened(
                **common,
                channel=c.Channel(event.channel.value),
                interaction_id=interaction_id,
                contact_id=event.contact_id,
                account_id=event.account_id,
                subject=event.subject,
                request_type=event.request_type,
                parameters=dict(event.parameters),
                priority=c.Priority(event.priority.value),
                status=c.CaseStatus(case.status.value),
                entitlement_id=event.entitlement_id,
                contract_id=event.contract_id,
                not_entitled=None
                if event.not_entitled is None
                else c.NotEntitledReason(event.not_entitled),
                entitlement_rule=event.entitlement_rule,
                sla_policy_id=event.sla_policy_id,
                calendar_id=event.calendar_id,
                first_contact=event.first_contact,
                call_id=event.call_id,
                attachments=attachment_refs(event.attachments),
                related_case_id=event.related_case_id,
                related_number=event.related_number,
            )
        case d.CaseEntitlementChanged():
            return c.CaseEntitlementChanged(
                **common,
                entitlement_id=event.entitlement_id,
                contract_id=event.contract_id,
                not_entitled=None
                if event.not_entitled is None
                else c.NotEntitledReason(event.not_entitled),
                entitlement_rule=event.rule,
                sla_policy_id=event.sla_policy_id,
                calendar_id=event.calendar_id,
                by=event.by,
            )
        case d.CaseUpdated():
            values = {
                "subject": event.subject,
                "description": event.description,
                "request_type": event.request_type,
                "parameters": dict(event.parameters),
                "priority": event.priority.value,
            }
            changes = {name: values[name] for name in event.changed if name in values}
            return c.CaseUpdated(
                **common,
                changes=changes,
                priority=c.Priority(event.priority.value) if "priority" in changes else None,
                subject=event.subject if "subject" in changes else None,
                request_type=event.request_type if "request_type" in changes else None,
            )
        case d.CaseStatusChanged():
            return c.CaseStatusChanged(
                **common,
                from_status=c.CaseStatus(event.previous_status.value),
                to_status=c.CaseStatus(event.status.value),
                reason=event.reason,
                by=event.by,
            )
        case d.ActivityLogged():
            return c.ActivityLogged(
                **common,
                activity_id=event.activity_id,
                kind=c.ActivityKind(event.kind.value),
                agent_id=event.performed_by,
                duration_minutes=event.duration_minutes,
                billable=event.billable,
                description=event.description or event.subject,
                to_customer=event.to_customer,
                attachments=attachment_refs(event.attachments),
                interaction_id=event.interaction_id,
                contact_id=event.contact_id,
                from_other_contact=event.from_other_contact,
                auto_reply=event.auto_reply,
            )
        case d.CaseResolved():
            return c.CaseResolved(
                **common,
                resolution=event.summary,
                decision_code=event.resolution_type,
                billable_minutes=event.billable_minutes,
                resolved_by=event.resolved_by,
                total_minutes=event.total_minutes,
                logged_billable_minutes=event.logged_billable_minutes,
                correction_reason=event.correction_reason,
            )
        case d.CaseReopened():
            return c.CaseReopened(**common, reason=event.reason)
        case d.CaseCancelled():
            return c.CaseCancelled(**common, reason=event.reason)
        case d.CaseEscalated():
            return c.CaseEscalated(
                **common,
                level=event.level,
                reason=event.reason,
                escalated_to=event.escalated_to,
                target=c.EscalationTarget(event.target.value),
                escalated_by=event.escalated_by,
            )
        case d.DecisionRecorded():
            return c.DecisionRecorded(
                **common,
                decision_id=event.decision_id,
                decision_code=event.code,
                outcome=c.DecisionOutcome(event.outcome.value),
                text=event.text,
                recorded_by=event.recorded_by,
            )
    msg = f"no contract for {type(event).__name__}"
    raise TypeError(msg)


def notification_contract(notification: Notification) -> c.NotificationRequested:
    """The request to intake that sends `notification`."""
    return c.NotificationRequested(
        occurred_at=notification.occurred_at,
        notification_id=notification.notification_id,
        recipient=c.Recipient(
            kind=c.RecipientKind(notification.recipient_kind.value),
            id=notification.recipient_id,
        ),
        template=notification.template.value,
        language=notification.language,
        case_id=notification.case_id,
        parameters=dict(notification.parameters),
        attachments=attachment_refs(notification.attachments),
        interaction_id=notification.interaction_id,
    )


def attachment_refs(attachments: tuple[Attachment, ...]) -> list[c.AttachmentRef]:
    """The references to the files intake holds, as the contracts carry them."""
    return [
        c.AttachmentRef(
            attachment_id=a.attachment_id,
            filename=a.filename,
            content_type=a.content_type,
            size=a.size,
            sha256=a.sha256,
        )
        for a in attachments
    ]


def attachment_of(ref: c.AttachmentRef) -> Attachment:
    """A file intake holds, as a case refers to it."""
    return Attachment(
        attachment_id=ref.attachment_id,
        filename=ref.filename,
        content_type=ref.content_type,
        size=ref.size,
        sha256=ref.sha256,
    )


def interaction_request_contract(request: InteractionRequest) -> c.InteractionRequested:
    """The command that asks intake to identify the customer and receive `request`."""
    return c.InteractionRequested(
        occurred_at=request.occurred_at,
        interaction_id=request.interaction_id,
        channel=c.Channel(request.channel.value),
        name=request.customer.name,
        email=request.customer.email,
        phone=request.customer.phone,
        subject=request.subject,
        body=request.description,
        request_type=request.request_type,
        parameters=dict(request.parameters),
        language=request.language,
        requested_by=request.requested_by,
    )


def contract_event(event: k.ContractEvent, *, contract: k.Contract) -> c.Event:
    """The `cases.contract.v1` event that tells other services about `event` on `contract`."""
    common: dict[str, Any] = {
        "contract_id": contract.contract_id,
        "number": contract.number,
        "account_id": contract.account_id,
        "status": c.ContractStatus(contract.status.value),
        "occurred_at": event.occurred_at,
    }
    match event:
        case k.ContractCreated():
            return c.ContractCreated(**common, **_snapshot(contract))
        case k.ContractUpdated():
            return c.ContractUpdated(**common, **_snapshot(contract))
        case k.ContractActivated():
            return c.ContractActivated(**common, by=event.by)
        case k.ContractHeld():
            return c.ContractHeld(**common, reason=event.reason, by=event.by)
        case k.ContractResumed():
            return c.ContractResumed(**common, by=event.by)
        case k.ContractExpired():
            return c.ContractExpired(**common, ended_on=event.ended_on)
        case k.ContractCancelled():
            return c.ContractCancelled(**common, reason=event.reason, by=event.by)
        case k.ContractRenewed():
            return c.ContractRenewed(
                **common,
                renewal_id=event.renewal_id,
                renewal_number=event.renewal_number,
                by=event.by,
            )
        case k.ContractEndingSoon():
            return c.ContractEndingSoon(**common, ends_on=event.ends_on, days_left=event.days_left)
    if isinstance(event, k.LineEvent):
        line = contract.line(event.line_id)
        of_line: dict[str, Any] = {
            **common,
            "line_id": line.line_id,
            "line_number": line.number,
            "allocation": c.Allocation(line.allocation.value),
            "allotment": line.allotment,
            "remaining": event.remaining,
        }
        match event:
            case k.LineDrawnDown():
                return c.ContractLineDrawnDown(
                    **of_line,
                    entry_id=event.entry_id,
                    case_id=event.case_id,
                    amount=event.amount,
                    overage=event.overage,
                    by=event.by,
                )
            case k.LineRestored():
                return c.ContractLineRestored(
                    **of_line,
                    entry_id=event.entry_id,
                    case_id=event.case_id,
                    amount=event.amount,
                    reason=event.reason,
                    by=event.by,
                )
            case k.AllotmentLow():
                return c.ContractAllotmentLow(**of_line, threshold=event.threshold)
            case k.AllotmentExhausted():
                return c.ContractAllotmentExhausted(**of_line)
    msg = f"no contract for {type(event).__name__}"
    raise TypeError(msg)


def _snapshot(contract: k.Contract) -> dict[str, Any]:
    return {
        "name": contract.name,
        "starts_on": contract.starts_on,
        "ends_on": contract.ends_on,
        "contacts": sorted(contract.contacts, key=str),
        "owner_id": contract.owner_id,
        "template_id": contract.template_id,
        "sla_policy_id": contract.sla_policy_id,
        "calendar_id": contract.calendar_id,
        "origin_case_id": contract.origin_case_id,
        "renewed_from": contract.renewed_from,
        "version": contract.version,
        "lines": [
            c.ContractLineSpec(
                line_id=line.line_id,
                number=line.number,
                name=line.name,
                allocation=c.Allocation(line.allocation.value),
                allotment=line.allotment,
                starts_on=line.starts_on,
                ends_on=line.ends_on,
                channels=sorted(c.Channel(channel.value) for channel in line.channels),
                request_types=sorted(line.request_types),
                allow_overdraft=line.allow_overdraft,
                warn_below_percent=line.warn_below_percent,
            )
            for line in contract.lines
        ],
    }
