"""The composition root of the intake service: the one place real adapters are wired in."""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import structlog
from fastapi import APIRouter

from caseflow_contracts import topics
from caseflow_servicekit import Clock, Kit, PeriodicJob, ServiceApp, clock_from, run_service
from intake.adapters.blobs import FilesystemBlobStore, S3BlobStore, blob_store_from
from intake.adapters.imap_mailboxes import ImapMailboxes, mailbox_configs
from intake.adapters.rate_limits import SqlRateLimitCounter
from intake.adapters.screen_pops import PgScreenPopHub
from intake.adapters.smtp_listener import SmtpListener
from intake.adapters.smtp_sender import RelaySettings, SmtpMailSender, message_id_domain
from intake.adapters.tables import metadata
from intake.adapters.templates import TemplateRenderer
from intake.adapters.uow import SqlIntakeUnitOfWork
from intake.app.attachments import BlobStore
from intake.app.calls import CallRules, close_overdue_calls
from intake.app.delivery import Desk, deliver_due
from intake.app.mail import MailRules
from intake.domain.attachments import AttachmentLimits, AttachmentTooLarge
from intake.domain.calls import CallRejected
from intake.domain.customer_errors import (
    ContactRejected,
    CustomerConflict,
    CustomerNotFound,
    StaleCard,
)
from intake.domain.errors import (
    AccountRejected,
    DomainTaken,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    IntakeError,
    RateLimited,
    SubmissionRejected,
)
from intake.domain.outbound import DeliveryPolicy
from intake.domain.rate_limits import RateLimits
from intake.entrypoints import (
    attachments_http,
    consumers,
    cti_http,
    customers_http,
    http,
    mail_http,
)
from intake.entrypoints.mail_channel import MailInbox
from intake.settings import IntakeSettings

MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"

log = structlog.get_logger(__name__)

CALL_TIMEOUT_BATCH = 50
"""Calls the switch never ended, closed per pass of the timeout job's batches."""

ERRORS: dict[type[Exception], int] = {
    AttachmentTooLarge: 413,
    RateLimited: 429,
    SubmissionRejected: 422,
    CallRejected: 422,
    AccountRejected: 422,
    ContactRejected: 422,
    CustomerNotFound: 404,
    DomainTaken: 409,
    CustomerConflict: 409,
    StaleCard: 412,
    IdempotencyKeyReused: 409,
    IdempotencyKeyInUse: 409,
    IntakeError: 400,
}


