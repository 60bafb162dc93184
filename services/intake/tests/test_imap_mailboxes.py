"""Mailboxes read from a real IMAP server (pymap, started by the devstack)."""

from __future__ import annotations

import asyncio
import json
import re
import ssl
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aioimaplib
import pytest

from caseflow_devstack.imap import EmbeddedImap
from caseflow_devstack.ports import free_port
from caseflow_devstack.tls import self_signed_certificate
from intake.adapters.imap_mailboxes import (
    LAST_RETRY,
    ImapMailbox,
    ImapMailboxes,
    MailboxConfig,
    MailboxError,
    mailbox_configs,
)
from intake.app.mail import InboundEnvelope

pytestmark = pytest.mark.service

PASSWORDS = {"support": "support-secret", "sales": "sales-secret"}
WAIT = 10.0
"""The longest a test waits for the mailbox to do something."""


def message(subject: str) -> bytes:
    return (
        "From: Ann <ann@customer.example>\r\n"
        "To: support@desk.example\r\n"
        f"Subject: {subject}\r\n"
        f"Message-ID: <{uuid.uuid4()}@customer.example>\r\n"
        "\r\n"
        f"About {subject}.\r\n"
    ).encode()


def as_kept(raw: bytes) -> bytes:
    """`raw` as pymap gives it back: its Maildir keeps lines ending in LF alone."""
    return raw.replace(b"\r\n", b"\n")


class FakeMailStore:
    """The `accept` callback: keeps what it is given, except messages containing one of
    `refused` (it raises, as a store that is down would)."""

    def __init__(self) -> None:
        self.stored: list[tuple[bytes, InboundEnvelope]] = []
        self.refused: set[bytes] = set()
        self._changed = asyncio.Condition()

    async def __call__(self, raw: bytes, envelope: InboundEnvelope) -> None:
        if any(part in raw for part in self.refused):
            raise RuntimeError("the store is down")
        async with self._changed:
            self.stored.append((raw, envelope))
            self._changed.notify_all()

    @property
    def raws(self) -> list[bytes]:
        return [raw for raw, _ in self.stored]

    async def holding(self, count: int) -> None:
        """Wait until `count` messages are stored."""
        async with asyncio.timeout(WAIT), self._changed:
            await self._changed.wait_for(lambda: len(self.stored) >= count)


class FakeSleep:
    """The mailbox's `sleep`: records every pause. A pause of `endless` seconds (the IDLE
    window, or the poll interval) lasts until `wake()`; any other ends at once."""

    def __init__(self, endless: float) -> None:
        self.endless = endless
        self.pauses: list[float] = []
        self._begun = 0
        self._noticed = 0
        self._changed = asyncio.Condition()
        self._wake: asyncio.Future[None] | None = None

    async def __call__(self, seconds: float) -> None:
        self.pauses.append(seconds)
        if seconds != self.endless:
            return
        self._wake = asyncio.get_running_loop().create_future()
        async with self._changed:
            self._begun += 1
            self._changed.notify_all()
        await self._wake

    async def next_pause(self) -> None:
        """Wait until an endless pause begins that the test has not waited for yet."""
        async with asyncio.timeout(WAIT), self._changed:
            await self._changed.wait_for(lambda: self._begun > self._noticed)
            self._noticed = self._begun

    def wake(self) -> None:
        assert self._wake is not None and not self._wake.done()
        self._wake.set_result(None)


def imap_server(home: Path, **options: Any) -> EmbeddedImap:
    return EmbeddedImap(
        home,
        user="support",
        password=PASSWORDS["support"],
        other_users={"sales": PASSWORDS["sales"]},
        **options,
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedImap]:
    with imap_server(tmp_path_factory.mktemp("imap")) as server:
        yield server


@asynccontextmanager
async def imap_client(server: EmbeddedImap, user: str = "support") -> AsyncIterator[Any]:
    """A client of the test's own, logged in as `user`."""
    client = aioimaplib.IMAP4(host=server.host, port=server.port, timeout=WAIT)
    await client.wait_hello_from_server()
    assert (await client.login(user, PASSWORDS[user])).result == "OK"
    try:
        yield client
    finally:
        await client.logout()


@pytest.fixture
async def folder(server: EmbeddedImap) -> str:
    """A new, empty folder of the user "support"."""
    name = f"test-{uuid.uuid4().hex[:8]}"
    async with imap_client(server) as client:
        assert (await client.create(name)).result == "OK"
    return name


async def append(
    server: EmbeddedImap, folder: str, raw: bytes, *, user: str = "support", flags: str = ""
) -> int:
    """Put `raw` into `folder`; its UID."""
    async with imap_client(server, user) as client:
        response = await client.append(raw, mailbox=folder, flags=flags or None)
    assert response.result == "OK"
    found = re.search(rb"APPENDUID \d+ (\d+)", response.lines[-1])
    assert found is not None
    return int(found[1])


