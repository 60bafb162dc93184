"""The intake service's tables (plus the kit's outbox and inbox)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
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
    Column("phone", String(64), primary_key=True),
    Column("position", Integer, nullable=False),
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
