"""End to end: a customer writes to the support address with a file; a case opens and the
acknowledgement with its number reaches the customer; the agent answers; the customer's answer
threads back to the same case; an out-of-office reply to the acknowledgement opens nothing and
triggers nothing; a bounce of the agent's answer marks it failed; the file downloads intact.

Through every service as a process: mail goes in over SMTP to intake's listener, comes out
through the relay into the mail sink `make up` runs, and is read back from the sink's HTTP API,
as a person would read their inbox.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import aiosmtplib
import httpx
import pytest

from .conftest import Suite
from .test_case_work import _agent, _ok
from .test_walking_skeleton import eventually

pytestmark = pytest.mark.e2e

SUPPORT = "support@caseflow.local"


async def _send(suite: Suite, message: EmailMessage, *, sender: str) -> None:
    await aiosmtplib.send(
        message,
        sender=sender,
        recipients=[SUPPORT],
        hostname="127.0.0.1",
        port=suite.stack.smtp_port,
    )


async def _inbox(sink: httpx.AsyncClient, address: str) -> list[dict[str, Any]]:
    """What the sink holds for `address`, the oldest first."""
    listing = await _ok(await sink.get("/messages", params={"to": address}))
    return list(reversed(listing["messages"]))


async def _mail_in(sink: httpx.AsyncClient, address: str, *, count: int) -> list[dict[str, Any]]:
    async def arrived() -> list[dict[str, Any]] | None:
        messages = await _inbox(sink, address)
        return messages if len(messages) >= count else None

    return await eventually(arrived)


async def test_a_request_by_email_is_answered_and_threads_back(suite: Suite) -> None:
    admin = suite.agent()
    intake, cases = suite.http["intake"], suite.http["cases"]
    tag = uuid.uuid4().hex[:8]
    customer = f"ona.{tag}@example.lt"
    agent_id = uuid.uuid4()
    agent = _agent(suite, agent_id)
    async with httpx.AsyncClient(base_url=suite.stack.mailsink_url, timeout=30) as sink:
        # 1. The customer writes with a file.
        pdf = b"%PDF-1.4\n" + os.urandom(40_000) + b"\n%%EOF\n"
        first = EmailMessage()
        first["From"] = f"Ona Petraitė <{customer}>"
        first["To"] = SUPPORT
        first["Subject"] = f"Sąskaita apmokėta du kartus ({tag})"
        first["Message-ID"] = make_msgid(domain="example.lt")
        first.set_content("Sveiki, sąskaita 2026-0456 nuskaičiuota du kartus. Prašau grąžinti.")
        first.add_attachment(pdf, maintype="application", subtype="pdf", filename="sąskaita.pdf")
        await _send(suite, first, sender=customer)

        # 2. A case opens, and the acknowledgement with its number arrives.
        (ack,) = await _mail_in(sink, customer, count=1)
        number = ack["subject"].split("]")[0].lstrip("[")
        assert number.startswith("CAS-"), ack["subject"]
        assert ack["in_reply_to"] == first["Message-ID"]
        case = await _ok(await cases.get(f"/cases/by-number/{number}", headers=admin))
        assert case["channel"] == "email"
        assert case["subject"] == first["Subject"]
        (attachment,) = case["attachments"]
        assert attachment["filename"] == "sąskaita.pdf"
        assert attachment["sha256"] == hashlib.sha256(pdf).hexdigest()

        # 3. The agent answers.
        await _ok(
            await cases.post(
                f"/cases/{case['case_id']}/replies",
                json={"text": "Atsiprašome: antrą mokėjimą grąžinsime per 3 darbo dienas."},
                headers=agent,
            ),
            201,
        )
        _, answer = await _mail_in(sink, customer, count=2)
        assert number in answer["subject"]
        answer_detail = await _ok(await sink.get(f"/messages/{answer['id']}"))
        assert "antrą mokėjimą grąžinsime" in answer_detail["text"]
        assert answer["in_reply_to"] == first["Message-ID"]

        # 4. The customer's answer threads back by its headers alone (no number in it).
        second = EmailMessage()
        second["From"] = customer
        second["To"] = SUPPORT
        second["Subject"] = "Re: sąskaita"
        second["Message-ID"] = make_msgid(domain="example.lt")
        second["In-Reply-To"] = answer["message_id"]
        second["References"] = f"{first['Message-ID']} {answer['message_id']}"
        second.set_content(
            "Ačiū, laukiu.\n\nOn Mon, the desk wrote:\n> Atsiprašome: antrą mokėjimą grąžinsime"
        )
        await _send(suite, second, sender=customer)

        async def customer_answered() -> dict[str, Any] | None:
            seen = await _ok(await cases.get(f"/cases/{case['case_id']}", headers=admin))
            said = [a for a in seen["activities"] if a.get("interaction_id")]
            return seen if said else None

        threaded = await eventually(customer_answered)
        (said,) = [a for a in threaded["activities"] if a.get("interaction_id")]
        assert said["description"] == "Ačiū, laukiu."
        assert said["from_other_contact"] is False

        # 5. An out-of-office reply to the acknowledgement opens nothing and asks for nothing.
        away = EmailMessage()
        away["From"] = customer
        away["To"] = SUPPORT
        away["Subject"] = f"Automatic reply: [{number}] {first['Subject']}"
        away["Message-ID"] = make_msgid(domain="example.lt")
        away["In-Reply-To"] = ack["message_id"]
        away["Auto-Submitted"] = "auto-replied"
        away.set_content("I am away until Monday.")
        await _send(suite, away, sender=customer)

        async def kept_as_automatic() -> dict[str, Any] | None:
            page = await _ok(
                await intake.get("/mail/messages", headers=admin, params={"limit": 200})
            )
            found = [m for m in page["items"] if m["message_id"] == away["Message-ID"]]
            return found[0] if found and found[0]["status"] != "received" else None

        kept = await eventually(kept_as_automatic)
        assert kept["kind"] == "auto_reply"
        assert kept["case_number"] == number

        # 6. A bounce of the agent's answer marks it failed, and opens no case.
        outbound = await _ok(
            await intake.get("/mail/outbound", headers=admin, params={"case_id": case["case_id"]})
        )
        (reply_log,) = [m for m in outbound["items"] if m["message_id"] == answer["message_id"]]
        assert reply_log["status"] == "sent"
        bounce = _delivery_report(customer, answer["message_id"], tag)
        # Reports come from the null sender (MAIL FROM:<>).
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=suite.stack.smtp_port) as smtp:
            await smtp.sendmail("", [SUPPORT], bounce)

        async def bounced() -> dict[str, Any] | None:
            log = await _ok(
                await intake.get(f"/mail/outbound/{reply_log['outbound_id']}", headers=admin)
            )
            return log if log["status"] == "bounced" else None

        returned = await eventually(bounced)
        assert "5.1.1" in returned["last_error"]

        # Nothing answered the out-of-office or the bounce: the customer got the
        # acknowledgement and the answer, no more; and only the one case exists.
        assert len(await _inbox(sink, customer)) == 2
        final = await _ok(await cases.get(f"/cases/{case['case_id']}", headers=admin))
        automatic = [a for a in final["activities"] if a.get("auto_reply")]
        assert len(automatic) == 1
        assert final["status"] != "resolved"

        # 7. The file downloads intact.
        download = await intake.get(f"/attachments/{attachment['attachment_id']}", headers=agent)
        assert download.status_code == 200
        assert download.content == pdf
        assert download.headers["x-content-type-options"] == "nosniff"
        assert download.headers["content-disposition"].startswith("attachment")


def _delivery_report(recipient: str, message_id: str, tag: str) -> bytes:
    """A mail server's report (RFC 3464) that `message_id` could not reach `recipient`."""
    boundary = f"report-{tag}"
    return "\r\n".join(
        [
            "From: Mail Delivery System <MAILER-DAEMON@mx.example.lt>",
            f"To: {SUPPORT}",
            "Subject: Undelivered Mail Returned to Sender",
            f"Message-ID: {make_msgid(domain='mx.example.lt')}",
            "Auto-Submitted: auto-replied",
            "MIME-Version: 1.0",
            f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"',
            "",
            f"--{boundary}",
            "Content-Type: text/plain; charset=us-ascii",
            "",
            f"Your message to {recipient} could not be delivered.",
            f"--{boundary}",
            "Content-Type: message/delivery-status",
            "",
            "Reporting-MTA: dns; mx.example.lt",
            "",
            f"Final-Recipient: rfc822; {recipient}",
            "Action: failed",
            "Status: 5.1.1",
            "Diagnostic-Code: smtp; 550 5.1.1 user unknown",
            f"--{boundary}",
            "Content-Type: text/rfc822-headers",
            "",
            f"Message-ID: {message_id}",
            f"To: {recipient}",
            f"From: {SUPPORT}",
            "Subject: answer",
            f"--{boundary}--",
            "",
        ]
    ).encode()
