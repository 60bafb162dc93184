"""Intake's copy of the request-type catalogue: which version it keeps, the form it makes of an
entry, a submission's answers checked against it, and the channel a submission names."""

from __future__ import annotations

import pytest

import caseflow_contracts as c
from caseflow_forms import Condition, Form, FormError, Parameter, ParameterType
from intake.domain.errors import ChannelNotAllowed, InvalidParameters, RequestTypeNotOffered
from intake.domain.interactions import Channel, submission_channel
from intake.domain.request_types import (
    AskedWhen,
    ParameterDefinition,
    RequestType,
    checked_parameters,
    form_of,
    supersedes,
)
from intake.entrypoints.consumers import request_type_of

WARRANTY = ParameterDefinition(
    name="warranty",
    type="choice",
    labels={"en": "Is the device under warranty?"},
    choices=("yes", "no"),
    required=True,
)
INVOICE_DATE = ParameterDefinition(
    name="invoice_date",
    type="date",
    required=True,
    when=AskedWhen(parameter="warranty", equals=("yes",)),
)
BACKUP = ParameterDefinition(name="backup", type="boolean")
REPAIR = RequestType(
    code="repair",
    version=3,
    names={"en": "Repair"},
    parameters=(WARRANTY, INVOICE_DATE, BACKUP),
)


def version(n: int, *, active: bool = True) -> RequestType:
    return RequestType(code="repair", version=n, active=active)


@pytest.mark.parametrize(
    ("incoming", "held", "kept"),
    [
        (version(1), None, True),
        (version(2), version(1), True),
        (version(1), version(2), False),
        (version(2), version(2), False),
        (version(3, active=False), version(2), True),
    ],
    ids=["first-seen", "later", "late-arrival", "redelivered", "deactivated-later"],
)
def test_the_copy_keeps_the_highest_version(
    incoming: RequestType, held: RequestType | None, kept: bool
) -> None:
    assert supersedes(incoming, held) is kept


def test_any_order_of_announcements_leaves_the_highest_version() -> None:
    held: RequestType | None = None
    for incoming in (version(2), version(4, active=False), version(1), version(4), version(3)):
        if supersedes(incoming, held):
            held = incoming
    assert held == version(4, active=False)


def test_an_entry_becomes_the_form_of_the_shared_rules() -> None:
    assert form_of(REPAIR) == Form(
        (
            Parameter(
                name="warranty",
                type=ParameterType.CHOICE,
                labels={"en": "Is the device under warranty?"},
                choices=("yes", "no"),
                required=True,
            ),
            Parameter(
                name="invoice_date",
                type=ParameterType.DATE,
                required=True,
                when=Condition("warranty", frozenset({"yes"})),
            ),
            Parameter(name="backup", type=ParameterType.BOOLEAN),
        )
    )
    assert form_of(RequestType(code="empty", version=1)) == Form(())


@pytest.mark.parametrize(
    "parameters",
    [
        (ParameterDefinition(name="colour", type="colour"),),
        (ParameterDefinition(name="pick", type="choice"),),
        (INVOICE_DATE, WARRANTY),
        (BACKUP, BACKUP),
    ],
    ids=["unknown-type", "choice-without-choices", "condition-on-a-later-one", "duplicate"],
)
def test_an_entry_the_rules_cannot_ask_is_a_form_error(
    parameters: tuple[ParameterDefinition, ...],
) -> None:
    with pytest.raises(FormError):
        form_of(RequestType(code="broken", version=1, parameters=parameters))


def test_the_catalogues_announcement_is_kept_whole() -> None:
    event = c.sample("catalogue.request_type_defined")
    assert isinstance(event, c.CatalogueRequestTypeDefined)
    kept = request_type_of(event)
    assert (kept.code, kept.version, kept.active, kept.default_priority) == (
        "repair",
        3,
        True,
        "normal",
    )
    assert kept.names == {"en": "Repair", "de": "Reparatur"}
    assert [p.name for p in kept.parameters] == ["warranty", "invoice_date", "serial_number"]
    assert kept.parameters[0].type == "choice" and kept.parameters[0].choices == ("yes", "no")
    assert kept.parameters[1].when == AskedWhen(parameter="warranty", equals=("yes",))
    # Every type the contract knows is one the shared form rules know.
    assert {t.value for t in c.ParameterType} <= {t.value for t in ParameterType}
    form_of(kept)


def test_answers_that_fit_come_back_normalised() -> None:
    answers = {"warranty": " yes ", "invoice_date": "20260115", "backup": "Yes"}
    assert checked_parameters("repair", REPAIR, answers) == {
        "warranty": "yes",
        "invoice_date": "2026-01-15",
        "backup": "true",
    }


@pytest.mark.parametrize(
    ("answers", "problems"),
    [
        ({}, {"warranty"}),
        ({"warranty": "yes"}, {"invoice_date"}),
        ({"warranty": "yes", "invoice_date": "15/01/2026"}, {"invoice_date"}),
        ({"warranty": "no", "invoice_date": "2026-01-15"}, {"invoice_date"}),
        ({"warranty": "no", "colour": "red"}, {"colour"}),
        (
            {"warranty": "maybe", "backup": "perhaps", "colour": "red"},
            {"warranty", "backup", "colour"},
        ),
    ],
    ids=["missing", "missing-when-asked", "malformed", "not-asked", "unknown", "several"],
)
def test_answers_that_do_not_fit_name_each_parameter(
    answers: dict[str, str], problems: set[str]
) -> None:
    with pytest.raises(InvalidParameters) as raised:
        checked_parameters("repair", REPAIR, answers)
    assert set(raised.value.parameters) == problems
    assert set(raised.value.problems) == {("parameters", name) for name in problems}


def test_a_type_the_catalogue_does_not_offer_is_refused() -> None:
    with pytest.raises(RequestTypeNotOffered) as unknown:
        checked_parameters("nothing", None, {})
    assert set(unknown.value.problems) == {("request_type",)}
    with pytest.raises(RequestTypeNotOffered, match="no longer offered"):
        checked_parameters("repair", version(5, active=False), {})
    broken = RequestType(code="broken", version=1, parameters=(BACKUP, BACKUP))
    with pytest.raises(RequestTypeNotOffered, match="cannot be asked"):
        checked_parameters("broken", broken, {})


@pytest.mark.parametrize(
    ("by_channel_key", "named", "expected"),
    [
        (True, None, Channel.WEB),
        (False, None, Channel.API),
        (False, Channel.PHONE, Channel.PHONE),
        (False, Channel.LETTER, Channel.LETTER),
        (False, Channel.VISIT, Channel.VISIT),
        (False, Channel.EMAIL, Channel.EMAIL),
        (False, Channel.API, Channel.API),
    ],
)
def test_the_channel_a_submission_came_by(
    by_channel_key: bool, named: Channel | None, expected: Channel
) -> None:
    assert submission_channel(by_channel_key=by_channel_key, named=named) is expected


@pytest.mark.parametrize(
    ("by_channel_key", "named"),
    [(True, Channel.PHONE), (True, Channel.WEB), (False, Channel.WEB)],
)
def test_a_channel_the_caller_may_not_name_is_refused(by_channel_key: bool, named: Channel) -> None:
    with pytest.raises(ChannelNotAllowed) as refused:
        submission_channel(by_channel_key=by_channel_key, named=named)
    assert set(refused.value.problems) == {("channel",)}
