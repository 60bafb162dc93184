"""Recording an interaction: its checks, the follow-up it names, its event."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import pytest

from intake.domain.customers import (
    Contact,
)
from intake.domain.errors import SubmissionRejected
from intake.domain.identification import (
    Identification,
)
from intake.domain.interactions import Channel, language_of, record_interaction

NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
SENDER = Identification(
    contact=Contact(
        contact_id=UUID(int=5),
        name="Marta",
        account_id=UUID(int=1),
        emails=("marta@acme.example",),
        phones=(),
        created_at=NOW,
    ),
    first_contact=True,
)


def test_an_interaction_notes_its_sender_follow_up_and_language() -> None:
    interaction, event = record_interaction(
        interaction_id=UUID(int=9),
        channel=Channel.WEB,
        sender=SENDER,
        subject="  Re: CAS-2026-000123 still broken ",
        body="It broke again.",
        now=NOW,
        request_type=" ",
        parameters={"serial": "X1"},
        locale="pl-PL",
    )
    assert interaction.subject == "Re: CAS-2026-000123 still broken"
    assert interaction.follow_up_of == "CAS-2026-000123"
    assert interaction.language == "pl"
    assert interaction.request_type is None
    assert (interaction.contact_id, interaction.account_id) == (UUID(int=5), UUID(int=1))
    assert interaction.first_contact is True
    assert event.interaction_id == interaction.interaction_id
    assert event.follow_up_of == "CAS-2026-000123"
    assert event.occurred_at == NOW
    assert dict(event.parameters) == {"serial": "X1"}


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("pl-PL", "pl"), ("en_US", "en"), ("DE", "de"), ("fil", "fil"), ("x", None), (None, None)],
)
def test_language_of(locale: str | None, expected: str | None) -> None:
    assert language_of(locale) == expected


@pytest.mark.parametrize(
    ("subject", "body", "parameters"),
    [
        ("   ", "body", {}),
        ("x" * 501, "body", {}),
        ("ok", "b" * 100_001, {}),
        ("ok", "nul \x00 here", {}),
        ("ok", "body", {"k": "v\x00"}),
        ("ok", "body", {" ": "v"}),
        ("ok", "body", {f"k{i}": "v" for i in range(51)}),
    ],
)
def test_a_request_breaking_a_rule_is_rejected(
    subject: str, body: str, parameters: dict[str, str]
) -> None:
    with pytest.raises(SubmissionRejected):
        record_interaction(
            interaction_id=UUID(int=9),
            channel=Channel.API,
            sender=SENDER,
            subject=subject,
            body=body,
            now=NOW,
            parameters=parameters,
        )