def build(
    settings: IntakeSettings, *, clock: Clock | None = None, configure_process: bool = True
) -> ServiceApp:
    """The intake service, wired."""
    kit = Kit(
        service="intake", settings=settings, metadata=metadata, configure_process=configure_process
    )
    kit.publishes.append(topics.INTAKE_INTERACTIONS)
    kit.publishes.append(topics.INTAKE_CUSTOMERS)
    kit.retention.add(
        "idempotency_keys",
        "created_at",
        timedelta(seconds=settings.idempotency_retention_seconds),
    )
    clock = clock or clock_from(settings)

    def uow_factory() -> SqlIntakeUnitOfWork:
        return SqlIntakeUnitOfWork(kit.sessions, kit.outbox)

    # The phone channel: calls from the CTI topic and webhook, timeouts, screen-pops.
    kit.publishes.append(topics.INTAKE_CALLS)
    call_rules = CallRules(
        region=settings.default_phone_region,
        timeout=timedelta(seconds=settings.call_timeout_seconds),
        callback_on_missed=settings.callback_on_missed,
    )
    screen_pops = PgScreenPopHub(settings.database_url)

    async def call_timeouts(now: datetime) -> int:
        return await close_overdue_calls(
            uow=uow_factory(), rules=call_rules, now=now, limit=CALL_TIMEOUT_BATCH
        )

    call_timeout_job = PeriodicJob(
        name="intake.call_timeouts",
        tick=call_timeouts,
        clock=clock,
        interval=settings.call_timeout_check_seconds,
    )
    consumers.register(
        kit.consumers,
        uow_factory=uow_factory,
        clock=clock,
        call_rules=call_rules,
        phone_region=settings.default_phone_region,
    )
    # The attachment store every channel shares (the email channel starts and stops it).
    blobs = blob_store_from(
        settings.blob_store,
        directory=Path(settings.blob_dir),
        endpoint_url=settings.s3_endpoint,
        bucket=settings.s3_bucket,
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key,
        region=settings.s3_region,
    )
    limits = AttachmentLimits(max_bytes=settings.attachment_max_bytes)
    router = http.router(
        uow_factory=uow_factory,
        auth=kit.auth,
        clock=clock,
        rate_limit_counter=SqlRateLimitCounter(kit.engine),
        rate_limits=RateLimits(
            per_address=settings.rate_limit_per_address,
            per_key=settings.rate_limit_per_key,
            window=timedelta(seconds=settings.rate_limit_window_seconds),
        ),
        blobs=blobs,
        limits=limits,
        trusted_proxies=settings.trusted_proxy_networks(),
        phone_region=settings.default_phone_region,
    )
    customers = customers_http.router(
        uow_factory=uow_factory,
        auth=kit.auth,
        clock=clock,
        phone_region=settings.default_phone_region,
    )
    phone = cti_http.router(
        uow_factory=uow_factory,
        auth=kit.auth,
        clock=clock,
        rules=call_rules,
        hub=screen_pops,
        keepalive_seconds=settings.screen_pop_keepalive_seconds,
    )
    mail = _mail_channel(
        settings, kit=kit, clock=clock, uow_factory=uow_factory, blobs=blobs, limits=limits
    )
    app = kit.http_app(
        routers=[router, customers, phone, *mail.routers],
        errors=ERRORS,
        description="Intake: inbound requests, customer identification, accounts and contacts, "
        "the phone channel (CTI webhook, screen-pops).",
        on_startup=[screen_pops.start, call_timeout_job.start, *mail.on_startup],
        on_shutdown=[*mail.on_shutdown, call_timeout_job.stop, screen_pops.stop],
    )
    # At hand for operations and tests, which run single passes with a clock they move, and
    # start the hub when they serve the app without its lifespan.
    app.fastapi.state.call_timeouts = call_timeout_job
    app.fastapi.state.screen_pops = screen_pops
    app.fastapi.state.mail = mail
    return app


@dataclass
class MailChannel:
    """The email channel as wired: its routes, what starts and stops with the service, and its
    parts at hand for operations and tests."""

    inbox: MailInbox
    blobs: BlobStore
    delivery: PeriodicJob
    sweep: PeriodicJob
    listener: SmtpListener | None
    mailboxes: ImapMailboxes
    routers: list[APIRouter] = field(default_factory=list)
    on_startup: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    on_shutdown: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