async def uids(
    server: EmbeddedImap, folder: str, criterion: str, *, user: str = "support"
) -> list[int]:
    """The UIDs of the messages of `folder` that match `criterion` (SEEN, UNSEEN, ALL)."""
    async with imap_client(server, user) as client:
        assert (await client.select(folder)).result == "OK"
        response = await client.uid_search(criterion, charset=None)
    assert response.result == "OK"
    return sorted(int(uid) for line in response.lines[:-1] for uid in line.split())


def config(
    server: EmbeddedImap, folder: str, *, user: str = "support", **options: Any
) -> MailboxConfig:
    return MailboxConfig(
        name=user,
        host=server.host,
        port=server.port,
        user=user,
        password=PASSWORDS[user],
        folder=folder,
        **options,
    )


async def test_a_pass_stores_every_unseen_message_then_marks_it_seen(
    server: EmbeddedImap, folder: str
) -> None:
    messages = [message(f"order {n}") for n in range(3)]
    appended = [await append(server, folder, raw) for raw in messages]
    already_read = await append(server, folder, message("read by a person"), flags=r"\Seen")
    store = FakeMailStore()
    mailbox = ImapMailbox(config(server, folder), store)

    assert await mailbox.poll_once() == 3

    assert store.raws == [as_kept(raw) for raw in messages]
    assert {envelope for _, envelope in store.stored} == {InboundEnvelope(source="imap:support")}
    assert await uids(server, folder, "SEEN") == sorted([*appended, already_read])
    assert await uids(server, folder, "UNSEEN") == []

    assert await mailbox.poll_once() == 0
    assert len(store.stored) == 3


async def test_a_message_whose_store_failed_is_left_unseen_for_the_next_pass(
    server: EmbeddedImap, folder: str
) -> None:
    first, troubled, last = message("first"), message("troubled"), message("last")
    for raw in (first, troubled, last):
        await append(server, folder, raw)
    troubled_uid = (await uids(server, folder, "ALL"))[1]
    store = FakeMailStore()
    store.refused.add(b"troubled")
    mailbox = ImapMailbox(config(server, folder), store)

    assert await mailbox.poll_once() == 2
    assert store.raws == [as_kept(first), as_kept(last)]
    assert await uids(server, folder, "UNSEEN") == [troubled_uid]

    store.refused.clear()
    assert await mailbox.poll_once() == 1
    assert store.raws == [as_kept(first), as_kept(last), as_kept(troubled)]
    assert await uids(server, folder, "UNSEEN") == []


async def test_with_a_processed_folder_stored_messages_are_moved_there(
    server: EmbeddedImap, folder: str
) -> None:
    processed = f"{folder}-done"
    async with imap_client(server) as client:
        assert (await client.create(processed)).result == "OK"
    messages = [message("to move 1"), message("to move 2")]
    for raw in messages:
        await append(server, folder, raw)
    store = FakeMailStore()
    mailbox = ImapMailbox(config(server, folder, processed_folder=processed), store)

    assert await mailbox.poll_once() == 2

    assert store.raws == [as_kept(raw) for raw in messages]
    assert await uids(server, folder, "ALL") == []
    moved = await uids(server, processed, "ALL")
    assert len(moved) == 2
    assert await uids(server, processed, "SEEN") == moved


async def test_several_mailboxes_are_read_into_one_store(server: EmbeddedImap, folder: str) -> None:
    for_support, for_sales = message("for support"), message("for sales")
    await append(server, folder, for_support)
    await append(server, "INBOX", for_sales, user="sales")
    store = FakeMailStore()
    mailboxes = ImapMailboxes(
        [config(server, folder), config(server, "INBOX", user="sales")], store
    )

    assert await mailboxes.poll_once() == 2

    assert store.stored == [
        (as_kept(for_support), InboundEnvelope(source="imap:support")),
        (as_kept(for_sales), InboundEnvelope(source="imap:sales")),
    ]


async def test_in_the_background_idle_brings_a_message_appended_later(
    server: EmbeddedImap, folder: str
) -> None:
    # The fallback poll never comes: only the server's announcement can wake the mailbox.
    sleep = FakeSleep(endless=600.0)
    store = FakeMailStore()
    mailbox = ImapMailbox(config(server, folder, poll_seconds=600.0), store, sleep=sleep)
    await mailbox.start()
    try:
        await sleep.next_pause()  # the first pass found nothing: now in IDLE
        raw = message("while idle")
        uid = await append(server, folder, raw)

        await store.holding(1)
        await sleep.next_pause()  # back in IDLE: the message is marked
    finally:
        await mailbox.stop()

    assert store.raws == [as_kept(raw)]
    assert await uids(server, folder, "SEEN") == [uid]
    assert sleep.pauses == [600.0, 600.0]


