"""The email channel at work in the service: what the transports hand in is stored, then read
in the background; what was stored but never read (a crash between the two) is read by a
periodic sweep; queued outbound mail is sent by a job that new notifications wake."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import UUID

import structlog

from caseflow_servicekit import Clock
from intake.adapters.uow import SqlIntakeUnitOfWork
from intake.app.attachments import BlobStore
from intake.app.mail import (
    Accepted,
    InboundEnvelope,
    MailRules,
    Received,
    process_mail,
    process_mails,
    record_received,
    store_raw,
)
from intake.domain.mail_rules import InboundMail

log = structlog.get_logger(__name__)

SWEEP_BATCH = 50
"""Stored messages the sweep reads per batch."""


HELD_BYTES = 64 * 1024 * 1024
"""Bytes of stored messages the inbox keeps in memory for its readers; a message beyond that
(or one larger than `HELD_MESSAGE_BYTES`) is read back from the blob store."""

HELD_MESSAGE_BYTES = 1024 * 1024


class MailInbox:
    """Takes messages from the transports: stores each, then reads it in the background.

    Stored messages wait in a queue for up to `readers` readers, each of which takes what has
    gathered (up to `batch` messages) and reads it in one transaction; a batch in which one
    message fails is read again message by message, so that only that message fails.
    """

    def __init__(
        self,
        *,
        uow_factory: Callable[[], SqlIntakeUnitOfWork],
        blobs: BlobStore,
        rules: MailRules,
        clock: Clock,
        unread_after: timedelta,
        readers: int = 2,
        batch: int = 64,
        inline_bytes: int = 0,
    ) -> None:
        if readers < 1 or batch < 1:
            raise ValueError("the inbox needs at least one reader and a batch of one")
        self._uow_factory = uow_factory
        self._blobs = blobs
        self._rules = rules
        self._clock = clock
        self._unread_after = unread_after
        self._readers = readers
        self._batch = batch
        self._inline_bytes = inline_bytes
        self._waiting: collections.deque[tuple[UUID, bytes | None]] = collections.deque()
        self._held_bytes = 0
        self._limit = asyncio.Semaphore(readers)
        self._reading: set[asyncio.Task[None]] = set()
        self._recording: collections.deque[tuple[Received, asyncio.Future[Accepted]]] = (
            collections.deque()
        )
        self._recorder: asyncio.Task[None] | None = None

    async def receive(self, raw: bytes, envelope: InboundEnvelope) -> Accepted:
        """Store a message (the transport acknowledges it once this returns) and have it read.

        The bytes go to the blob store at once; the row saying they are there is written with
        those of the other messages arriving meanwhile, in one transaction (a group commit)."""
        received = await store_raw(
            raw, envelope, blobs=self._blobs, inline_bytes=self._inline_bytes
        )
        recorded: asyncio.Future[Accepted] = asyncio.get_running_loop().create_future()
        self._recording.append((received, recorded))
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.create_task(self._record_waiting())
        accepted = await recorded
        if accepted.mail_id is not None:
            self._enqueue(accepted.mail_id, raw)
        return accepted

    async def _record_waiting(self) -> None:
        """Record what has been stored, a group at a time, until nothing waits."""
        while self._recording:
            count = min(self._batch, len(self._recording))
            group = [self._recording.popleft() for _ in range(count)]
            try:
                await self._record(group)
            except Exception as error:
                if len(group) == 1:
                    # Its sender is told to try again later; nothing was recorded.
                    _fail(group[0][1], error)
                    continue
                log.info("mail.group_rolled_back", size=len(group), error=repr(error))
                # Each on its own: only a message that cannot be recorded is refused.
                for one in group:
                    try:
                        await self._record([one])
                    except Exception as alone:
                        _fail(one[1], alone)

    async def _record(self, group: list[tuple[Received, asyncio.Future[Accepted]]]) -> None:
        outcomes = await record_received(
            [received for received, _ in group], uow=self._uow_factory(), now=self._clock.now()
        )
        for (_, recorded), accepted in zip(group, outcomes, strict=True):
            if not recorded.done():
                recorded.set_result(accepted)

    async def reprocess(self, mail_id: UUID) -> InboundMail | None:
        """Read a stored message again (one that failed, once the cause is mended)."""
        return await process_mail(
            mail_id,
            uow=self._uow_factory(),
            blobs=self._blobs,
            rules=self._rules,
            now=self._clock.now(),
            retry_failed=True,
        )

    async def sweep(self, now: datetime) -> int:
        """Read the messages stored a while ago and never read; how many were read."""
        async with self._uow_factory() as uow:
            waiting = await uow.mail.waiting(
                received_before=now - self._unread_after, limit=SWEEP_BATCH
            )
        read = 0
        for mail_id in waiting:
            async with self._limit:
                done = await process_mail(
                    mail_id, uow=self._uow_factory(), blobs=self._blobs, rules=self._rules, now=now
                )
            read += done is not None
        return read

    async def drain(self) -> None:
        """Let the messages being read finish (on shutdown); the sweep takes any left over."""
        if self._recorder is not None:
            await asyncio.gather(self._recorder, return_exceptions=True)
        while self._reading:
            await asyncio.gather(*self._reading, return_exceptions=True)

    def _enqueue(self, mail_id: UUID, raw: bytes) -> None:
        size = len(raw)
        if size <= HELD_MESSAGE_BYTES and self._held_bytes + size <= HELD_BYTES:
            self._held_bytes += size
            self._waiting.append((mail_id, raw))
        else:
            self._waiting.append((mail_id, None))
        if len(self._reading) < self._readers:
            task = asyncio.create_task(self._read_waiting())
            self._reading.add(task)
            task.add_done_callback(self._reading.discard)

    def _take(self) -> list[tuple[UUID, bytes | None]]:
        taken: list[tuple[UUID, bytes | None]] = []
        while self._waiting and len(taken) < self._batch:
            mail_id, raw = self._waiting.popleft()
            if raw is not None:
                self._held_bytes -= len(raw)
            taken.append((mail_id, raw))
        return taken

    async def _read_waiting(self) -> None:
        """Read what waits, a batch at a time, until nothing does."""
        while taken := self._take():
            async with self._limit:
                try:
                    await self._read(taken)
                except Exception:
                    # Stored and still marked received: the sweep reads them again later.
                    log.exception("mail.read_failed", mail_ids=[str(i) for i, _ in taken])

    async def _read(self, taken: list[tuple[UUID, bytes | None]]) -> None:
        if len(taken) > 1:
            try:
                done = await process_mails(
                    taken,
                    uow=self._uow_factory(),
                    blobs=self._blobs,
                    rules=self._rules,
                    now=self._clock.now(),
                )
            except Exception as error:
                # A conflict with another transaction, say: each is read on its own below.
                log.warning("mail.batch_rolled_back", size=len(taken), error=repr(error))
                done = None
            if done is not None:
                return
        for mail_id, raw in taken:
            try:
                await process_mail(
                    mail_id,
                    uow=self._uow_factory(),
                    blobs=self._blobs,
                    rules=self._rules,
                    now=self._clock.now(),
                    raw=raw,
                )
            except Exception:
                log.exception("mail.read_failed", mail_id=str(mail_id))


def _fail(recorded: asyncio.Future[Accepted], error: Exception) -> None:
    if not recorded.done():  # its sender may have gone meanwhile
        recorded.set_exception(error)
