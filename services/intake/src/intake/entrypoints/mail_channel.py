"""The email channel at work in the service: what the transports hand in is stored, then read
in the background; what was stored but never read (a crash between the two) is read by a
periodic sweep; queued outbound mail is sent by a job that new notifications wake."""

from __future__ import annotations

import asyncio
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
    accept_mail,
    process_mail,
)
from intake.domain.mail_rules import InboundMail

log = structlog.get_logger(__name__)

SWEEP_BATCH = 50
"""Stored messages the sweep reads per batch."""


class MailInbox:
    """Takes messages from the transports: stores each, then reads it in the background,
    at most `concurrency` at a time."""

    def __init__(
        self,
        *,
        uow_factory: Callable[[], SqlIntakeUnitOfWork],
        blobs: BlobStore,
        rules: MailRules,
        clock: Clock,
        unread_after: timedelta,
        concurrency: int = 8,
    ) -> None:
        self._uow_factory = uow_factory
        self._blobs = blobs
        self._rules = rules
        self._clock = clock
        self._unread_after = unread_after
        self._limit = asyncio.Semaphore(concurrency)
        self._reading: set[asyncio.Task[None]] = set()

    async def receive(self, raw: bytes, envelope: InboundEnvelope) -> Accepted:
        """Store a message (the transport acknowledges it once this returns) and have it read."""
        accepted = await accept_mail(
            raw, envelope, uow=self._uow_factory(), blobs=self._blobs, now=self._clock.now()
        )
        if accepted.mail_id is not None:
            task = asyncio.create_task(self._read(accepted.mail_id))
            self._reading.add(task)
            task.add_done_callback(self._reading.discard)
        return accepted

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
        if self._reading:
            await asyncio.gather(*self._reading, return_exceptions=True)

    async def _read(self, mail_id: UUID) -> None:
        async with self._limit:
            try:
                await process_mail(
                    mail_id,
                    uow=self._uow_factory(),
                    blobs=self._blobs,
                    rules=self._rules,
                    now=self._clock.now(),
                )
            except Exception:
                # Stored and still marked received: the sweep reads it again later.
                log.exception("mail.read_failed", mail_id=str(mail_id))
