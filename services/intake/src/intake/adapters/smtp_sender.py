"""Outbound mail over SMTP (aiosmtplib): an outbound message as MIME, handed to the relay."""

from __future__ import annotations

import email.utils
from collections.abc import Sequence
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

import aiosmtplib

from intake.app.delivery import DeliveryError
from intake.domain.attachments import StoredAttachment
from intake.domain.outbound import OutboundMessage


@dataclass(frozen=True, kw_only=True)
class RelaySettings:
    """The mail server outbound mail goes to."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    starttls: bool | None = None
    """None: upgrade when the server offers STARTTLS."""
    use_tls: bool = False
    validate_certs: bool = True
    timeout: float = 30.0


class SmtpMailSender:
    """Sends outbound messages through one relay, from the desk's address."""

    def __init__(self, relay: RelaySettings, *, desk_name: str, desk_address: str) -> None:
        self._relay = relay
        self._from = Address(display_name=desk_name, addr_spec=desk_address)
        self._envelope_from = desk_address

    def compose(
        self, message: OutboundMessage, *, attachments: Sequence[tuple[StoredAttachment, bytes]]
    ) -> EmailMessage:
        """The MIME message for `message`, with its threading headers."""
        mime = EmailMessage()
        mime["From"] = self._from
        mime["To"] = message.address
        mime["Subject"] = message.subject
        mime["Date"] = format_datetime(message.created_at)
        mime["Message-ID"] = message.message_id
        if message.in_reply_to:
            mime["In-Reply-To"] = message.in_reply_to
        if message.thread_ids:
            mime["References"] = " ".join(message.thread_ids)
        if message.case_number:
            mime["X-Caseflow-Case"] = message.case_number
        if message.automatic:
            # RFC 3834: an automatic answer; and a plea to other robots not to answer it.
            mime["Auto-Submitted"] = "auto-replied"
            mime["X-Auto-Response-Suppress"] = "All"
        else:
            mime["Auto-Submitted"] = "no"
        mime.set_content(message.body or " ")
        if message.html:
            mime.add_alternative(message.html, subtype="html")
        for attachment, content in attachments:
            maintype, _, subtype = attachment.content_type.partition("/")
            mime.add_attachment(
                content,
                maintype=maintype or "application",
                subtype=subtype or "octet-stream",
                filename=attachment.filename,
            )
        return mime

    async def send(
        self, message: OutboundMessage, *, attachments: Sequence[tuple[StoredAttachment, bytes]]
    ) -> None:
        """Hand `message` to the relay; DeliveryError (permanent for a 5xx refusal) if it
        does not take it."""
        mime = self.compose(message, attachments=attachments)
        relay = self._relay
        try:
            await aiosmtplib.send(
                mime,
                sender=self._envelope_from,
                recipients=[message.address],
                hostname=relay.host,
                port=relay.port,
                username=relay.username,
                password=relay.password,
                start_tls=relay.starttls,
                use_tls=relay.use_tls,
                validate_certs=relay.validate_certs,
                timeout=relay.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            codes = [refusal.code for refusal in error.recipients]
            raise DeliveryError(
                f"the relay refused the recipient: {error}",
                permanent=all(500 <= code < 600 for code in codes),
            ) from error
        except aiosmtplib.SMTPResponseException as error:
            raise DeliveryError(
                f"the relay answered {error.code} {error.message}",
                permanent=500 <= error.code < 600,
            ) from error
        except (aiosmtplib.SMTPException, OSError) as error:
            raise DeliveryError(
                f"the relay could not be reached: {error}", permanent=False
            ) from error


def message_id_domain(address: str) -> str:
    """The domain Message-IDs are made in: the desk address's, else this host's."""
    _, _, domain = email.utils.parseaddr(address)[1].rpartition("@")
    return domain or "caseflow.invalid"