async def test_without_idle_the_mailbox_polls(server: EmbeddedImap, folder: str) -> None:
    sleep = FakeSleep(endless=300.0)
    store = FakeMailStore()
    mailbox = ImapMailbox(
        config(server, folder, idle=False, poll_seconds=300.0), store, sleep=sleep
    )
    await mailbox.start()
    try:
        await sleep.next_pause()
        raw = message("between polls")
        await append(server, folder, raw)
        assert store.stored == []

        sleep.wake()
        await store.holding(1)
    finally:
        await mailbox.stop()

    assert store.raws == [as_kept(raw)]


async def test_an_unreachable_server_is_retried_ever_later_and_never_stops_the_mailbox() -> None:
    nowhere = MailboxConfig(
        name="nowhere", host="127.0.0.1", port=free_port(), user="support", password="x"
    )
    with pytest.raises(MailboxError):
        await ImapMailbox(nowhere, FakeMailStore()).poll_once()

    sleep = FakeSleep(endless=LAST_RETRY)
    mailbox = ImapMailbox(nowhere, FakeMailStore(), sleep=sleep)
    await mailbox.start()
    try:
        await sleep.next_pause()
        assert mailbox.running
    finally:
        await mailbox.stop()

    assert sleep.pauses == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0]


async def test_after_the_server_restarts_the_mailbox_reconnects(tmp_path: Path) -> None:
    with imap_server(tmp_path) as own_server:
        sleep = FakeSleep(endless=600.0)
        store = FakeMailStore()
        mailbox = ImapMailbox(config(own_server, "INBOX", poll_seconds=600.0), store, sleep=sleep)
        await mailbox.start()
        try:
            await sleep.next_pause()
            own_server.restart()
            await sleep.next_pause()  # connected again, and in IDLE
            raw = message("after the restart")
            await append(own_server, "INBOX", raw)

            await store.holding(1)
        finally:
            await mailbox.stop()

    assert store.raws == [as_kept(raw)]
    # In IDLE, the connection lost, a pause of a second, connected again and in IDLE.
    assert sleep.pauses == [600.0, 1.0, 600.0]


async def test_starttls_upgrades_the_connection_and_checks_the_certificate(
    tmp_path: Path,
) -> None:
    # The message goes in while the server speaks in clear, and is read once it offers TLS.
    raw = message("over tls")
    with imap_server(tmp_path) as clear_server:
        await append(clear_server, "INBOX", raw)
    cert_file, key_file = self_signed_certificate(tmp_path)
    trusting = ssl.create_default_context(cafile=str(cert_file))
    with imap_server(tmp_path, cert_file=cert_file, key_file=key_file) as tls_server:
        # Only the system's authorities are trusted by default, and they did not sign this.
        distrustful = ImapMailbox(config(tls_server, "INBOX", starttls=True), FakeMailStore())
        with pytest.raises(MailboxError, match="TLS"):
            await distrustful.poll_once()

        store = FakeMailStore()
        mailbox = ImapMailbox(
            config(tls_server, "INBOX", starttls=True), store, ssl_context=trusting
        )
        assert await mailbox.poll_once() == 1

    assert store.raws == [as_kept(raw)]


def test_a_config_keeps_its_password_out_of_its_repr() -> None:
    secret = "do-not-print-me"
    assert secret not in repr(MailboxConfig("m", "imap.example", 993, "u", secret, tls=True))


SETTING = {"name": "support", "host": "imap.example", "port": 993, "user": "s", "password": "pw-1"}


def test_mailboxes_are_read_from_their_json_setting() -> None:
    sales = {
        **SETTING,
        "name": "sales",
        "port": 143,
        "starttls": True,
        "processed_folder": "Done",
        "poll_seconds": 30,
        "idle": False,
    }

    assert mailbox_configs(json.dumps([{**SETTING, "tls": True}, sales])) == [
        MailboxConfig("support", "imap.example", 993, "s", "pw-1", tls=True),
        MailboxConfig(
            "sales",
            "imap.example",
            143,
            "s",
            "pw-1",
            starttls=True,
            processed_folder="Done",
            poll_seconds=30,
            idle=False,
        ),
    ]
    assert mailbox_configs(" ") == []


@pytest.mark.parametrize(
    ("entries", "problem"),
    [
        (SETTING, "a JSON list of objects"),
        ([{**SETTING, "port": "993"}], "port must be int"),
        ([{**SETTING, "tls": 1}], "tls must be bool"),
        ([{**SETTING, "password": 1234}], "password must be str"),
        ([{key: value for key, value in SETTING.items() if key != "password"}], "missing password"),
        ([{**SETTING, "pass": "pw-1"}], "unknown field 'pass'"),
        ([{**SETTING, "tls": True, "starttls": True}], "not both"),
    ],
)
def test_a_wrong_mailbox_setting_is_explained_without_its_values(
    entries: object, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem) as refused:
        mailbox_configs(json.dumps(entries))
    assert "pw-1" not in str(refused.value)
    assert "1234" not in str(refused.value)


def test_a_mailbox_setting_that_is_not_json_is_refused() -> None:
    with pytest.raises(ValueError, match="not JSON"):
        mailbox_configs('[{"name": "support", "password": "pw-1"')
