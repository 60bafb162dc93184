"""The intake service's tables (plus the kit's outbox and inbox)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB

from caseflow_servicekit import new_metadata

metadata = new_metadata()

accounts = Table(
    "accounts",
    metadata,
    Column("account_id", Uuid, primary_key=True),
    Column("name", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("region", Text, nullable=True),
    Column("industry", Text, nullable=True),
    # How valuable the customer is (e.g. "gold"), for routing and SLA.
    Column("tier", String(32), nullable=True),
    # The specialist attached to the customer.
    Column("owner_id", Uuid, nullable=True),
    Column("credit_hold", Boolean, nullable=False, server_default="false"),
    Column("credit_hold_reason", Text, nullable=True),
    Column("notes", Text, nullable=False, server_default=""),
    # The ETag; every change raises it.
    Column("version", Integer, nullable=False, server_default="1"),
    Column("updated_at", DateTime(timezone=True), nullable=True),
    # The name folded (no accents, lower case) for search, with a trigram index.
    Column("search_name", Text, nullable=False, server_default=""),
    Index(
        "ix_accounts_search_name",
        "search_name",
        postgresql_using="gin",
        postgresql_ops={"search_name": "gin_trgm_ops"},
    ),
    Index("ix_accounts_region", "region"),
)

account_domains = Table(
    "account_domains",
    metadata,
    # A domain names one account at most: the primary key decides between racing claims.
    Column("domain", String(253), primary_key=True),
    Column(
        "account_id",
        Uuid,
        ForeignKey("accounts.account_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
)

contacts = Table(
    "contacts",
    metadata,
    Column("contact_id", Uuid, primary_key=True),
    Column("name", Text, nullable=False),
    Column("account_id", Uuid, ForeignKey("accounts.account_id"), nullable=True, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("position", Text, nullable=True),
    Column("language", String(16), nullable=True),
    Column("preferred_channel", String(16), nullable=True),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("updated_at", DateTime(timezone=True), nullable=True),
    Column("search_name", Text, nullable=False, server_default=""),
    # A duplicate folded into another contact stays as a pointer to it.
    Column("merged_into", Uuid, nullable=True),
    # Erased on request: the personal data is gone, the id stays for the records that use it.
    Column("erased_at", DateTime(timezone=True), nullable=True),
    Index(
        "ix_contacts_search_name",
        "search_name",
        postgresql_using="gin",
        postgresql_ops={"search_name": "gin_trgm_ops"},
    ),
)

contact_emails = Table(
    "contact_emails",
    metadata,
    # Stored normalised (trimmed, lower case); an address belongs to one contact.
    Column("email", String(320), primary_key=True),
    Column(
        "contact_id",
        Uuid,
        ForeignKey("contacts.contact_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("position", Integer, nullable=False),
    # work, home, other
    Column("kind", String(16), nullable=False, server_default="work"),
)

contact_phones = Table(
    "contact_phones",
    metadata,
    # People may share a number (a switchboard), so a number is not unique across contacts.
    Column(
        "contact_id",
        Uuid,
        ForeignKey("contacts.contact_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    # What numbers are compared by: E.164 when the number could be read, else as given.
    Column("phone", String(64), primary_key=True),
    Column("position", Integer, nullable=False),
    # The number as given, and whether it could be read as one.
    Column("raw", String(64), nullable=True),
    Column("valid", Boolean, nullable=False, server_default="true"),
    # work, mobile, home, fax, other
    Column("kind", String(16), nullable=False, server_default="work"),
    # False for a number only seen in an email's signature.
    Column("verified", Boolean, nullable=False, server_default="true"),
    Index("ix_contact_phones_phone", "phone"),
)

interactions = Table(
    "interactions",
    metadata,
    Column("interaction_id", Uuid, primary_key=True),
    Column("channel", String(16), nullable=False),
    Column("contact_id", Uuid, ForeignKey("contacts.contact_id"), nullable=False),
    Column("account_id", Uuid, nullable=True),
    Column("first_contact", Boolean, nullable=False),
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("request_type", String(200), nullable=True),
    Column("parameters", JSONB, nullable=False),
    Column("follow_up_of", String(64), nullable=True),
    Column("language", String(16), nullable=True),
    # The web channel's own id of a submission: a redelivered submission is recorded once.
    Column("submission_id", Uuid, nullable=True, unique=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    # A telephone call recorded as an interaction: once per call.
    Column("call_id", String(200), nullable=True, unique=True),
    Column("duration_seconds", Integer, nullable=True),
    Column("agent_id", Uuid, nullable=True),
    Column("attachments", JSONB, nullable=False, server_default="[]"),
    Column("auto_reply", Boolean, nullable=False, server_default="false"),
    Column("message_id", Text, nullable=True),
    Index("ix_interactions_contact_received", "contact_id", "received_at"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    # Keys are the caller's own, so one caller's key never collides with another's.
    Column("owner", String(200), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    # Set in the transaction that claims the key, so other transactions never see it empty.
    Column("response", JSONB, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # Retention finds expired keys by age.
    Index("ix_idempotency_keys_created_at", "created_at"),
)

rate_limit_hits = Table(
    "rate_limit_hits",
    metadata,
    # Requests counted per bucket ("address:…", "channel:…") and fixed window, shared by every
    # replica. The window leads the primary key so that its index also finds old windows to
    # delete, with no second index to keep up on every new row.
    Column("bucket", Text, nullable=False),
    Column("window_start", DateTime(timezone=True), nullable=False),
    Column("hits", Integer, nullable=False),
    PrimaryKeyConstraint("window_start", "bucket"),
)

request_types = Table(
    "request_types",
    metadata,
    # Intake's copy of the cases service's request-type catalogue: per code, the highest
    # version announced on cases.catalogue.v1.
    Column("code", String(100), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("names", JSONB, nullable=False),
    Column("default_priority", String(16), nullable=False),
    # The questions, in order: [{name, type, labels, choices, required, when}].
    Column("parameters", JSONB, nullable=False),
    Column("active", Boolean, nullable=False),
)


case_summaries = Table(
    "case_summaries",
    metadata,
    # Intake's copy of the cases it has seen on cases.case.v1, for the customer's history and
    # the screen-pop: the number, subject, status and what covers the case.
    Column("case_id", Uuid, primary_key=True),
    Column("number", String(64), nullable=False),
    Column("contact_id", Uuid, nullable=True),
    Column("account_id", Uuid, nullable=True),
    Column("channel", String(16), nullable=True),
    Column("subject", Text, nullable=False, server_default=""),
    Column("status", String(32), nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=True),
    Column("resolved_at", DateTime(timezone=True), nullable=True),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Column("entitlement_id", Uuid, nullable=True),
    Column("not_entitled", String(32), nullable=True),
    # When the projection last changed the row, and from which event's moment.
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_case_summaries_contact_opened", "contact_id", "opened_at"),
    Index("ix_case_summaries_account_opened", "account_id", "opened_at"),
)

account_contracts = Table(
    "account_contracts",
    metadata,
    # Intake's copy of the accounts' service contracts from cases.contract.v1, for the
    # screen-pop: status, dates and each line's allotment and remaining.
    Column("contract_id", Uuid, primary_key=True),
    Column("account_id", Uuid, nullable=False, index=True),
    Column("number", String(64), nullable=False),
    Column("name", Text, nullable=False, server_default=""),
    Column("status", String(16), nullable=False),
    Column("starts_on", Date, nullable=True),
    Column("ends_on", Date, nullable=True),
    # [{line_id, number, name, allocation, allotment, remaining}]
    Column("lines", JSONB, nullable=False, server_default="[]"),
    Column("version", Integer, nullable=False, server_default="0"),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

calls = Table(
    "calls",
    metadata,
    # Every telephone call intake has heard of, by the switch's id, whatever order its events
    # came in: who calls, who answered, when it rang, was answered and ended.
    Column("call_id", String(200), primary_key=True),
    Column("caller_number", String(64), nullable=False, server_default=""),
    Column("caller_e164", String(32), nullable=True),
    Column("dialled_number", String(64), nullable=False, server_default=""),
    Column("extension", String(64), nullable=True),
    Column("agent_id", Uuid, nullable=True),
    # Who the number identifies: contact, account, candidates, unknown; null until looked up.
    Column("match", String(16), nullable=True),
    Column("contact_id", Uuid, nullable=True),
    Column("account_id", Uuid, nullable=True),
    Column("candidates", JSONB, nullable=False, server_default="[]"),
    Column("first_contact", Boolean, nullable=False, server_default="false"),
    Column("ringing_at", DateTime(timezone=True), nullable=True),
    Column("answered_at", DateTime(timezone=True), nullable=True),
    Column("ended_at", DateTime(timezone=True), nullable=True),
    Column("missed", Boolean, nullable=False, server_default="false"),
    Column("duration_seconds", Integer, nullable=True),
    Column("timed_out", Boolean, nullable=False, server_default="false"),
    # Set once the call is recorded as an interaction (call.finished published).
    Column("interaction_id", Uuid, nullable=True),
    Column("first_heard_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_calls_open", "interaction_id", "first_heard_at"),
    Index("ix_calls_extension", "extension", "first_heard_at"),
)

extension_agents = Table(
    "extension_agents",
    metadata,
    # Who sits at an extension: the agent whose console last opened its screen-pop stream.
    Column("extension", String(64), primary_key=True),
    Column("agent_id", Uuid, nullable=False),
    Column("bound_at", DateTime(timezone=True), nullable=False),
)

cti_rejected = Table(
    "cti_rejected",
    metadata,
    # Telephony events the webhook could not read, kept for inspection.
    Column("rejected_id", Uuid, primary_key=True),
    Column("received_at", DateTime(timezone=True), nullable=False, index=True),
    Column("source", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("error", Text, nullable=False),
)

# --- the email channel ---------------------------------------------------------------------

mail_messages = Table(
    "mail_messages",
    metadata,
    # Every message the SMTP listener or a mailbox took in, stored (its raw bytes in the row
    # when small, else in the blob store) before anything else is done with it; the row then
    # says what became of it.
    Column("mail_id", Uuid, primary_key=True),
    # "smtp", or "imap:<mailbox>".
    Column("source", String(200), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    # The Message-ID, or the SHA-256 of the raw bytes when it has none: one message, one row.
    Column("dedupe_key", Text, nullable=False, unique=True),
    Column("message_id", Text, nullable=True, index=True),
    Column("raw_sha256", String(64), nullable=False),
    # The raw bytes of a message up to INTAKE_MAIL_INLINE_BYTES; larger ones are in the blob
    # store under raw_sha256.
    Column("raw", LargeBinary, nullable=True),
    Column("size", Integer, nullable=False),
    Column("envelope_from", Text, nullable=True),
    Column("envelope_to", JSONB, nullable=False, server_default="[]"),
    # received (stored, not yet processed), processed, failed (could not be read: listed and
    # reprocessable), refused (a loop from the desk's own address), ignored (noise with
    # nowhere to go: an auto-reply or bounce that matches nothing).
    Column("status", String(16), nullable=False),
    # request, reply, auto_reply, bounce, loop: what the message turned out to be.
    Column("kind", String(16), nullable=True),
    Column("error", Text, nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("processed_at", DateTime(timezone=True), nullable=True),
    Column("from_address", Text, nullable=True),
    Column("from_name", Text, nullable=True),
    Column("subject", Text, nullable=True),
    # What the customer just wrote, and the whole text; the sanitised HTML when there was any.
    Column("new_text", Text, nullable=True),
    Column("text", Text, nullable=True),
    Column("html", Text, nullable=True),
    Column("interaction_id", Uuid, nullable=True, index=True),
    Column("contact_id", Uuid, nullable=True),
    Column("case_id", Uuid, nullable=True, index=True),
    Column("case_number", String(64), nullable=True),
    Index("ix_mail_messages_status", "status", "received_at"),
)

attachments = Table(
    "attachments",
    metadata,
    # A file that came with a request (mail, web form) or that an agent attached; its bytes are
    # in the blob store under their SHA-256.
    Column("attachment_id", Uuid, primary_key=True),
    Column("sha256", String(64), nullable=False, index=True),
    Column("filename", String(255), nullable=False),
    Column("content_type", String(255), nullable=False),
    Column("size", BigInteger, nullable=False),
    # email, web, agent.
    Column("source", String(16), nullable=False),
    Column("inline", Boolean, nullable=False, server_default="false"),
    Column("content_id", Text, nullable=True),
    Column("mail_id", Uuid, nullable=True, index=True),
    Column("interaction_id", Uuid, nullable=True, index=True),
    Column("case_id", Uuid, nullable=True, index=True),
    Column("uploaded_by", Uuid, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

outbound_messages = Table(
    "outbound_messages",
    metadata,
    # Every mail intake sends: a rendered notification, its threading headers and its delivery.
    Column("outbound_id", Uuid, primary_key=True),
    Column("notification_id", Uuid, nullable=True, unique=True),
    Column("template", String(100), nullable=False),
    Column("language", String(16), nullable=False),
    Column("recipient_kind", String(16), nullable=False),
    Column("recipient_id", Uuid, nullable=False),
    Column("address", Text, nullable=False, server_default=""),
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("html", Text, nullable=True),
    Column("message_id", Text, nullable=False, unique=True),
    Column("in_reply_to", Text, nullable=True),
    Column("thread_ids", JSONB, nullable=False, server_default="[]"),
    Column("attachments", JSONB, nullable=False, server_default="[]"),
    Column("case_id", Uuid, nullable=True, index=True),
    Column("case_number", String(64), nullable=True),
    # queued, sent, failed, bounced, suppressed (an acknowledgement over the sender's limit).
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_outbound_messages_due", "status", "next_attempt_at"),
    Index("ix_outbound_messages_address", "address", "template", "created_at"),
)

agents = Table(
    "agents",
    metadata,
    # intake's copy of the agent directory (routing's `routing.agent.v1`): where to mail agents
    # and managers, and in which language.
    Column("agent_id", Uuid, primary_key=True),
    Column("name", Text, nullable=False),
    Column("email", Text, nullable=True),
    Column("language", String(16), nullable=True),
    Column("manager_id", Uuid, nullable=True),
    Column("active", Boolean, nullable=False, server_default="true"),
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
