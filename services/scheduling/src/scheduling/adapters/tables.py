"""The scheduling service's tables (plus the kit's outbox and inbox).

`booking_resources` holds one row per resource a booking takes, with the booking's period as
a `tstzrange`. Its exclusion constraint is the last line of defence against double booking:
whatever the application checked, two active rows of one resource can never overlap, even
when two requests race.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import TSTZRANGE, ExcludeConstraint

from caseflow_servicekit import new_metadata

metadata = new_metadata()

resources = Table(
    "resources",
    metadata,
    Column("resource_id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("capacity", Integer, nullable=False, server_default="1"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("capacity = 1", name="single_capacity"),
)

bookings = Table(
    "bookings",
    metadata,
    Column("booking_id", Uuid, primary_key=True),
    Column("service_id", Uuid, nullable=False),
    Column("case_id", Uuid, nullable=True, index=True),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("ends_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),
    Column("cancellation_reason", Text, nullable=True),
    Column("booked_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("ends_at > starts_at", name="ends_after_start"),
)

booking_resources = Table(
    "booking_resources",
    metadata,
    Column(
        "booking_id",
        Uuid,
        ForeignKey("bookings.booking_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("resource_id", Uuid, ForeignKey("resources.resource_id"), primary_key=True),
    # Where the resource stands in the booking's list, so it reads back in the order booked.
    Column("position", SmallInteger, nullable=False),
    Column("period", TSTZRANGE, nullable=False),
    Column("active", Boolean, nullable=False),
    ExcludeConstraint(
        ("resource_id", "="),
        ("period", "&&"),
        using="gist",
        where=text("active"),
        name="booking_resources_no_overlap",
    ),
)
