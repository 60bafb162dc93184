"""The email channel with real servers: mail in through the SMTP listener the service starts
(spoken to by a real SMTP client), notifications out through a real relay (the development
mail sink), a real PostgreSQL and FastStream's TestKafkaBroker."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import aiosmtplib
import httpx
import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from sqlalchemy import func, insert, select

import caseflow_contracts as c
from caseflow_contracts import topics
from caseflow_devstack.mailsink import MailSink
from caseflow_devstack.ports import free_port
from caseflow_servicekit import ServiceApp
from caseflow_servicekit.testing import bearer, eventually, publish_event, running
from intake.adapters.blobs import FilesystemBlobStore
from intake.adapters.tables import contact_emails, contacts, metadata
from intake.adapters.uow import SqlIntakeUnitOfWork
from intake.app.mail import (
    Accepted,
    InboundEnvelope,
    MailRules,
    process_mails,
    record_received,
    store_raw,
)
from intake.bootstrap import MIGRATIONS, MailChannel, build
from intake.domain.attachments import AttachmentLimits
from intake.settings import IntakeSettings

pytestmark = pytest.mark.service

NOW = datetime(2026, 5, 20, 9, 14, 7, tzinfo=UTC)
LOCALHOST = "127.0.0.1"
SUPPORT = "support@caseflow.local"
CUSTOMER = "ann@customer.example"
MARTA = "marta@acme.example"
CASE_NUMBER = "CAS-2026-000042"
ACKNOWLEDGEMENTS_PER_WINDOW = 2
FIRST_RETRY = timedelta(seconds=5)
outbox_table = metadata.tables["outbox"]


class MovableClock:
    def __init__(self) -> None:
        self.moment = NOW

    def now(self) -> datetime:
        return self.moment


@dataclass
class Service:
    app: ServiceApp
    client: httpx.AsyncClient
    broker: KafkaBroker
    clock: MovableClock
    sink: httpx.AsyncClient | None
    published: list[c.Event] = field(default_factory=list)

    @property
    def mail(self) -> MailChannel:
        channel: MailChannel = self.app.fastapi.state.mail
        return channel

    @property
    def smtp_port(self) -> int:
        assert self.mail.listener is not None
        return self.mail.listener.port

    @property
    def supervisor(self) -> dict[str, str]:
        return bearer(self.app, "supervisor")

    @property
    def agent(self) -> dict[str, str]:
        return bearer(self.app, "agent")

    async def count(self, query: Any) -> int:
        async with self.app.kit.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(query))).scalar_one())

    async def insert(self, table: Any, **values: Any) -> None:
        async with self.app.kit.engine.begin() as conn:
            await conn.execute(insert(table).values(**values))

    async def all_published(self) -> list[c.Event]:
        """What was published once the outbox has drained."""

        async def drained() -> bool | None:
            unrelayed = outbox_table.select().where(outbox_table.c.relayed_at.is_(None))
            return True if await self.count(unrelayed.subquery()) == 0 else None

        await eventually(drained)
        return list(self.published)

    async def of_type(self, kind: type[c.Event]) -> list[Any]:
        return [e for e in await self.all_published() if isinstance(e, kind)]

    # -- mail in ------------------------------------------------------------------------------

    async def send(
        self, raw: bytes, *, mail_from: str = CUSTOMER, rcpt_to: str = SUPPORT
    ) -> tuple[dict[str, Any], str]:
        """Hand `raw` to the service's SMTP listener, as a mail server would."""
        async with aiosmtplib.SMTP(hostname=LOCALHOST, port=self.smtp_port) as smtp:
            return await smtp.sendmail(mail_from, [rcpt_to], raw)

    async def inbound(self, mail_id: uuid.UUID | str) -> dict[str, Any]:
        """The inbound message once it has been read (whatever became of it)."""

        async def read() -> dict[str, Any] | None:
            r = await self.client.get(f"/mail/messages/{mail_id}", headers=self.supervisor)
            assert r.status_code == 200, r.text
            found: dict[str, Any] = r.json()
            return None if found["status"] == "received" else found

        return await eventually(read)

    async def inbound_by_message_id(self, message_id: str) -> dict[str, Any]:
        """The inbound message with this Message-ID, once it has been read."""

        async def listed() -> str | None:
            r = await self.client.get("/mail/messages", headers=self.supervisor)
            ids = [m["mail_id"] for m in r.json()["items"] if m["message_id"] == message_id]
            return ids[0] if ids else None

        return await self.inbound(await eventually(listed))

    # -- mail out -----------------------------------------------------------------------------

    async def notify(self, recipient: c.Recipient, template: str, **fields: Any) -> uuid.UUID:
        """A `notification.requested`, as another service publishes it."""
        notification_id = uuid.uuid4()
        event = c.NotificationRequested(
            notification_id=notification_id,
            recipient=recipient,
            template=template,
            occurred_at=NOW,
            **{"language": "en", **fields},
        )
        await publish_event(self.broker, event, topic=topics.INTAKE_NOTIFICATIONS)
        return notification_id

    async def outbound(self, notification_id: uuid.UUID, *statuses: str) -> dict[str, Any]:
        """The outbound message rendered from a notification, once in one of `statuses`."""

        async def logged() -> dict[str, Any] | None:
            r = await self.client.get("/mail/outbound", headers=self.agent)
            assert r.status_code == 200, r.text
            for item in r.json()["items"]:
                if item["notification_id"] == str(notification_id) and item["status"] in statuses:
                    return dict(item)
            return None

        return await eventually(logged)

    async def sunk(self, to: str) -> list[dict[str, Any]]:
        """What the relay holds for `to`, newest first."""
        assert self.sink is not None
        r = await self.sink.get("/messages", params={"to": to})
        assert r.status_code == 200, r.text
        return list(r.json()["messages"])

    async def sunk_one(self, to: str) -> dict[str, Any]:
        """The one message the relay holds for `to`, in detail, once it is there."""

        async def arrived() -> list[dict[str, Any]] | None:
            return await self.sunk(to) or None

        [summary] = await eventually(arrived)
        assert self.sink is not None
        detail: dict[str, Any] = (await self.sink.get(f"/messages/{summary['id']}")).json()
        return detail


