"""The customers' accounts as the cases service knows them, from intake's announcements."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cases.adapters.tables import customer_accounts
from cases.app.ports import AccountFacts


class SqlCustomerAccounts:
    """Keeps, per account, the highest version of its card intake announced."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def remember(self, facts: AccountFacts) -> bool:
        """Keep `facts` unless a version as new is held already; whether they were kept."""
        values = {
            "name": facts.name,
            "tier": facts.tier,
            "owner_id": facts.owner_id,
            "credit_hold": facts.credit_hold,
            "version": facts.version,
            "updated_at": func.now(),
        }
        statement = pg_insert(customer_accounts).values(account_id=facts.account_id, **values)
        kept = await self._session.scalar(
            statement.on_conflict_do_update(
                index_elements=[customer_accounts.c.account_id],
                set_=values,
                where=customer_accounts.c.version < statement.excluded.version,
            ).returning(customer_accounts.c.account_id)
        )
        return kept is not None

    async def owner_of(self, account_id: UUID) -> UUID | None:
        """The owner of the account, when the account and its owner are known."""
        owner: UUID | None = await self._session.scalar(
            select(customer_accounts.c.owner_id).where(customer_accounts.c.account_id == account_id)
        )
        return owner
