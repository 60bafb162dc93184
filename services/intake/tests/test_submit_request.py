"""The submit_request and create_account use cases with fakes: no database, no broker."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self
from uuid import UUID

import pytest

from intake.app.customers import CreateAccount, create_account
from intake.app.handlers import (
    IdempotencyKey,
    ReceiveRequestedInteraction,
    RecordRequestType,
    SubmitRequest,
    receive_requested_interaction,
    record_request_type,
    submit_request,
)
from intake.domain.customer_events import (
    AccountRegistered,
    ContactChanged,
    ContactRegistered,
    CustomerEvent,
)
from intake.domain.customers import (
    Account,
    Contact,
    PhoneKind,
)
from intake.domain.errors import (
    DomainTaken,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    InvalidParameters,
    RequestTypeNotOffered,
    SubmissionRejected,
)
from intake.domain.idempotency import StoredRequest, fingerprint
from intake.domain.identification import (
    Identification,
)
from intake.domain.interactions import Channel, Interaction, InteractionReceived
from intake.domain.request_types import AskedWhen, ParameterDefinition, RequestType

NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
REGION = "DE"


class State:
    """Everything the fakes keep, copied at `async with` and restored unless committed."""

    def __init__(self) -> None:
        self.contacts: dict[UUID, Contact] = {}
        self.accounts: dict[UUID, Account] = {}
        self.interactions: dict[UUID, Interaction] = {}
        self.keys: dict[tuple[str, str], StoredRequest] = {}
        self.request_types: dict[str, RequestType] = {}
        self.published: list[InteractionReceived] = []
        self.customer_events: list[CustomerEvent] = []


class FakeCustomerRepository:
    def __init__(self, uow: FakeIntakeUnitOfWork) -> None:
        self._uow = uow
        self.locked: list[str] = []

    @property
    def _s(self) -> State:
        return self._uow.state

    async def lock_email(self, email: str) -> None:
        self.locked.append(email)

    async def lock_phone(self, phone: str) -> None:
        self.locked.append(phone)

    async def lock_emails(self, emails: Sequence[str]) -> None:
        self.locked.extend(emails)

    async def contact_by_email(self, email: str) -> Contact | None:
        return next((c for c in self._s.contacts.values() if email in c.emails), None)

    async def contacts_by_phone(self, phone: str, *, limit: int) -> list[Contact]:
        return [c for c in self._s.contacts.values() if phone in c.phones][:limit]

    async def account_by_domain(self, domain: str) -> Account | None:
        return next((a for a in self._s.accounts.values() if domain in a.domains), None)

    async def get_contact(self, contact_id: UUID, *, for_update: bool = False) -> Contact | None:
        return self._s.contacts.get(contact_id)

    async def get_account(self, account_id: UUID, *, for_update: bool = False) -> Account | None:
        return self._s.accounts.get(account_id)

    async def save_identification(self, identification: Identification) -> None:
        self._s.contacts[identification.contact.contact_id] = identification.contact

    async def add_account(self, account: Account) -> list[str]:
        claimed = {d for a in self._s.accounts.values() for d in a.domains}
        self._s.accounts[account.account_id] = account
        return [d for d in account.domains if d in claimed]


class FakeInteractionRepository:
    def __init__(self, uow: FakeIntakeUnitOfWork) -> None:
        self._uow = uow

    async def add(self, interaction: Interaction) -> None:
        self._uow.state.interactions[interaction.interaction_id] = interaction

    async def get(self, interaction_id: UUID) -> Interaction | None:
        return self._uow.state.interactions.get(interaction_id)

    async def by_submission(self, submission_id: UUID) -> Interaction | None:
        found = self._uow.state.interactions.values()
        return next((i for i in found if i.submission_id == submission_id), None)


class FakeIdempotencyStore:
    def __init__(self, uow: FakeIntakeUnitOfWork) -> None:
        self._uow = uow

    async def claim(self, *, owner: str, key: str, fingerprint: str, now: datetime) -> bool:
        if (owner, key) in self._uow.state.keys:
            return False
        self._uow.state.keys[owner, key] = StoredRequest(fingerprint=fingerprint, response=None)
        return True

    async def get(self, *, owner: str, key: str) -> StoredRequest | None:
        return self._uow.state.keys.get((owner, key))

    async def complete(self, *, owner: str, key: str, response: Mapping[str, object]) -> None:
        stored = self._uow.state.keys[owner, key]
        self._uow.state.keys[owner, key] = StoredRequest(
            fingerprint=stored.fingerprint, response=dict(response)
        )


class FakeRequestTypeRepository:
    def __init__(self, uow: FakeIntakeUnitOfWork) -> None:
        self._uow = uow

    async def get(self, code: str) -> RequestType | None:
        return self._uow.state.request_types.get(code)

    async def save(self, request_type: RequestType) -> None:
        held = self._uow.state.request_types.get(request_type.code)
        if held is None or held.version < request_type.version:
            self._uow.state.request_types[request_type.code] = request_type


class FakeIntakeUnitOfWork:
    def __init__(self) -> None:
        self.state = State()
        self._saved: State | None = None
        self._pending: list[InteractionReceived] = []
        self._customer_events: list[CustomerEvent] = []
        self.customers = FakeCustomerRepository(self)
        self.interactions = FakeInteractionRepository(self)
        self.idempotency = FakeIdempotencyStore(self)
        self.request_types = FakeRequestTypeRepository(self)
        self.commits = 0

    async def __aenter__(self) -> Self:
        self._saved = copy.deepcopy(self.state)
        self._pending = []
        self._customer_events = []
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._saved is not None:  # not committed: roll back
            self.state = self._saved
        self._saved = None

    def emit(self, event: InteractionReceived) -> None:
        self._pending.append(event)

    def emit_customer(self, event: CustomerEvent) -> None:
        self._customer_events.append(event)

    async def commit(self) -> None:
        self.state.published.extend(self._pending)
        self.state.customer_events.extend(self._customer_events)
        self._pending = []
        self._customer_events = []
        self._saved = None
        self.commits += 1


def ids() -> Iterator[UUID]:
    n = 100
    while True:
        n += 1
        yield UUID(int=n)


@pytest.fixture
def uow() -> FakeIntakeUnitOfWork:
    return FakeIntakeUnitOfWork()


def request(**overrides: Any) -> SubmitRequest:
    values: dict[str, Any] = {
        "channel": Channel.WEB,
        "name": "Marta Kowalska",
        "email": "Marta@Acme.example",
        "phone": "+48 601 234 567",
        "subject": "Invoice charged twice",
        "body": "Please refund.",
        "parameters": {"invoice": "2024-0456"},
        "locale": "pl-PL",
    }
    values.update(overrides)
    return SubmitRequest(**values)


async def test_a_first_request_makes_a_contact_an_interaction_and_one_event(
    uow: FakeIntakeUnitOfWork,
) -> None:
    new_id = ids()
    accepted = await submit_request(
        request(), uow=uow, now=NOW, new_id=lambda: next(new_id), region=REGION
    )
    assert accepted.first_contact is True
    assert accepted.replayed is False
    contact = uow.state.contacts[accepted.contact_id]
    assert contact.emails == ("marta@acme.example",)
    assert contact.phones == ("+48601234567",)
    [event] = uow.state.published
    assert event.interaction_id == accepted.interaction_id
    assert event.contact_id == accepted.contact_id
    assert uow.state.interactions[accepted.interaction_id].language == "pl"
    assert uow.customers.locked == ["marta@acme.example"]


async def test_the_same_address_again_is_the_same_contact(uow: FakeIntakeUnitOfWork) -> None:
    first = await submit_request(request(), uow=uow, now=NOW, region=REGION)
    second = await submit_request(
        request(email=" MARTA@acme.EXAMPLE", subject="Re: CAS-2026-000001"),
        uow=uow,
        now=NOW,
        region=REGION,
    )
    assert second.contact_id == first.contact_id
    assert second.first_contact is False
    assert second.interaction_id != first.interaction_id
    assert len(uow.state.contacts) == 1
    assert [e.follow_up_of for e in uow.state.published] == [None, "CAS-2026-000001"]


async def test_a_first_contact_from_an_accounts_domain_joins_it(uow: FakeIntakeUnitOfWork) -> None:
    account = await create_account(
        CreateAccount(name="Acme", domains=["acme.example"]), uow=uow, now=NOW
    )
    accepted = await submit_request(request(), uow=uow, now=NOW, region=REGION)
    assert accepted.account_id == account.account_id
    assert uow.state.published[0].account_id == account.account_id


async def test_a_key_repeated_with_the_same_payload_replays_the_answer(
    uow: FakeIntakeUnitOfWork,
) -> None:
    key = IdempotencyKey(owner="channel:web", key="k-1")
    first = await submit_request(request(), uow=uow, now=NOW, idempotency=key, region=REGION)
    again = await submit_request(request(), uow=uow, now=NOW, idempotency=key, region=REGION)
    assert again.replayed is True
    assert (again.interaction_id, again.contact_id, again.first_contact) == (
        first.interaction_id,
        first.contact_id,
        True,
    )
    assert len(uow.state.interactions) == 1
    assert len(uow.state.published) == 1


async def test_a_key_is_scoped_to_its_caller(uow: FakeIntakeUnitOfWork) -> None:
    await submit_request(
        request(), uow=uow, now=NOW, idempotency=IdempotencyKey(owner="a", key="k"), region=REGION
    )
    other = await submit_request(
        request(), uow=uow, now=NOW, idempotency=IdempotencyKey(owner="b", key="k"), region=REGION
    )
    assert other.replayed is False
    assert len(uow.state.interactions) == 2


async def test_a_key_reused_for_another_payload_is_refused_and_changes_nothing(
    uow: FakeIntakeUnitOfWork,
) -> None:
    key = IdempotencyKey(owner="channel:web", key="k-1")
    await submit_request(request(), uow=uow, now=NOW, idempotency=key, region=REGION)
    with pytest.raises(IdempotencyKeyReused):
        await submit_request(
            request(body="Something else"), uow=uow, now=NOW, idempotency=key, region=REGION
        )
    assert len(uow.state.interactions) == 1
    assert len(uow.state.published) == 1


async def test_a_key_taken_but_not_answered_is_in_use(uow: FakeIntakeUnitOfWork) -> None:
    key = IdempotencyKey(owner="channel:web", key="k-1")
    # The same payload's key, taken by a request still under way (no answer kept yet).
    uow.state.keys[key.owner, key.key] = StoredRequest(
        fingerprint=fingerprint(request().payload()), response=None
    )
    with pytest.raises(IdempotencyKeyInUse):
        await submit_request(request(), uow=uow, now=NOW, idempotency=key, region=REGION)
    assert uow.state.interactions == {}


async def test_a_rejected_request_stores_nothing_and_frees_its_key(
    uow: FakeIntakeUnitOfWork,
) -> None:
    key = IdempotencyKey(owner="channel:web", key="k-1")
    with pytest.raises(SubmissionRejected):
        await submit_request(
            request(subject="   "), uow=uow, now=NOW, idempotency=key, region=REGION
        )
    assert uow.state.contacts == {}
    assert uow.state.interactions == {}
    assert uow.state.keys == {}
    assert uow.state.published == []
    accepted = await submit_request(request(), uow=uow, now=NOW, idempotency=key, region=REGION)
    assert accepted.replayed is False


async def test_a_web_submission_is_recorded_once(uow: FakeIntakeUnitOfWork) -> None:
    submission_id = UUID(int=42)
    first = await submit_request(
        request(submission_id=submission_id), uow=uow, now=NOW, region=REGION
    )
    again = await submit_request(
        request(submission_id=submission_id), uow=uow, now=NOW, region=REGION
    )
    assert again.replayed is True
    assert again.interaction_id == first.interaction_id
    assert len(uow.state.published) == 1


async def test_a_domain_claimed_twice_is_refused(uow: FakeIntakeUnitOfWork) -> None:
    await create_account(CreateAccount(name="Acme", domains=["acme.example"]), uow=uow, now=NOW)
    with pytest.raises(DomainTaken):
        await create_account(
            CreateAccount(name="Acme 2", domains=["other.example", "ACME.example"]),
            uow=uow,
            now=NOW,
        )
    assert [a.name for a in uow.state.accounts.values()] == ["Acme"]


async def test_a_first_contact_and_what_later_requests_teach_are_announced(
    uow: FakeIntakeUnitOfWork,
) -> None:
    first = await submit_request(request(phone=None), uow=uow, now=NOW, region=REGION)
    [registered] = uow.state.customer_events
    assert isinstance(registered, ContactRegistered)
    assert (registered.contact.contact_id, registered.first_contact) == (first.contact_id, True)
    await submit_request(request(phone="030 1234567"), uow=uow, now=NOW, region=REGION)
    changed = uow.state.customer_events[-1]
    assert isinstance(changed, ContactChanged)
    assert (changed.contact.phones, changed.contact.version) == (("+49301234567",), 2)
    # The same number in another format teaches nothing, and nothing is announced.
    await submit_request(request(phone="+49 (0) 30 1234567"), uow=uow, now=NOW, region=REGION)
    assert len(uow.state.customer_events) == 2


SIGNED = "Hello,\nthe printer jams again.\n\n-- \nMarta Kowalska\nTel. 030 1234567\n"


async def test_numbers_in_an_emails_signature_are_learnt_unverified(
    uow: FakeIntakeUnitOfWork,
) -> None:
    accepted = await submit_request(
        request(channel=Channel.EMAIL, phone=None, body=SIGNED), uow=uow, now=NOW, region=REGION
    )
    [number] = uow.state.contacts[accepted.contact_id].phone_numbers
    assert (number.phone, number.kind, number.verified) == (
        "+49301234567",
        PhoneKind.OTHER,
        False,
    )


async def test_a_web_forms_text_is_not_read_for_numbers(uow: FakeIntakeUnitOfWork) -> None:
    accepted = await submit_request(
        request(channel=Channel.WEB, phone=None, body=SIGNED), uow=uow, now=NOW, region=REGION
    )
    assert uow.state.contacts[accepted.contact_id].phones == ()


async def test_an_account_is_announced(uow: FakeIntakeUnitOfWork) -> None:
    account = await create_account(CreateAccount(name="Acme", tier="Gold"), uow=uow, now=NOW)
    assert uow.state.customer_events == [AccountRegistered(account=account, occurred_at=NOW)]
    assert account.tier == "gold"


REPAIR = RequestType(
    code="repair",
    version=1,
    parameters=(
        ParameterDefinition(name="warranty", type="choice", choices=("yes", "no"), required=True),
        ParameterDefinition(
            name="invoice_date",
            type="date",
            required=True,
            when=AskedWhen(parameter="warranty", equals=("yes",)),
        ),
    ),
)


async def test_the_catalogues_copy_keeps_the_highest_version(uow: FakeIntakeUnitOfWork) -> None:
    v2 = RequestType(code="repair", version=2, active=False)
    assert await record_request_type(RecordRequestType(request_type=v2), uow=uow) is True
    assert await record_request_type(RecordRequestType(request_type=REPAIR), uow=uow) is False
    assert await record_request_type(RecordRequestType(request_type=v2), uow=uow) is False
    assert uow.state.request_types == {"repair": v2}


async def test_a_request_of_an_offered_type_carries_its_answers_normalised(
    uow: FakeIntakeUnitOfWork,
) -> None:
    await record_request_type(RecordRequestType(request_type=REPAIR), uow=uow)
    accepted = await submit_request(
        request(
            request_type=" repair ", parameters={"warranty": "yes ", "invoice_date": "20260115"}
        ),
        uow=uow,
        now=NOW,
        region=REGION,
    )
    [event] = uow.state.published
    expected = {"warranty": "yes", "invoice_date": "2026-01-15"}
    assert (event.request_type, dict(event.parameters)) == ("repair", expected)
    assert uow.state.interactions[accepted.interaction_id].parameters == expected


@pytest.mark.parametrize(
    ("request_type", "parameters", "error"),
    [
        ("repair", {"warranty": "yes"}, InvalidParameters),
        ("repair", {"warranty": "no", "invoice_date": "2026-01-15"}, InvalidParameters),
        ("nothing", {}, RequestTypeNotOffered),
    ],
)
async def test_a_refused_request_type_or_answer_stores_nothing_and_frees_its_key(
    uow: FakeIntakeUnitOfWork,
    request_type: str,
    parameters: dict[str, str],
    error: type[SubmissionRejected],
) -> None:
    await record_request_type(RecordRequestType(request_type=REPAIR), uow=uow)
    key = IdempotencyKey(owner="channel:web", key="k-1")
    with pytest.raises(error):
        await submit_request(
            request(request_type=request_type, parameters=parameters),
            uow=uow,
            now=NOW,
            idempotency=key,
            region=REGION,
        )
    assert (uow.state.contacts, uow.state.interactions, uow.state.keys) == ({}, {}, {})
    assert uow.state.published == []


async def test_a_repeat_is_answered_as_the_first_even_once_its_type_is_withdrawn(
    uow: FakeIntakeUnitOfWork,
) -> None:
    await record_request_type(RecordRequestType(request_type=REPAIR), uow=uow)
    key = IdempotencyKey(owner="channel:web", key="k-1")
    submitted = request(request_type="repair", parameters={"warranty": "no"})
    first = await submit_request(submitted, uow=uow, now=NOW, idempotency=key, region=REGION)
    withdrawn = RequestType(code="repair", version=2, active=False)
    await record_request_type(RecordRequestType(request_type=withdrawn), uow=uow)
    again = await submit_request(submitted, uow=uow, now=NOW, idempotency=key, region=REGION)
    assert (again.replayed, again.interaction_id) == (True, first.interaction_id)
    with pytest.raises(RequestTypeNotOffered):
        await submit_request(submitted, uow=uow, now=NOW, region=REGION)


async def test_a_request_left_unchecked_keeps_its_parameters_free(
    uow: FakeIntakeUnitOfWork,
) -> None:
    await submit_request(
        request(request_type="nothing", parameters={"anything": " goes "}),
        uow=uow,
        now=NOW,
        check_request_type=False,
        region=REGION,
    )
    await submit_request(request(parameters={"free": "x"}), uow=uow, now=NOW, region=REGION)
    assert [dict(e.parameters) for e in uow.state.published] == [
        {"anything": " goes "},
        {"free": "x"},
    ]


async def test_a_channel_an_agent_named_is_part_of_the_keyed_payload() -> None:
    assert "channel" not in request(channel=Channel.WEB).payload()
    assert "channel" not in request(channel=Channel.API).payload()
    assert request(channel=Channel.PHONE).payload()["channel"] == "phone"


# -- a request an agent took from a customer not on file -------------------------------------

REQUESTED = UUID(int=7777)
AGENT = UUID(int=300)
ACME = Account(account_id=UUID(int=50), name="Acme", domains=("acme.example",), created_at=NOW)


def requested(**overrides: Any) -> ReceiveRequestedInteraction:
    values: dict[str, Any] = {
        "interaction_id": REQUESTED,
        "channel": Channel.PHONE,
        "name": "Jan Novák",
        "email": "Jan.Novak@Acme.example",
        "phone": "+420 601 123 456",
        "subject": "Washing machine leaks",
        "body": "Water under the machine.",
        "request_type": None,
        "parameters": {},
        "language": "cs",
        "requested_by": AGENT,
    }
    values.update(overrides)
    return ReceiveRequestedInteraction(**values)


async def test_an_agents_request_files_a_new_customer_under_the_given_interaction(
    uow: FakeIntakeUnitOfWork,
) -> None:
    uow.state.accounts[ACME.account_id] = ACME
    new_id = ids()
    accepted = await receive_requested_interaction(
        requested(), uow=uow, now=NOW, new_id=lambda: next(new_id), region=REGION
    )
    assert (accepted.interaction_id, accepted.first_contact) == (REQUESTED, True)
    assert accepted.account_id == ACME.account_id
    [contact] = uow.state.contacts.values()
    assert (contact.contact_id, contact.emails, contact.phones) == (
        accepted.contact_id,
        ("jan.novak@acme.example",),
        ("+420601123456",),
    )
    [event] = uow.state.published
    assert (event.interaction_id, event.channel, event.first_contact, event.language) == (
        REQUESTED,
        Channel.PHONE,
        True,
        "cs",
    )
    assert uow.state.interactions[REQUESTED].contact_id == contact.contact_id


async def test_an_agents_request_finds_the_customer_by_email_then_by_phone(
    uow: FakeIntakeUnitOfWork,
) -> None:
    by_mail = Contact(
        contact_id=UUID(int=1),
        name="Jan",
        account_id=None,
        emails=("jan@example.cz",),
        phones=(),
        created_at=NOW,
    )
    by_phone = Contact(
        contact_id=UUID(int=2),
        name="Eva",
        account_id=None,
        emails=(),
        phones=("+420601123456",),
        created_at=NOW,
    )
    uow.state.contacts = {by_mail.contact_id: by_mail, by_phone.contact_id: by_phone}
    first = await receive_requested_interaction(
        requested(email="JAN@example.cz", phone="+420 777"), uow=uow, now=NOW, region=REGION
    )
    assert (first.contact_id, first.first_contact) == (by_mail.contact_id, False)
    assert uow.state.contacts[by_mail.contact_id].phones == ("+420 777",)  # learnt, as given
    second = await receive_requested_interaction(
        requested(interaction_id=UUID(int=7778), email=None, phone="+420 601 123 456"),
        uow=uow,
        now=NOW,
        region=REGION,
    )
    assert (second.contact_id, second.first_contact) == (by_phone.contact_id, False)
    assert uow.customers.locked[-1] == "+420601123456"  # no address: the number is held
    assert len(uow.state.contacts) == 2


async def test_an_agents_request_delivered_again_changes_nothing(
    uow: FakeIntakeUnitOfWork,
) -> None:
    first = await receive_requested_interaction(requested(), uow=uow, now=NOW, region=REGION)
    again = await receive_requested_interaction(
        requested(name="Someone Else", email="other@example.org"), uow=uow, now=NOW, region=REGION
    )
    assert (again.interaction_id, again.contact_id, again.replayed) == (
        first.interaction_id,
        first.contact_id,
        True,
    )
    assert (len(uow.state.contacts), len(uow.state.published)) == (1, 1)


async def test_an_agents_answers_are_normalised_when_intake_knows_the_type(
    uow: FakeIntakeUnitOfWork,
) -> None:
    uow.state.request_types["repair"] = REPAIR
    accepted = await receive_requested_interaction(
        requested(
            request_type="repair", parameters={"warranty": "yes ", "invoice_date": "20260115"}
        ),
        uow=uow,
        now=NOW,
        region=REGION,
    )
    assert uow.state.interactions[accepted.interaction_id].parameters == {
        "warranty": "yes",
        "invoice_date": "2026-01-15",
    }


@pytest.mark.parametrize(
    ("held", "code", "answers"),
    [
        (None, "repair", {"anything": "goes"}),  # not in intake's copy (yet)
        ("repair", "repair", {"warranty": "perhaps"}),  # the copy disagrees
        ("withdrawn", "repair", {"warranty": "no"}),  # withdrawn since the agent took it
    ],
)
async def test_an_agents_request_is_never_dropped_for_intakes_copy_of_the_catalogue(
    uow: FakeIntakeUnitOfWork, held: str | None, code: str, answers: dict[str, str]
) -> None:
    if held == "repair":
        uow.state.request_types["repair"] = REPAIR
    elif held == "withdrawn":
        uow.state.request_types["repair"] = replace(REPAIR, version=2, active=False)
    accepted = await receive_requested_interaction(
        requested(request_type=code, parameters=answers), uow=uow, now=NOW, region=REGION
    )
    [event] = uow.state.published
    assert (event.request_type, dict(event.parameters)) == (code, answers)
    assert uow.state.interactions[accepted.interaction_id].parameters == answers