def _mail_channel(
    settings: IntakeSettings,
    *,
    kit: Kit,
    clock: Clock,
    uow_factory: Callable[[], SqlIntakeUnitOfWork],
    blobs: FilesystemBlobStore | S3BlobStore,
    limits: AttachmentLimits,
) -> MailChannel:
    """Email in (SMTP listener, IMAP mailboxes) and out (notifications rendered and sent),
    with the attachments' routes; it starts and stops `blobs`, the attachment store every
    channel shares."""
    kit.publishes.append(topics.INTAKE_MESSAGES)
    support = settings.support_address_list()
    rules = MailRules(
        own_addresses=frozenset([*support, settings.sender_address()]),
        attachments=limits,
        region=settings.default_phone_region,
    )
    inbox = MailInbox(
        uow_factory=uow_factory,
        blobs=blobs,
        rules=rules,
        clock=clock,
        unread_after=timedelta(seconds=settings.mail_sweep_seconds),
        inline_bytes=settings.mail_inline_bytes,
    )
    desk = Desk(
        name=settings.desk_name,
        address=settings.sender_address(),
        message_id_domain=message_id_domain(settings.sender_address()),
        default_language=settings.default_language,
        acknowledgements_per_window=settings.acknowledgements_per_window,
        acknowledgement_window=timedelta(seconds=settings.acknowledgement_window_seconds),
        policy=DeliveryPolicy(
            max_attempts=settings.delivery_attempts,
            first_retry=timedelta(seconds=settings.delivery_first_retry_seconds),
        ),
    )
    renderer = TemplateRenderer(
        override_dir=Path(settings.template_dir) if settings.template_dir else None,
        default_language=settings.default_language,
    )
    relay = (
        None
        if settings.relay_host is None
        else SmtpMailSender(
            RelaySettings(
                host=settings.relay_host,
                port=settings.relay_port,
                username=settings.relay_username,
                password=settings.relay_password,
                starttls=settings.relay_starttls,
                use_tls=settings.relay_tls,
            ),
            desk_name=settings.desk_name,
            desk_address=settings.sender_address(),
        )
    )

    async def deliver(now: datetime) -> int:
        if relay is None:
            return 0  # no relay configured: messages stay queued, listed in the log
        return await deliver_due(
            uow_factory=uow_factory, sender=relay, blobs=blobs, desk=desk, now=lambda: now
        )

    delivery = PeriodicJob(
        name="intake.mail_delivery",
        tick=deliver,
        clock=clock,
        interval=settings.delivery_check_seconds,
    )
    sweep = PeriodicJob(
        name="intake.mail_sweep",
        tick=inbox.sweep,
        clock=clock,
        interval=settings.mail_sweep_seconds,
    )
    consumers.register_mail(
        kit.consumers,
        uow_factory=uow_factory,
        clock=clock,
        renderer=renderer,
        desk=desk,
        on_queued=delivery.wake,
    )
    listener = (
        None
        if settings.smtp_port is None
        else SmtpListener(
            host=settings.smtp_host,
            port=settings.smtp_port,
            accept=inbox.receive,
            support_addresses=support,
            own_addresses=[settings.sender_address()],
            max_bytes=settings.smtp_max_bytes,
            tls_context=_tls_context(settings),
        )
    )
    mailboxes = ImapMailboxes(mailbox_configs(settings.imap_mailboxes), inbox.receive)
    channel = MailChannel(
        inbox=inbox,
        blobs=blobs,
        delivery=delivery,
        sweep=sweep,
        listener=listener,
        mailboxes=mailboxes,
    )
    channel.routers = [
        mail_http.router(uow_factory=uow_factory, auth=kit.auth, blobs=blobs, inbox=inbox),
        attachments_http.router(
            uow_factory=uow_factory, auth=kit.auth, blobs=blobs, limits=limits, clock=clock
        ),
    ]
    starts: list[Callable[[], Awaitable[None]]] = [
        blobs.start,
        delivery.start,
        sweep.start,
        mailboxes.start,
    ]
    stops: list[Callable[[], Awaitable[None]]] = [mailboxes.stop, sweep.stop, delivery.stop]
    if listener is not None:
        starts.append(listener.start)
        stops.insert(0, listener.stop)
    stops += [inbox.drain, blobs.close]
    channel.on_startup = starts
    channel.on_shutdown = stops
    if relay is None:
        log.warning(
            "mail.no_relay", detail="INTAKE_RELAY_HOST is not set: mail is queued, not sent"
        )
    return channel


def _tls_context(settings: IntakeSettings) -> ssl.SSLContext | None:
    if not settings.smtp_tls_cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(settings.smtp_tls_cert, settings.smtp_tls_key or None)
    return context


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m intake`."""
    return run_service(
        service="intake",
        settings_factory=IntakeSettings,  # type: ignore[arg-type]
        app_factory=build,  # type: ignore[arg-type]
        migrations=MIGRATIONS,
        argv=argv,
    )