@asynccontextmanager
async def serve_intake(
    database: str, *, relay_port: int, blob_dir: Path, sink_url: str | None, **overrides: Any
) -> AsyncIterator[Service]:
    settings = IntakeSettings(
        database_url=database,
        kafka_bootstrap_servers="test:9092",
        smtp_port=free_port(),
        relay_host=LOCALHOST,
        relay_port=relay_port,
        blob_dir=str(blob_dir),
        delivery_check_seconds=0.2,
        mail_sweep_seconds=1,
        acknowledgements_per_window=ACKNOWLEDGEMENTS_PER_WINDOW,
        **overrides,
    )
    clock = MovableClock()
    app = build(settings, clock=clock, configure_process=False)
    published: list[c.Event] = []

    for topic in (topics.INTAKE_INTERACTIONS, topics.INTAKE_CUSTOMERS, topics.INTAKE_MESSAGES):

        @app.kit.kafka.subscriber(topic, group_id="probe")
        async def probe(message: KafkaMessage) -> None:
            published.append(c.decode(dict(message.headers)["ce_type"], message.body))

    mail: MailChannel = app.fastapi.state.mail
    async with (
        TestKafkaBroker(app.kit.kafka) as broker,
        running(app, migrations=MIGRATIONS) as client,
        httpx.AsyncClient(base_url=sink_url or "http://unused", timeout=10) as sink,
    ):
        # `running` starts the kit, not the app's lifespan: the email channel's start-up hooks
        # (the blob store, the delivery job, the sweep, the mailboxes, the SMTP listener) are
        # run here as the lifespan runs them, and its shut-down hooks after.
        for hook in mail.on_startup:
            await hook()
        try:
            yield Service(app, client, broker, clock, sink if sink_url else None, published)
        finally:
            for hook in mail.on_shutdown:
                await hook()


@pytest.fixture
async def sink(tmp_path: Path) -> AsyncIterator[MailSink]:
    sink = MailSink(
        tmp_path / "sink", smtp_host=LOCALHOST, smtp_port=0, http_host=LOCALHOST, http_port=0
    )
    await sink.start()
    try:
        yield sink
    finally:
        await sink.stop()


@pytest.fixture
async def service(fresh_database: str, sink: MailSink, tmp_path: Path) -> AsyncIterator[Service]:
    async with serve_intake(
        fresh_database, relay_port=sink.smtp_port, blob_dir=tmp_path / "blobs", sink_url=sink.url
    ) as running_:
        yield running_


@pytest.fixture
async def unreachable_relay(fresh_database: str, tmp_path: Path) -> AsyncIterator[Service]:
    """The service pointed at a relay where nothing listens, giving up after two attempts."""
    async with serve_intake(
        fresh_database,
        relay_port=free_port(),
        blob_dir=tmp_path / "blobs",
        sink_url=None,
        delivery_attempts=2,
        delivery_first_retry_seconds=FIRST_RETRY.total_seconds(),
    ) as running_:
        # The test drives each delivery pass itself.
        await running_.mail.delivery.stop()
        yield running_


