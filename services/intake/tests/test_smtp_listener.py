"""The SMTP listener on the test's event loop, spoken to by a real SMTP client over TCP."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import aiosmtplib
import pytest

from caseflow_devstack.tls import self_signed_certificate
from intake.adapters.smtp_listener import SmtpListener
from intake.app.mail import InboundEnvelope

pytestmark = pytest.mark.service

SUPPORT = "support@desk.example"
NOREPLY = "noreply@desk.example"
CUSTOMER = "ann@customer.example"
LOCALHOST = "127.0.0.1"
MAX_BYTES = 64 * 1024

# CRLF line ends and a line starting with a dot: what arrives must be byte for byte this.
MESSAGE = (
    b"From: Ann <ann@customer.example>\r\n"
    b"To: support@desk.example\r\n"
    b"Subject: My order\r\n"
    b"Message-ID: <order-1@customer.example>\r\n"
    b"\r\n"
    b"Where is my order?\r\n"
    b".signed, Ann\r\n"
)


class FakeMailStore:
    """The `accept` callback: keeps what it is given, or fails while `failing` is set, or
    waits at `gate` once one is set."""

    def __init__(self) -> None:
        self.stored: list[tuple[bytes, InboundEnvelope]] = []
        self.failing = False
        self.gate: asyncio.Event | None = None
        self.entered = asyncio.Event()

    async def __call__(self, raw: bytes, envelope: InboundEnvelope) -> None:
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.failing:
            raise RuntimeError("the store is down")
        self.stored.append((raw, envelope))


@pytest.fixture
def store() -> FakeMailStore:
    return FakeMailStore()


@pytest.fixture
async def listener(store: FakeMailStore) -> AsyncIterator[SmtpListener]:
    listener = SmtpListener(
        host=LOCALHOST,
        port=0,
        accept=store,
        support_addresses=[SUPPORT],
        own_addresses=[NOREPLY],
        max_bytes=MAX_BYTES,
        hostname="mx.desk.example",
    )
    await listener.start()
    yield listener
    await listener.stop()


def client(listener: SmtpListener, tls_context: ssl.SSLContext | None = None) -> aiosmtplib.SMTP:
    return aiosmtplib.SMTP(
        hostname=LOCALHOST,
        port=listener.port,
        start_tls=False,
        tls_context=tls_context,
        timeout=10,
    )


async def test_a_message_to_a_support_address_is_stored_as_received(
    listener: SmtpListener, store: FakeMailStore
) -> None:
    async with client(listener) as smtp:
        refused, reply = await smtp.sendmail(CUSTOMER, ["Support@Desk.Example"], MESSAGE)

    assert refused == {}
    assert reply.startswith("2.0.0")
    assert store.stored == [
        (
            MESSAGE,
            InboundEnvelope(
                source="smtp", mail_from=CUSTOMER, rcpt_to=("Support@Desk.Example",), peer=LOCALHOST
            ),
        )
    ]


async def test_plus_addressing_of_a_support_address_is_accepted_and_strangers_are_not(
    listener: SmtpListener, store: FakeMailStore
) -> None:
    tagged = "support+billing@desk.example"
    async with client(listener) as smtp:
        refused, _ = await smtp.sendmail(CUSTOMER, [tagged, "bob@elsewhere.example"], MESSAGE)

    assert list(refused) == ["bob@elsewhere.example"]
    assert refused["bob@elsewhere.example"].code == 550
    assert [envelope.rcpt_to for _, envelope in store.stored] == [(tagged,)]


async def test_a_message_for_nobody_at_the_desk_is_refused_as_relaying(
    listener: SmtpListener, store: FakeMailStore
) -> None:
    async with client(listener) as smtp:
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
            await smtp.sendmail(CUSTOMER, ["support@elsewhere.example"], MESSAGE)

    [recipient] = refused.value.recipients
    assert recipient.code == 550
    assert "5.7.1 Relaying denied" in recipient.message
    assert store.stored == []


@pytest.mark.parametrize("sender", [NOREPLY, "SUPPORT+auto@desk.example"])
async def test_mail_from_the_desk_itself_is_refused_as_a_loop(
    listener: SmtpListener, store: FakeMailStore, sender: str
) -> None:
    async with client(listener) as smtp:
        with pytest.raises(aiosmtplib.SMTPSenderRefused) as refused:
            await smtp.sendmail(sender, [SUPPORT], MESSAGE)

    assert refused.value.code == 550
    assert "5.7.1" in refused.value.message
    assert "loop" in refused.value.message
    assert store.stored == []


async def test_a_delivery_report_from_the_null_sender_is_accepted(
    listener: SmtpListener, store: FakeMailStore
) -> None:
    async with client(listener) as smtp:
        await smtp.sendmail("", [SUPPORT], MESSAGE)

    [(_, envelope)] = store.stored
    assert envelope.mail_from == ""


async def test_an_oversized_message_is_refused_whether_announced_or_not(
    listener: SmtpListener, store: FakeMailStore
) -> None:
    big = MESSAGE + b"x" * 998 + b"\r\n"
    big *= MAX_BYTES // len(big) + 1
    async with client(listener) as smtp:
        await smtp.ehlo()
        assert smtp.esmtp_extensions["size"] == str(MAX_BYTES)
        # Announced: the client declares the size with MAIL FROM and is stopped there.
        with pytest.raises(aiosmtplib.SMTPSenderRefused) as announced:
            await smtp.sendmail(CUSTOMER, [SUPPORT], big)
        # Not announced: the listener counts while reading and refuses after the data.
        await smtp.mail(CUSTOMER)
        await smtp.rcpt(SUPPORT)
        with pytest.raises(aiosmtplib.SMTPDataError) as counted:
            await smtp.data(big)

    assert announced.value.code == 552
    assert counted.value.code == 552
    assert store.stored == []


async def test_a_failed_store_asks_the_sender_to_try_again_later(
    listener: SmtpListener, store: FakeMailStore
) -> None:
    store.failing = True
    async with client(listener) as smtp:
        with pytest.raises(aiosmtplib.SMTPDataError) as failed:
            await smtp.sendmail(CUSTOMER, [SUPPORT], MESSAGE)
        assert store.stored == []

        store.failing = False
        await smtp.sendmail(CUSTOMER, [SUPPORT], MESSAGE)

    assert failed.value.code == 451
    assert "4.3.0" in failed.value.message
    assert "try again later" in failed.value.message
    assert [raw for raw, _ in store.stored] == [MESSAGE]


async def test_stopping_lets_a_message_being_stored_finish_and_be_acknowledged(
    listener: SmtpListener, store: FakeMailStore
) -> None:
    store.gate = asyncio.Event()
    async with client(listener) as smtp:
        sending = asyncio.create_task(smtp.sendmail(CUSTOMER, [SUPPORT], MESSAGE))
        async with asyncio.timeout(10):
            await store.entered.wait()
        stopping = asyncio.create_task(listener.stop())
        store.gate.set()
        async with asyncio.timeout(10):
            _, reply = await sending
            await stopping

    assert reply.startswith("2.0.0")
    assert [raw for raw, _ in store.stored] == [MESSAGE]
    with pytest.raises(aiosmtplib.SMTPConnectError):
        await client(listener).connect()


async def test_starttls_is_offered_and_mail_arrives_over_it(
    store: FakeMailStore, tmp_path: Path
) -> None:
    cert_file, key_file = self_signed_certificate(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_file, key_file)
    client_context = ssl.create_default_context(cafile=str(cert_file))
    listener = SmtpListener(
        host=LOCALHOST,
        port=0,
        accept=store,
        support_addresses=[SUPPORT],
        tls_context=server_context,
        hostname="mx.desk.example",
    )
    await listener.start()
    try:
        async with client(listener, client_context) as smtp:
            await smtp.ehlo()
            assert smtp.supports_extension("starttls")
            assert not smtp.supports_extension("auth")
            await smtp.starttls()
            assert smtp.transport is not None
            assert smtp.transport.get_extra_info("peercert") is not None
            await smtp.ehlo()
            assert not smtp.supports_extension("starttls")
            # An exchanger offers no AUTH, not even once the connection is private.
            assert not smtp.supports_extension("auth")
            await smtp.sendmail(CUSTOMER, [SUPPORT], MESSAGE)
        # TLS is offered, not required.
        async with client(listener) as smtp:
            await smtp.sendmail(CUSTOMER, [SUPPORT], MESSAGE)
    finally:
        await listener.stop()

    assert [raw for raw, _ in store.stored] == [MESSAGE, MESSAGE]
