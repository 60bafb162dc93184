"""The case report: what was opened, resolved, cancelled and reopened in a period, by group.

The figures of one row, over the cases of its group:

- `opened`: cases opened in the period (`opened_at`);
- `resolved`: cases whose last resolution falls in the period (`resolved_at`);
- `cancelled`: cases cancelled in the period (`closed_at` in it, and cancelled still);
- `reopened`: cases last reopened in the period (`reopened_at`);
- `overdue`: of the cases opened in the period, those overdue now (see
  `CaseProjection.overdue`);
- `median_resolve_seconds`, `p90_resolve_seconds`: the median and 90th percentile
  (interpolated, `percentile_cont`) of `resolved_at - opened_at` over the cases resolved in
  the period; null when none was;
- `billable_minutes`, `total_minutes`, `call_minutes`: the time logged on the cases resolved
  in the period, all of it (what a case was resolved with is what it cost).

Periods are half-open, `[from, to)`. A case belongs to one group: its values when the report
runs (a case opened in the period and resolved after it counts as opened, in the group of
its status now). The dimensions:

- `account`, `contact`, `channel`, `request_type`, `status`: the case's own;
- `agent`: the assignee routing last gave the case (kept after it leaves its queue);
- `resolution`: the resolution code the case was last resolved with;
- `decision`: the code of the latest decision recorded on the case (by `recorded_at`), or,
  for a case with no recorded decision, its resolution code.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from types import TracebackType
from typing import NamedTuple, Protocol, Self
from uuid import UUID

from cases.domain.errors import CaseValidationError
from cases.domain.values import CaseStatus, Channel


class ReportQueryError(CaseValidationError):
    """A report asked for with a period or grouping that cannot be answered."""


class Dimension(StrEnum):
    """What the rows of a case report can be grouped by."""

    ACCOUNT = "account"
    CONTACT = "contact"
    AGENT = "agent"
    STATUS = "status"
    REQUEST_TYPE = "request_type"
    CHANNEL = "channel"
    RESOLUTION = "resolution"
    DECISION = "decision"


@dataclass(frozen=True, kw_only=True)
class CaseReportFilters:
    """Which cases a report counts; None means any."""

    channel: Channel | None = None
    request_type: str | None = None
    status: CaseStatus | None = None
    account_id: UUID | None = None
    contact_id: UUID | None = None
    agent_id: UUID | None = None
    resolution: str | None = None


@dataclass(frozen=True, kw_only=True)
class CaseReportQuery:
    """A case report asked for: the period `[since, until)`, the grouping and the filters."""

    since: datetime
    until: datetime
    group_by: tuple[Dimension, ...] = ()
    filters: CaseReportFilters = CaseReportFilters()

    @classmethod
    def of(
        cls,
        *,
        since: datetime,
        until: datetime,
        group_by: Iterable[str] = (),
        filters: CaseReportFilters | None = None,
    ) -> CaseReportQuery:
        """The query, checked: `group_by` items may be comma-separated lists of dimensions."""
        for name, value in (("from", since), ("to", until)):
            if value.tzinfo is None or value.utcoffset() is None:
                raise ReportQueryError(f"`{name}` needs a time zone offset")
            try:
                value.astimezone(UTC)
            except OverflowError:
                raise ReportQueryError(f"`{name}` is out of range once in UTC") from None
        if until <= since:
            raise ReportQueryError(f"the period ends (`to` {until}) before it starts ({since})")
        return cls(
            since=since,
            until=until,
            group_by=parse_dimensions(group_by),
            filters=filters or CaseReportFilters(),
        )


def parse_dimensions(values: Iterable[str]) -> tuple[Dimension, ...]:
    """The dimensions named in `values` (each a name or a comma-separated list), in order.

    Repeating a dimension is refused, as is one not known.
    """
    names = [part.strip() for value in values for part in value.split(",")]
    dimensions: list[Dimension] = []
    for name in names:
        if not name:
            continue
        try:
            dimension = Dimension(name)
        except ValueError:
            known = ", ".join(d.value for d in Dimension)
            raise ReportQueryError(
                f"cannot group by {name[:40]!r}; the dimensions are {known}"
            ) from None
        if dimension in dimensions:
            raise ReportQueryError(f"`group_by` names {name!r} twice")
        dimensions.append(dimension)
    return tuple(dimensions)


class CaseReportRow(NamedTuple):
    """One group of a case report: its values by dimension, and its figures.

    A named tuple rather than a dataclass: a report may have tens of thousands of groups,
    and a tuple is built several times faster.
    """

    group: dict[Dimension, str | None]
    opened: int
    resolved: int
    cancelled: int
    reopened: int
    overdue: int
    median_resolve_seconds: float | None
    p90_resolve_seconds: float | None
    billable_minutes: int
    total_minutes: int
    call_minutes: int


FIGURES: tuple[str, ...] = CaseReportRow._fields[1:]
"""The figures of a report row, in the order a CSV gives them."""


class CaseReports(Protocol):
    """Where case reports are computed."""

    async def cases(self, query: CaseReportQuery) -> Sequence[CaseReportRow]: ...


class ReportsUnitOfWork(Protocol):
    """A transaction to read reports in."""

    @property
    def reports(self) -> CaseReports: ...

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


async def case_report(query: CaseReportQuery, *, uow: ReportsUnitOfWork) -> list[CaseReportRow]:
    """The rows of a case report, ordered by their group's values."""
    async with uow:
        return list(await uow.reports.cases(query))