def message(
    *,
    sender: str = f"Ann Novak <{CUSTOMER}>",
    subject: str = "The printer on floor 3 jams",
    body: str = "It jams on every second page.\n\nAnn\n",
    message_id: str | None = None,
    headers: dict[str, str] | None = None,
    attachment: tuple[str, bytes] | None = None,
) -> bytes:
    """A mail as a mail client writes it, with CRLF line ends as SMTP carries it."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = SUPPORT
    mail["Subject"] = subject
    mail["Date"] = format_datetime(NOW)
    mail["Message-ID"] = message_id or make_msgid(domain="customer.example")
    for name, value in (headers or {}).items():
        mail[name] = value
    mail.set_content(body)
    if attachment is not None:
        filename, content = attachment
        mail.add_attachment(
            content, maintype="application", subtype="octet-stream", filename=filename
        )
    return mail.as_bytes(policy=policy.SMTP)


async def accept_mail(
    raw: bytes, envelope: InboundEnvelope, *, uow: SqlIntakeUnitOfWork, blobs: Any, now: datetime
) -> Accepted:
    """Store a message as the inbox does (its bytes in the blob store), but leave it unread: as
    if the process had gone before reading it."""
    [accepted] = await record_received(
        [await store_raw(raw, envelope, blobs=blobs)], uow=uow, now=now
    )
    return accepted


def message_id_of(raw: bytes) -> str:
    value = BytesHeaderParser(policy=policy.default).parsebytes(raw)["Message-ID"]
    return str(value)


async def seed_marta(service: Service) -> uuid.UUID:
    """Marta, a contact on file with her address and no language of her own."""
    contact_id = uuid.uuid4()
    await service.insert(
        contacts, contact_id=contact_id, name="Marta Kowalska", created_at=NOW - timedelta(days=9)
    )
    await service.insert(contact_emails, email=MARTA, contact_id=contact_id, position=0)
    return contact_id


def contact(contact_id: uuid.UUID) -> c.Recipient:
    return c.Recipient(kind=c.RecipientKind.CONTACT, id=contact_id)


async def sent_on_case(service: Service, contact_id: uuid.UUID) -> dict[str, Any]:
    """An agent's reply on case CAS-2026-000042, delivered to Marta: the relay's copy."""
    notification_id = await service.notify(
        contact(contact_id),
        "case.reply",
        case_id=uuid.uuid4(),
        parameters={
            "number": CASE_NUMBER,
            "subject": "Printer jam",
            "text": "Please clear the tray and restart the printer.",
        },
    )
    await service.outbound(notification_id, "sent")
    return await service.sunk_one(MARTA)


# -- mail in --------------------------------------------------------------------------------


async def test_a_new_mail_with_a_file_becomes_an_interaction_of_a_first_contact(
    service: Service,
) -> None:
    pdf = b"%PDF-1.4\n% a scanned invoice\n" + bytes(range(256)) * 4
    raw = message(attachment=("invoice 2026-0311.pdf", pdf))
    refused, answer = await service.send(raw)
    assert refused == {} and "OK" in answer

    mail = await service.inbound_by_message_id(message_id_of(raw))
    [received] = await service.of_type(c.InteractionReceived)
    assert (received.channel, received.first_contact) == (c.Channel.EMAIL, True)
    assert received.subject == "The printer on floor 3 jams"
    assert received.follow_up_of is None and received.auto_reply is False
    assert received.message_id is not None and received.message_id.endswith("@customer.example>")
    [file] = received.attachments
    assert (file.filename, file.size) == ("invoice 2026-0311.pdf", len(pdf))
    assert file.sha256 == hashlib.sha256(pdf).hexdigest()
    [registered] = await service.of_type(c.ContactRegistered)
    assert (registered.contact_id, registered.emails) == (received.contact_id, [CUSTOMER])
    assert (registered.name, registered.first_contact) == ("Ann Novak", True)

    assert mail["message_id"] == received.message_id
    assert (mail["status"], mail["kind"], mail["attempts"]) == ("processed", "request", 1)
    assert (mail["source"], mail["envelope_from"], mail["envelope_to"]) == (
        "smtp",
        CUSTOMER,
        [SUPPORT],
    )
    assert mail["interaction_id"] == str(received.interaction_id)
    assert "It jams on every second page." in mail["text"]
    stored = await service.client.get(
        f"/mail/messages/{mail['mail_id']}/raw", headers=service.supervisor
    )
    assert stored.status_code == 200
    assert stored.headers["content-type"] == "message/rfc822"
    assert stored.content == raw


async def test_the_same_mail_sent_twice_is_acknowledged_twice_and_taken_once(
    service: Service,
) -> None:
    raw = message(message_id="<twice@customer.example>")
    first = await service.send(raw)
    second = await service.send(raw)
    # The relay that sends it again (it missed the first 250) is told it is delivered.
    assert first[0] == second[0] == {}
    assert "OK" in first[1] and "OK" in second[1]

    mail = await service.inbound_by_message_id("<twice@customer.example>")
    assert mail["status"] == "processed"
    assert len(await service.of_type(c.InteractionReceived)) == 1
    listed = (await service.client.get("/mail/messages", headers=service.supervisor)).json()
    assert listed["total"] == 1


async def test_a_reply_to_the_desks_mail_on_a_case_follows_up_that_case(
    service: Service,
) -> None:
    marta = await seed_marta(service)
    ours = await sent_on_case(service, marta)
    assert ours["message_id"].endswith("@caseflow.local>")

    # Her client keeps the thread in the headers; the subject no longer names the case.
    reply = message(
        sender=f"Marta Kowalska <{MARTA}>",
        subject="Re: the printer",
        body="It still jams.\n",
        headers={"In-Reply-To": ours["message_id"], "References": ours["message_id"]},
    )
    await service.send(reply, mail_from=MARTA)

    mail = await service.inbound_by_message_id(message_id_of(reply))
    [received] = await service.of_type(c.InteractionReceived)
    assert received.follow_up_of == CASE_NUMBER
    assert received.contact_id == marta
    assert (mail["kind"], mail["case_number"]) == ("reply", CASE_NUMBER)


async def test_a_reply_to_a_mail_that_opened_a_case_follows_up_that_case(
    service: Service,
) -> None:
    first = message(message_id="<first@customer.example>")
    await service.send(first)
    opened = await service.inbound_by_message_id("<first@customer.example>")
    [request] = await service.of_type(c.InteractionReceived)
    case_id = uuid.uuid4()
    case_opened = c.sample("case.opened").model_copy(
        update={
            "case_id": case_id,
            "number": CASE_NUMBER,
            "channel": c.Channel.EMAIL,
            "interaction_id": request.interaction_id,
            "contact_id": request.contact_id,
            "occurred_at": NOW,
        }
    )
    await publish_event(service.broker, case_opened, topic=topics.CASES)
    linked = (
        await service.client.get(f"/mail/messages/{opened['mail_id']}", headers=service.agent)
    ).json()
    assert (linked["case_id"], linked["case_number"]) == (str(case_id), CASE_NUMBER)

    # She writes again in her own thread, before the desk has answered.
    again = message(
        subject="Re: The printer on floor 3 jams",
        body="And now it smokes.\n",
        headers={"In-Reply-To": "<first@customer.example>"},
    )
    await service.send(again)

    mail = await service.inbound_by_message_id(message_id_of(again))
    assert (mail["kind"], mail["case_number"]) == ("reply", CASE_NUMBER)
    follow_up = (await service.of_type(c.InteractionReceived))[1]
    assert (follow_up.follow_up_of, follow_up.first_contact) == (CASE_NUMBER, False)


async def test_a_case_number_in_the_subject_of_a_new_mail_follows_up_that_case(
    service: Service,
) -> None:
    raw = message(subject=f"More about [{CASE_NUMBER}] please")
    await service.send(raw)

    mail = await service.inbound_by_message_id(message_id_of(raw))
    [received] = await service.of_type(c.InteractionReceived)
    assert received.follow_up_of == CASE_NUMBER
    assert (mail["status"], mail["kind"], mail["case_number"]) == (
        "processed",
        "reply",
        CASE_NUMBER,
    )


async def test_an_auto_reply_about_a_case_is_kept_on_it_as_an_auto_reply(
    service: Service,
) -> None:
    out_of_office = message(
        subject=f"Automatic reply: [{CASE_NUMBER}] Printer jam",
        body="I am out of the office until Monday.\n",
        headers={"Auto-Submitted": "auto-replied"},
    )
    await service.send(out_of_office)

    mail = await service.inbound_by_message_id(message_id_of(out_of_office))
    [received] = await service.of_type(c.InteractionReceived)
    assert (received.auto_reply, received.follow_up_of) == (True, CASE_NUMBER)
    assert (mail["status"], mail["kind"]) == ("processed", "auto_reply")


async def test_an_auto_reply_about_no_case_is_ignored(service: Service) -> None:
    out_of_office = message(
        message_id="<ooo-1@customer.example>",
        subject="Automatic reply: hello",
        body="I am out of the office until Monday.\n",
        headers={"Auto-Submitted": "auto-replied"},
    )
    await service.send(out_of_office)

    mail = await service.inbound_by_message_id("<ooo-1@customer.example>")
    assert (mail["status"], mail["kind"]) == ("ignored", "auto_reply")
    assert mail["interaction_id"] is None
    assert await service.of_type(c.InteractionReceived) == []


async def test_the_listener_refuses_mail_from_the_desks_own_address(service: Service) -> None:
    raw = message(sender=f"Caseflow Service Desk <{SUPPORT}>")
    with pytest.raises(aiosmtplib.SMTPSenderRefused) as refused:
        await service.send(raw, mail_from=SUPPORT)
    assert refused.value.code == 550
    listed = (await service.client.get("/mail/messages", headers=service.supervisor)).json()
    assert listed["total"] == 0


async def test_the_desks_own_mail_from_a_mailbox_is_refused_as_a_loop(service: Service) -> None:
    raw = message(sender=f"Caseflow Service Desk <{SUPPORT}>", subject="[CAS-2026-000042] Hi")
    accepted = await service.mail.inbox.receive(raw, InboundEnvelope(source="imap:test"))
    assert accepted.mail_id is not None

    mail = await service.inbound(accepted.mail_id)
    assert (mail["status"], mail["kind"], mail["source"]) == ("refused", "loop", "imap:test")
    assert mail["interaction_id"] is None
    assert await service.of_type(c.InteractionReceived) == []


async def test_a_message_stored_but_never_read_is_read_by_the_sweep(service: Service) -> None:
    raw = message(message_id="<stored-only@customer.example>")
    # Stored as the listener stores it, and the process gone before it was read.
    accepted = await accept_mail(
        raw,
        InboundEnvelope(source="smtp", mail_from=CUSTOMER, rcpt_to=(SUPPORT,)),
        uow=SqlIntakeUnitOfWork(service.app.kit.sessions, service.app.kit.outbox),
        blobs=service.mail.blobs,
        now=NOW,
    )
    assert accepted.mail_id is not None
    assert await service.mail.sweep.run_once() == 0  # not yet: a reader may be at it

    service.clock.moment = NOW + timedelta(seconds=2)
    mail = await service.inbound(accepted.mail_id)
    assert (mail["status"], mail["kind"], mail["attempts"]) == ("processed", "request", 1)
    assert len(await service.of_type(c.InteractionReceived)) == 1


async def test_messages_arriving_together_are_stored_and_read_together_and_a_bad_one_fails_alone(
    service: Service,
) -> None:
    raws = [
        message(sender=f"Customer {i} <c{i}@together.example>", subject=f"Request {i}")
        for i in range(5)
    ]
    envelope = InboundEnvelope(source="imap:test")
    accepted = await asyncio.gather(
        *(service.mail.inbox.receive(raw, envelope) for raw in [*raws, b"\x00\x01garbage"])
    )
    assert all(a.mail_id is not None and not a.duplicate for a in accepted)

    mails = [await service.inbound(a.mail_id) for a in accepted if a.mail_id is not None]
    assert [m["status"] for m in mails] == ["processed"] * 5 + ["failed"]
    received = await service.of_type(c.InteractionReceived)
    assert sorted(r.message_id for r in received) == sorted(message_id_of(r) for r in raws)
    # The small messages were kept in their rows, not in the blob store.
    r = await service.client.get(
        f"/mail/messages/{mails[0]['mail_id']}/raw", headers=service.supervisor
    )
    assert r.status_code == 200 and r.content == raws[0]


async def test_a_batch_holding_an_unreadable_message_does_nothing_so_that_each_is_read_alone(
    service: Service,
) -> None:
    def uow() -> SqlIntakeUnitOfWork:
        return SqlIntakeUnitOfWork(service.app.kit.sessions, service.app.kit.outbox)

    rules = MailRules(own_addresses=frozenset({SUPPORT}), attachments=AttachmentLimits())
    good = message(message_id="<batch-good@customer.example>")
    held: list[tuple[uuid.UUID, bytes | None]] = []
    for raw in (good, b"\x00\x01garbage"):
        accepted = await accept_mail(
            raw, InboundEnvelope(source="imap:test"), uow=uow(), blobs=service.mail.blobs, now=NOW
        )
        assert accepted.mail_id is not None
        held.append((accepted.mail_id, None))  # read back from the blob store

    assert (
        await process_mails(held, uow=uow(), blobs=service.mail.blobs, rules=rules, now=NOW) is None
    )
    for mail_id, _ in held:
        r = await service.client.get(f"/mail/messages/{mail_id}", headers=service.supervisor)
        assert r.json()["status"] == "received"  # nothing was done of either
    assert await service.of_type(c.InteractionReceived) == []

    [done] = (
        await process_mails(held[:1], uow=uow(), blobs=service.mail.blobs, rules=rules, now=NOW)
        or []
    )
    assert (done.status.value, done.kind and done.kind.value, done.attempts) == (
        "processed",
        "request",
        1,
    )
    [event] = await service.of_type(c.InteractionReceived)
    assert event.message_id == message_id_of(good)


async def test_an_unreadable_message_is_listed_as_failed(service: Service) -> None:
    accepted = await service.mail.inbox.receive(
        b"\x00\x01garbage", InboundEnvelope(source="imap:test")
    )
    assert accepted.mail_id is not None
    await service.inbound(accepted.mail_id)

    failed = (await service.client.get("/mail/failed", headers=service.supervisor)).json()
    assert failed["total"] == 1
    [item] = failed["items"]
    assert item["mail_id"] == str(accepted.mail_id)
    assert item["status"] == "failed" and item["attempts"] == 1
    assert item["error"].startswith("unreadable: not a mail message")


async def test_reprocessing_a_message_still_unreadable_reads_it_again_and_leaves_it_failed(
    service: Service,
) -> None:
    accepted = await service.mail.inbox.receive(
        b"\x00\x01garbage", InboundEnvelope(source="imap:test")
    )
    assert accepted.mail_id is not None
    await service.inbound(accepted.mail_id)

    r = await service.client.post(
        f"/mail/messages/{accepted.mail_id}/reprocess", headers=service.supervisor
    )
    assert r.status_code == 200, r.text
    again = r.json()
    assert (again["status"], again["attempts"]) == ("failed", 2)
    assert again["error"].startswith("unreadable:")
    assert await service.of_type(c.InteractionReceived) == []


async def test_a_message_that_failed_for_a_mended_cause_reprocesses_to_processed(
    service: Service,
) -> None:
    raw = message(message_id="<lost-blob@customer.example>")
    # Stored, and the process gone before it was read: the sweep reads it back from the blob
    # store, which has lost the bytes for a while (a volume not mounted, say).
    accepted = await accept_mail(
        raw,
        InboundEnvelope(source="imap:test"),
        uow=SqlIntakeUnitOfWork(service.app.kit.sessions, service.app.kit.outbox),
        blobs=service.mail.blobs,
        now=NOW,
    )
    assert accepted.mail_id is not None
    blobs = service.mail.blobs
    assert isinstance(blobs, FilesystemBlobStore)
    stored = blobs.path_of(hashlib.sha256(raw).hexdigest())
    aside = stored.with_name("aside")
    stored.rename(aside)

    service.clock.moment = NOW + timedelta(seconds=2)
    mail = await service.inbound(accepted.mail_id)
    assert mail["status"] == "failed"
    assert mail["error"].startswith("the stored message is missing from the blob store")

    aside.rename(stored)
    r = await service.client.post(
        f"/mail/messages/{accepted.mail_id}/reprocess", headers=service.supervisor
    )
    assert r.status_code == 200, r.text
    mended = r.json()
    assert (mended["status"], mended["kind"], mended["attempts"]) == ("processed", "request", 2)
    assert mended["error"] is None
    [received] = await service.of_type(c.InteractionReceived)
    assert str(received.interaction_id) == mended["interaction_id"]
    failed = (await service.client.get("/mail/failed", headers=service.supervisor)).json()
    assert failed["total"] == 0


async def test_a_delivery_report_marks_the_returned_message_bounced(service: Service) -> None:
    marta = await seed_marta(service)
    ours = await sent_on_case(service, marta)
    report = (
        "From: Mail Delivery Subsystem <MAILER-DAEMON@mx.acme.example>\r\n"
        f"To: {SUPPORT}\r\n"
        "Subject: Delivery Status Notification (Failure)\r\n"
        f"Date: {format_datetime(NOW)}\r\n"
        "Message-ID: <dsn-1@mx.acme.example>\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="dsn"\r\n'
        "\r\n"
        "--dsn\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n"
        "Your message could not be delivered.\r\n"
        "\r\n"
        "--dsn\r\n"
        "Content-Type: message/delivery-status\r\n"
        "\r\n"
        "Reporting-MTA: dns; mx.acme.example\r\n"
        "\r\n"
        f"Final-Recipient: rfc822; {MARTA}\r\n"
        "Action: failed\r\n"
        "Status: 5.1.1\r\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <{MARTA}>: User unknown\r\n"
        "\r\n"
        "--dsn\r\n"
        "Content-Type: text/rfc822-headers\r\n"
        "\r\n"
        f"From: Caseflow Service Desk <{SUPPORT}>\r\n"
        f"To: {MARTA}\r\n"
        f"Subject: {ours['subject']}\r\n"
        f"Message-ID: {ours['message_id']}\r\n"
        "\r\n"
        "--dsn--\r\n"
    ).encode()
    await service.send(report, mail_from="")  # the null reverse-path of a delivery report

    mail = await service.inbound_by_message_id("<dsn-1@mx.acme.example>")
    assert (mail["status"], mail["kind"], mail["case_number"]) == (
        "processed",
        "bounce",
        CASE_NUMBER,
    )
    [bounced] = await service.of_type(c.MessageBounced)
    assert (bounced.message_id, bounced.address, bounced.status) == (
        ours["message_id"],
        MARTA,
        "5.1.1",
    )
    assert "User unknown" in bounced.reason
    logged = (
        await service.client.get(f"/mail/outbound/{bounced.outbound_id}", headers=service.agent)
    ).json()
    assert logged["status"] == "bounced"
    assert await service.of_type(c.InteractionReceived) == []


# -- mail out -------------------------------------------------------------------------------


async def test_a_notification_to_a_contact_is_rendered_in_their_language_and_sent(
    service: Service,
) -> None:
    marta = await seed_marta(service)
    notification_id = await service.notify(
        contact(marta),
        "case.received",
        language="lt",
        case_id=uuid.uuid4(),
        parameters={"number": CASE_NUMBER, "subject": "Spausdintuvas"},
    )

    delivered = await service.sunk_one(MARTA)
    assert delivered["to"] == [MARTA]
    assert delivered["subject"] == f"[{CASE_NUMBER}] Gavome Jūsų užklausą"
    assert f"jos numeris – {CASE_NUMBER}" in delivered["text"]
    headers = {name: value for name, value in delivered["headers"]}
    assert headers["Auto-Submitted"] == "auto-replied"
    assert headers["X-Caseflow-Case"] == CASE_NUMBER

    logged = await service.outbound(notification_id, "sent")
    assert (logged["attempts"], logged["language"], logged["address"]) == (1, "lt", MARTA)
    assert logged["message_id"] == delivered["message_id"]
    [sent] = await service.of_type(c.MessageSent)
    assert (str(sent.outbound_id), sent.message_id, sent.case_number) == (
        logged["outbound_id"],
        delivered["message_id"],
        CASE_NUMBER,
    )
    assert (sent.address, sent.attempts) == (MARTA, 1)


async def test_the_acknowledgement_of_a_mailed_request_answers_that_mail(
    service: Service,
) -> None:
    request = message(message_id="<request@customer.example>")
    await service.send(request)
    await service.inbound_by_message_id("<request@customer.example>")
    [received] = await service.of_type(c.InteractionReceived)

    # Cases opened the case and asks for the acknowledgement before its own event is heard.
    await service.notify(
        contact(received.contact_id),
        "case.received",
        case_id=uuid.uuid4(),
        interaction_id=received.interaction_id,
        parameters={"number": CASE_NUMBER, "subject": received.subject},
    )

    delivered = await service.sunk_one(CUSTOMER)
    assert delivered["in_reply_to"] == "<request@customer.example>"
    assert delivered["references"] == ["<request@customer.example>"]
    assert delivered["subject"] == f"[{CASE_NUMBER}] We have received your request"


async def test_acknowledgements_over_the_limit_to_one_address_are_held_back(
    service: Service,
) -> None:
    marta = await seed_marta(service)
    notifications = [
        await service.notify(
            contact(marta),
            "case.received",
            case_id=uuid.uuid4(),
            parameters={"number": f"CAS-2026-00010{n}"},
        )
        for n in range(ACKNOWLEDGEMENTS_PER_WINDOW + 1)
    ]

    *within, over = notifications
    for notification_id in within:
        await service.outbound(notification_id, "sent")
    held = await service.outbound(over, "suppressed")
    assert held["attempts"] == 0
    assert held["last_error"] == "too many acknowledgements to this address"
    delivered = await service.sunk(MARTA)
    assert sorted(m["subject"].split("]")[0] for m in delivered) == [
        "[CAS-2026-000100",
        "[CAS-2026-000101",
    ]
    assert len(await service.of_type(c.MessageSent)) == ACKNOWLEDGEMENTS_PER_WINDOW


async def test_a_notification_to_a_known_agent_goes_to_their_address_in_their_language(
    service: Service,
) -> None:
    agent_id = uuid.uuid4()
    registered = c.AgentRegistered(
        agent_id=agent_id,
        name="Jana Dvořáková",
        email="jana@desk.example",
        languages=["cs", "en"],
        version=1,
        occurred_at=NOW,
    )
    await publish_event(service.broker, registered, topic=topics.ROUTING_AGENTS)
    notification_id = await service.notify(
        c.Recipient(kind=c.RecipientKind.AGENT, id=agent_id),
        "case.assigned",
        case_id=uuid.uuid4(),
        parameters={"number": CASE_NUMBER, "subject": "Tiskárna", "priority": "high"},
    )

    delivered = await service.sunk_one("jana@desk.example")
    assert delivered["subject"] == f"[{CASE_NUMBER}] Byl Vám přidělen nový požadavek: Tiskárna"
    assert "Priorita: vysoká" in delivered["text"]
    logged = await service.outbound(notification_id, "sent")
    assert (logged["recipient_kind"], logged["language"]) == ("agent", "cs")


async def test_a_notification_to_an_agent_intake_does_not_know_fails_for_want_of_an_address(
    service: Service,
) -> None:
    stranger = uuid.uuid4()
    notification_id = await service.notify(
        c.Recipient(kind=c.RecipientKind.AGENT, id=stranger),
        "case.assigned",
        parameters={"number": CASE_NUMBER},
    )

    logged = await service.outbound(notification_id, "failed")
    assert "no address" in logged["last_error"]
    assert (logged["address"], logged["attempts"]) == ("", 0)
    [failed] = await service.of_type(c.MessageFailed)
    assert (failed.notification_id, failed.recipient.id) == (notification_id, stranger)
    assert "no address" in failed.reason


async def test_a_relay_that_cannot_be_reached_leaves_the_message_queued_for_later(
    unreachable_relay: Service,
) -> None:
    service = unreachable_relay
    marta = await seed_marta(service)
    notification_id = await service.notify(
        contact(marta), "case.reply", parameters={"number": CASE_NUMBER, "text": "Done."}
    )
    queued = await service.outbound(notification_id, "queued")
    assert queued["attempts"] == 0

    assert await service.mail.delivery.run_once() == 1
    logged = await service.outbound(notification_id, "queued")
    assert logged["attempts"] == 1
    assert datetime.fromisoformat(logged["next_attempt_at"]) == NOW + FIRST_RETRY
    assert "could not be reached" in logged["last_error"]
    # Not before its time.
    assert await service.mail.delivery.run_once() == 0
    assert await service.of_type(c.MessageFailed) == []


async def test_a_message_the_relay_never_takes_fails_after_the_last_attempt(
    unreachable_relay: Service,
) -> None:
    service = unreachable_relay
    marta = await seed_marta(service)
    notification_id = await service.notify(
        contact(marta), "case.reply", parameters={"number": CASE_NUMBER, "text": "Done."}
    )
    await service.outbound(notification_id, "queued")
    assert await service.mail.delivery.run_once() == 1

    service.clock.moment = NOW + FIRST_RETRY
    assert await service.mail.delivery.run_once() == 1
    logged = await service.outbound(notification_id, "failed")
    assert (logged["attempts"], logged["next_attempt_at"]) == (2, None)
    [failed] = await service.of_type(c.MessageFailed)
    assert (failed.notification_id, failed.attempts) == (notification_id, 2)
    assert "could not be reached" in failed.reason


# -- who may see the logs -------------------------------------------------------------------


async def test_the_failed_mail_list_is_for_supervisors(service: Service) -> None:
    assert (await service.client.get("/mail/failed")).status_code == 401
    assert (await service.client.get("/mail/failed", headers=service.agent)).status_code == 403
    assert (await service.client.get("/mail/failed", headers=service.supervisor)).status_code == 200


async def test_the_outbound_log_is_open_to_agents(service: Service) -> None:
    assert (await service.client.get("/mail/outbound")).status_code == 401
    r = await service.client.get("/mail/outbound", headers=service.agent)
    assert r.status_code == 200
    assert r.json() == {"items": [], "total": 0, "limit": 50, "offset": 0}
