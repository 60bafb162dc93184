"""What the cases service learns of the customers' accounts from intake, which owns them: the
account's owner, told of its contracts' allotments and ends when a contract names no other."""

from __future__ import annotations

from cases.app.ports import AccountFacts, CasesUnitOfWork


async def record_account(facts: AccountFacts, *, uow: CasesUnitOfWork) -> bool:
    """Keep the account's card unless a newer version is held; whether it was kept."""
    async with uow:
        kept = await uow.accounts.remember(facts)
        await uow.commit()
        return kept
