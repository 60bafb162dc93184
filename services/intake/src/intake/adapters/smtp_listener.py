"""The SMTP listener: intake as the mail exchanger of the desk's support addresses.

It runs aiosmtpd's SMTP protocol on the service's own event loop, so a message goes from the
socket to the store without changing threads. A message is acknowledged (250) only once
`accept` has stored it; if storing fails the sender is told to try again later (451), so a
failure or a crash never loses a message that was acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import weakref
from collections.abc import Awaitable, Callable, Collection
from typing import Any

import structlog
from aiosmtpd.smtp import SMTP, Envelope, Session

from intake.app.mail import InboundEnvelope

AcceptMail = Callable[[bytes, InboundEnvelope], Awaitable[object]]

log = structlog.get_logger(__name__)

DEFAULT_MAX_BYTES = 35 * 1024 * 1024
IDENT = "Caseflow intake"

OK = "250 2.0.0 OK"
SENDER_OK = "250 2.1.0 OK"
RECIPIENT_OK = "250 2.1.5 OK"
RELAYING_DENIED = "550 5.7.1 Relaying denied"
LOOP_REFUSED = "550 5.7.1 Mail from the desk's own address refused: mail loop"
TRY_AGAIN = "451 4.3.0 Message not stored, try again later"
LOCAL_ERROR = "451 4.3.0 Local error, try again later"
SHUTTING_DOWN = "421 4.3.2 Service shutting down, try again later"

_NULL_SENDER = "<>"


def _normalised(addresses: Collection[str]) -> frozenset[str]:
    return frozenset(address.strip().lower() for address in addresses if address.strip())


def _is_one_of(address: str, addresses: frozenset[str]) -> bool:
    """Whether `address` is one of `addresses`, ignoring case and a `+tag` in its local part."""
    address = address.lower()
    if address in addresses:
        return True
    local, at, domain = address.rpartition("@")
    base, plus, _ = local.partition("+")
    return bool(at and plus) and f"{base}@{domain}" in addresses


def _peer_address(session: Session) -> str | None:
    peer = session.peer
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return str(peer) if peer else None


class _DeskHandler:
    """The desk's rules for senders and recipients, and the store, as the hooks aiosmtpd
    calls by name (`handle_<COMMAND>`) for every connection."""

    def __init__(
        self, *, accept: AcceptMail, support: frozenset[str], desk: frozenset[str]
    ) -> None:
        self._accept = accept
        self._support = support
        self._desk = desk
        self.closing = False
        self.storing = 0
        self.quiet = asyncio.Event()
        self.quiet.set()

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        # With a hook, aiosmtpd leaves remembering the greeting to it.
        session.host_name = hostname
        # An exchanger takes mail without logging in; an AUTH offer (which aiosmtpd makes
        # after STARTTLS) could only fail, and a relay told to log in would give up.
        return [line for line in responses if not line[4:].upper().startswith("AUTH")]

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        if self.closing:
            return SHUTTING_DOWN
        # The null sender (delivery reports) is welcome; the desk writing to itself is a loop.
        if address != _NULL_SENDER and _is_one_of(address, self._desk):
            log.warning("smtp.loop_refused", mail_from=address, peer=_peer_address(session))
            return LOOP_REFUSED
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return SENDER_OK

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if not _is_one_of(address, self._support):
            log.info("smtp.relaying_denied", rcpt_to=address, peer=_peer_address(session))
            return RELAYING_DENIED
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return RECIPIENT_OK

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        mail_from = envelope.mail_from
        inbound = InboundEnvelope(
            source="smtp",
            # The null reverse-path of a delivery report is kept as the empty address.
            mail_from="" if mail_from == _NULL_SENDER else mail_from,
            rcpt_to=tuple(envelope.rcpt_tos),
            peer=_peer_address(session),
        )
        self.storing += 1
        self.quiet.clear()
        try:
            await self._accept(raw, inbound)
        except Exception:
            log.exception(
                "smtp.store_failed",
                size=len(raw),
                mail_from=inbound.mail_from,
                rcpt_to=list(inbound.rcpt_to),
                peer=inbound.peer,
            )
            return TRY_AGAIN
        finally:
            self.storing -= 1
            if not self.storing:
                self.quiet.set()
        log.info(
            "smtp.stored",
            size=len(raw),
            mail_from=inbound.mail_from,
            rcpt_to=list(inbound.rcpt_to),
            peer=inbound.peer,
        )
        return OK

    async def handle_exception(self, error: Exception) -> str:
        # aiosmtpd's own answer would show the client the error's text.
        log.error("smtp.session_failed", exc_info=error)
        return LOCAL_ERROR


class SmtpListener:
    """Takes mail for `support_addresses` (and their `+tag` forms) over SMTP on `host`:`port`
    (port 0: any free port) and hands each message to `accept`.

    Mail from the desk's own addresses (`support_addresses` and `own_addresses`) is refused
    as a loop; messages over `max_bytes` are refused (552). With `tls_context` the listener
    offers STARTTLS, without requiring it.
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        accept: AcceptMail,
        support_addresses: Collection[str],
        own_addresses: Collection[str] = (),
        max_bytes: int = DEFAULT_MAX_BYTES,
        tls_context: ssl.SSLContext | None = None,
        hostname: str | None = None,
    ) -> None:
        support = _normalised(support_addresses)
        if not support:
            raise ValueError("the SMTP listener needs at least one support address")
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        self._host = host
        self._requested_port = port
        self._handler = _DeskHandler(
            accept=accept, support=support, desk=support | _normalised(own_addresses)
        )
        self._max_bytes = max_bytes
        self._tls_context = tls_context
        self._hostname = hostname
        self._server: asyncio.Server | None = None
        self._port: int | None = None
        self._sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()

    @property
    def port(self) -> int:
        """The port the listener is bound to (the one chosen when started on port 0)."""
        if self._port is None:
            raise RuntimeError("the SMTP listener is not started")
        return self._port

    @property
    def running(self) -> bool:
        """Whether the listener accepts connections."""
        return self._server is not None

    async def start(self) -> None:
        """Listen for connections on the running event loop."""
        if self._server is not None:
            return
        loop = asyncio.get_running_loop()
        # aiosmtpd would look the name up for every connection.
        hostname = self._hostname or await asyncio.to_thread(socket.getfqdn)
        handler = self._handler
        handler.closing = False

        def new_session() -> SMTP:
            session = SMTP(
                handler,
                data_size_limit=self._max_bytes,
                hostname=hostname,
                ident=IDENT,
                tls_context=self._tls_context,
                require_starttls=False,
                loop=loop,
            )
            self._sessions.add(session)
            return session

        self._server = await loop.create_server(new_session, self._host, self._requested_port)
        sockname: Any = self._server.sockets[0].getsockname()
        self._port = int(sockname[1])
        log.info(
            "smtp.listening",
            host=self._host,
            port=self._port,
            starttls=self._tls_context is not None,
        )

    async def stop(self, *, grace: float = 10.0) -> None:
        """Stop listening, let messages being stored finish (up to `grace` seconds), then
        close the connections left."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        self._handler.closing = True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                await self._handler.quiet.wait()
        for session in list(self._sessions):
            if session.transport is not None:
                session.transport.close()
        await server.wait_closed()
        log.info("smtp.stopped", port=self._port)
