"""The case report's query: its validation, content negotiation and CSV, without a database."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta, timezone

import pytest

from caseflow_servicekit.negotiation import wants_csv
from cases.app.reports import (
    FIGURES,
    CaseReportQuery,
    CaseReportRow,
    Dimension,
    ReportQueryError,
    parse_dimensions,
)
from cases.domain.errors import CaseValidationError
from cases.entrypoints.reports_http import as_csv

MARCH = datetime(2026, 3, 1, tzinfo=UTC)
APRIL = datetime(2026, 4, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ((), ()),
        (("agent",), (Dimension.AGENT,)),
        (("account,status",), (Dimension.ACCOUNT, Dimension.STATUS)),
        (("request_type", "channel"), (Dimension.REQUEST_TYPE, Dimension.CHANNEL)),
        (
            (" account , status,", "decision"),
            (Dimension.ACCOUNT, Dimension.STATUS, Dimension.DECISION),
        ),
        (("",), ()),
    ],
)
def test_dimensions_come_comma_separated_or_repeated(
    values: tuple[str, ...], expected: tuple[Dimension, ...]
) -> None:
    assert parse_dimensions(values) == expected


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (("priority",), "cannot group by 'priority'"),
        (("account,account",), "names 'account' twice"),
        (("status", "status"), "names 'status' twice"),
    ],
)
def test_unknown_or_repeated_dimensions_are_refused(values: tuple[str, ...], message: str) -> None:
    with pytest.raises(ReportQueryError, match=message):
        parse_dimensions(values)


def test_a_report_query_is_a_validation_error_for_the_http_mapping() -> None:
    assert issubclass(ReportQueryError, CaseValidationError)


def test_a_valid_query() -> None:
    query = CaseReportQuery.of(since=MARCH, until=APRIL, group_by=["account,agent"])
    assert query.group_by == (Dimension.ACCOUNT, Dimension.AGENT)
    assert (query.since, query.until) == (MARCH, APRIL)


@pytest.mark.parametrize(
    ("since", "until", "message"),
    [
        (APRIL, MARCH, "before it starts"),
        (MARCH, MARCH, "before it starts"),
        (MARCH.replace(tzinfo=None), APRIL, "`from` needs a time zone"),
        (MARCH, APRIL.replace(tzinfo=None), "`to` needs a time zone"),
        (
            datetime.min.replace(tzinfo=timezone(timedelta(hours=5))),
            APRIL,
            "`from` is out of range",
        ),
        (
            MARCH,
            datetime.max.replace(tzinfo=timezone(timedelta(hours=-5))),
            "`to` is out of range",
        ),
    ],
)
def test_periods_that_cannot_be_answered_are_refused(
    since: datetime, until: datetime, message: str
) -> None:
    with pytest.raises(ReportQueryError, match=message):
        CaseReportQuery.of(since=since, until=until)


@pytest.mark.parametrize(
    ("accept", "csv_wanted"),
    [
        (None, False),
        ("", False),
        ("*/*", False),
        ("application/json", False),
        ("text/csv", True),
        ("TEXT/CSV; charset=utf-8", True),
        ("application/json, text/csv", True),
        ("application/json;q=1, text/csv;q=0.5", False),
        ("application/json;q=0.5, text/csv", True),
        ("text/csv;q=0", False),
        ("text/csv;q=oops", False),
    ],
)
def test_csv_is_given_when_asked_for_and_preferred(accept: str | None, csv_wanted: bool) -> None:
    assert wants_csv(accept) is csv_wanted


def test_csv_has_a_header_and_a_line_per_group_with_empty_cells_for_null() -> None:
    row = CaseReportRow(
        group={Dimension.ACCOUNT: "a1", Dimension.AGENT: None},
        opened=2,
        resolved=1,
        cancelled=0,
        reopened=0,
        overdue=1,
        median_resolve_seconds=3600.0,
        p90_resolve_seconds=None,
        billable_minutes=30,
        total_minutes=45,
        call_minutes=15,
    )
    text = as_csv((Dimension.ACCOUNT, Dimension.AGENT), [row])
    header, line = list(csv.reader(io.StringIO(text)))
    assert header == ["account", "agent", *FIGURES]
    assert line == ["a1", "", "2", "1", "0", "0", "1", "3600.0", "", "30", "45", "15"]
