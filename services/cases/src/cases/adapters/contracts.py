"""Contracts in PostgreSQL: templates, contracts with their lines, and the lines' ledger.

A line's used amount is always the sum of its ledger entries, read in the transaction that
needs it. A drawdown first locks the line's row (`line_for_update`), so two transactions
drawing on one line take turns, and the second sees what the first wrote.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import delete, func, insert, select, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cases.adapters.tables import (
    contract_ledger,
    contract_lines,
    contract_number_seq,
    contract_templates,
    contracts,
)
from cases.domain.contracts import (
    Allocation,
    Balance,
    Contract,
    ContractLine,
    ContractStatus,
    ContractTemplate,
    EntryKind,
    LedgerEntry,
    LineInForce,
)
from cases.domain.values import Channel


class SqlContracts:
    """Reads and writes contracts, their lines and ledger."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def next_sequence(self) -> int:
        """The next contract number's sequence."""
        return int(await self._session.scalar(select(contract_number_seq.next_value())) or 0)

    async def get(self, contract_id: UUID, *, for_update: bool = False) -> Contract | None:
        """The contract with its lines, locked for a change when asked."""
        stmt = select(contracts).where(contracts.c.contract_id == contract_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = (await self._session.execute(stmt)).mappings().first()
        if row is None:
            return None
        return (await self._with_lines([row]))[0]

    async def search(
        self,
        *,
        account_id: UUID | None = None,
        status: ContractStatus | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[Contract], int]:
        """Contracts by number, filtered; and how many match."""
        conditions = []
        if account_id is not None:
            conditions.append(contracts.c.account_id == account_id)
        if status is not None:
            conditions.append(contracts.c.status == status.value)
        rows = (
            (
                await self._session.execute(
                    select(contracts)
                    .where(*conditions)
                    .order_by(contracts.c.number)
                    .limit(limit)
                    .offset(offset)
                )
            )
            .mappings()
            .all()
        )
        total = await self._session.scalar(
            select(func.count()).select_from(contracts).where(*conditions)
        )
        return await self._with_lines(rows), int(total or 0)

    async def add(self, contract: Contract) -> None:
        """Insert a new contract and its lines."""
        await self._session.execute(
            insert(contracts).values(
                **_contract_row(contract),
                contract_id=contract.contract_id,
                number=contract.number,
                account_id=contract.account_id,
                version=contract.version,
                created_at=func.now(),
            )
        )
        await self._save_lines(contract)

    async def save(self, contract: Contract) -> None:
        """Write a loaded contract and its lines back, one version up."""
        version = await self._session.scalar(
            update(contracts)
            .where(contracts.c.contract_id == contract.contract_id)
            .values(**_contract_row(contract), version=contracts.c.version + 1)
            .returning(contracts.c.version)
        )
        if version is not None:
            contract.version = int(version)
        await self._save_lines(contract)

    async def lines_of_account(self, account_id: UUID) -> list[LineInForce]:
        """Every line of the account's contracts, except drafts and cancelled ones, with its
        remaining: what decides which covers a new case."""
        rows = (
            (
                await self._session.execute(
                    select(contracts).where(
                        contracts.c.account_id == account_id,
                        contracts.c.status.notin_(
                            [ContractStatus.DRAFT.value, ContractStatus.CANCELLED.value]
                        ),
                    )
                )
            )
            .mappings()
            .all()
        )
        held = await self._with_lines(rows)
        used = await self.used([line.line_id for contract in held for line in contract.lines])
        return [
            LineInForce(
                contract=contract,
                line=line,
                remaining=line.allotment - used.get(line.line_id, 0),
            )
            for contract in held
            for line in contract.lines
        ]

    async def line_for_update(self, line_id: UUID) -> tuple[Contract, ContractLine] | None:
        """The line and its contract, the line's row locked until the transaction ends."""
        contract_id = await self._session.scalar(
            select(contract_lines.c.contract_id)
            .where(contract_lines.c.line_id == line_id)
            .with_for_update()
        )
        if contract_id is None:
            return None
        contract = await self.get(contract_id)
        if contract is None:
            return None
        return contract, contract.line(line_id)

    async def used(self, line_ids: Sequence[UUID]) -> dict[UUID, int]:
        """The sum of the ledger of each line."""
        if not line_ids:
            return {}
        rows = await self._session.execute(
            select(contract_ledger.c.line_id, func.sum(contract_ledger.c.amount))
            .where(contract_ledger.c.line_id.in_(line_ids))
            .group_by(contract_ledger.c.line_id)
        )
        return {line_id: int(total or 0) for line_id, total in rows.all()}

    async def balances(self, *held: Contract) -> dict[UUID, Balance]:
        """Each line's allotment, used and remaining, for all the contracts in one query."""
        lines = [line for contract in held for line in contract.lines]
        used = await self.used([line.line_id for line in lines])
        return {
            line.line_id: Balance(allotment=line.allotment, used=used.get(line.line_id, 0))
            for line in lines
        }

    async def drawn_on(self, line_id: UUID) -> bool:
        """Whether the line has ledger entries."""
        found = await self._session.scalar(
            select(contract_ledger.c.entry_id).where(contract_ledger.c.line_id == line_id).limit(1)
        )
        return found is not None

    async def net_of_case(self, case_id: UUID) -> list[tuple[UUID, int, int]]:
        """What the case has drawn and not given back, per line: (line, amount, overage)."""
        rows = await self._session.execute(
            select(
                contract_ledger.c.line_id,
                func.sum(contract_ledger.c.amount),
                func.sum(contract_ledger.c.overage),
            )
            .where(contract_ledger.c.case_id == case_id)
            .group_by(contract_ledger.c.line_id)
            .order_by(contract_ledger.c.line_id)
        )
        return [
            (line_id, int(amount or 0), int(overage or 0))
            for line_id, amount, overage in rows.all()
            if amount or overage
        ]

    async def record(self, entry: LedgerEntry) -> None:
        """Add a ledger entry."""
        await self._session.execute(
            insert(contract_ledger).values(
                entry_id=entry.entry_id,
                line_id=entry.line_id,
                contract_id=entry.contract_id,
                case_id=entry.case_id,
                kind=entry.kind.value,
                amount=entry.amount,
                overage=entry.overage,
                by=entry.by,
                reason=entry.reason,
                at=entry.at,
            )
        )

    async def ledger(
        self, contract_id: UUID, *, line_id: UUID | None = None, limit: int = 200, offset: int = 0
    ) -> tuple[list[LedgerEntry], int]:
        """The contract's ledger (or one line's), oldest first; and how many entries."""
        conditions = [contract_ledger.c.contract_id == contract_id]
        if line_id is not None:
            conditions.append(contract_ledger.c.line_id == line_id)
        rows = (
            await self._session.execute(
                select(contract_ledger)
                .where(*conditions)
                .order_by(contract_ledger.c.at, contract_ledger.c.entry_id)
                .limit(limit)
                .offset(offset)
            )
        ).mappings()
        total = await self._session.scalar(
            select(func.count()).select_from(contract_ledger).where(*conditions)
        )
        return [_entry(row) for row in rows], int(total or 0)

    async def due_for_upkeep(self, today: date, *, notice_days: int, limit: int) -> list[Contract]:
        """Contracts in force that have ended, or end within the notice period and whose
        owner was not told yet; locked, skipping those another replica holds."""
        in_force = [ContractStatus.ACTIVE.value, ContractStatus.ON_HOLD.value]
        ending = today + timedelta(days=notice_days)
        rows = (
            (
                await self._session.execute(
                    select(contracts)
                    .where(
                        contracts.c.status.in_(in_force),
                        (contracts.c.ends_on < today)
                        | (
                            (contracts.c.ends_on <= ending)
                            & contracts.c.ending_warned_on.is_(None)
                            & contracts.c.renewed_to.is_(None)
                        ),
                    )
                    .order_by(contracts.c.ends_on, contracts.c.contract_id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            )
            .mappings()
            .all()
        )
        return await self._with_lines(rows)

    async def template(
        self, template_id: UUID, *, for_update: bool = False
    ) -> ContractTemplate | None:
        """The template of that id."""
        stmt = select(contract_templates).where(contract_templates.c.template_id == template_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = (await self._session.execute(stmt)).mappings().first()
        return None if row is None else _template(row)

    async def templates(self, *, include_inactive: bool = False) -> list[ContractTemplate]:
        """The templates by name."""
        stmt = select(contract_templates).order_by(contract_templates.c.name)
        if not include_inactive:
            stmt = stmt.where(contract_templates.c.active.is_(True))
        return [_template(row) for row in (await self._session.execute(stmt)).mappings()]

    async def add_template(self, template: ContractTemplate) -> bool:
        """Insert a template; False when its name is taken."""
        added = await self._session.scalar(
            pg_insert(contract_templates)
            .values(template_id=template.template_id, **_template_row(template))
            .on_conflict_do_nothing()
            .returning(contract_templates.c.template_id)
        )
        return added is not None

    async def save_template(self, template: ContractTemplate) -> None:
        """Write a template back, one version up."""
        version = await self._session.scalar(
            update(contract_templates)
            .where(contract_templates.c.template_id == template.template_id)
            .values(**_template_row(template), version=contract_templates.c.version + 1)
            .returning(contract_templates.c.version)
        )
        if version is not None:
            template.version = int(version)

    async def _with_lines(self, rows: Iterable[Any]) -> list[Contract]:
        rows = list(rows)
        ids = [row["contract_id"] for row in rows]
        lines: dict[UUID, list[ContractLine]] = {contract_id: [] for contract_id in ids}
        if ids:
            for line_row in (
                await self._session.execute(
                    select(contract_lines)
                    .where(contract_lines.c.contract_id.in_(ids))
                    .order_by(contract_lines.c.contract_id, contract_lines.c.number)
                )
            ).mappings():
                lines[line_row["contract_id"]].append(_line(line_row))
        return [_contract(row, lines[row["contract_id"]]) for row in rows]

    async def _save_lines(self, contract: Contract) -> None:
        kept = [line.line_id for line in contract.lines]
        await self._session.execute(
            delete(contract_lines).where(
                contract_lines.c.contract_id == contract.contract_id,
                contract_lines.c.line_id.notin_(kept) if kept else true(),
            )
        )
        for line in contract.lines:
            values = _line_row(line)
            await self._session.execute(
                pg_insert(contract_lines)
                .values(line_id=line.line_id, contract_id=contract.contract_id, **values)
                .on_conflict_do_update(index_elements=[contract_lines.c.line_id], set_=values)
            )


def _contract_row(contract: Contract) -> dict[str, Any]:
    return {
        "name": contract.name,
        "status": contract.status.value,
        "starts_on": contract.starts_on,
        "ends_on": contract.ends_on,
        "contacts": sorted(str(contact) for contact in contract.contacts),
        "owner_id": contract.owner_id,
        "template_id": contract.template_id,
        "sla_policy_id": contract.sla_policy_id,
        "calendar_id": contract.calendar_id,
        "origin_case_id": contract.origin_case_id,
        "renewed_from": contract.renewed_from,
        "renewed_to": contract.renewed_to,
        "hold_reason": contract.hold_reason,
        "cancel_reason": contract.cancel_reason,
        "ending_warned_on": contract.ending_warned_on,
        "updated_at": func.now(),
    }


def _contract(row: Any, lines: list[ContractLine]) -> Contract:
    return Contract(
        contract_id=row["contract_id"],
        number=row["number"],
        account_id=row["account_id"],
        name=row["name"],
        status=ContractStatus(row["status"]),
        starts_on=row["starts_on"],
        ends_on=row["ends_on"],
        contacts=frozenset(UUID(contact) for contact in row["contacts"]),
        owner_id=row["owner_id"],
        template_id=row["template_id"],
        sla_policy_id=row["sla_policy_id"],
        calendar_id=row["calendar_id"],
        origin_case_id=row["origin_case_id"],
        renewed_from=row["renewed_from"],
        renewed_to=row["renewed_to"],
        hold_reason=row["hold_reason"],
        cancel_reason=row["cancel_reason"],
        ending_warned_on=row["ending_warned_on"],
        lines=lines,
        version=row["version"],
    )


def _line_row(line: ContractLine) -> dict[str, Any]:
    return {
        "number": line.number,
        "name": line.name,
        "allocation": line.allocation.value,
        "allotment": line.allotment,
        "starts_on": line.starts_on,
        "ends_on": line.ends_on,
        "channels": sorted(channel.value for channel in line.channels),
        "request_types": sorted(line.request_types),
        "allow_overdraft": line.allow_overdraft,
        "warn_below_percent": line.warn_below_percent,
    }


def _line(row: Any) -> ContractLine:
    return ContractLine(
        line_id=row["line_id"],
        number=row["number"],
        name=row["name"],
        allocation=Allocation(row["allocation"]),
        allotment=row["allotment"],
        starts_on=row["starts_on"],
        ends_on=row["ends_on"],
        channels=frozenset(Channel(channel) for channel in row["channels"]),
        request_types=frozenset(row["request_types"]),
        allow_overdraft=row["allow_overdraft"],
        warn_below_percent=row["warn_below_percent"],
    )


def _entry(row: Any) -> LedgerEntry:
    return LedgerEntry(
        entry_id=row["entry_id"],
        line_id=row["line_id"],
        contract_id=row["contract_id"],
        case_id=row["case_id"],
        kind=EntryKind(row["kind"]),
        amount=row["amount"],
        overage=row["overage"],
        by=row["by"],
        reason=row["reason"],
        at=row["at"],
    )


def _template_row(template: ContractTemplate) -> dict[str, Any]:
    return {
        "name": template.name,
        "allocation": template.allocation.value,
        "default_allotment": template.default_allotment,
        "default_duration_days": template.default_duration_days,
        "channels": sorted(channel.value for channel in template.channels),
        "request_types": sorted(template.request_types),
        "sla_policy_id": template.sla_policy_id,
        "calendar_id": template.calendar_id,
        "allow_overdraft": template.allow_overdraft,
        "warn_below_percent": template.warn_below_percent,
        "active": template.active,
        "updated_at": func.now(),
    }


def _template(row: Any) -> ContractTemplate:
    return ContractTemplate(
        template_id=row["template_id"],
        name=row["name"],
        allocation=Allocation(row["allocation"]),
        default_allotment=row["default_allotment"],
        default_duration_days=row["default_duration_days"],
        channels=frozenset(Channel(channel) for channel in row["channels"]),
        request_types=frozenset(row["request_types"]),
        sla_policy_id=row["sla_policy_id"],
        calendar_id=row["calendar_id"],
        allow_overdraft=row["allow_overdraft"],
        warn_below_percent=row["warn_below_percent"],
        active=row["active"],
        version=row["version"],
    )
