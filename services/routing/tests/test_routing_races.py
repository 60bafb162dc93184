"""A unit of work the database rolled back to break a lock cycle runs again; other errors, and
a cycle that keeps coming back, reach the caller."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError

from routing.adapters.races import RACE_ATTEMPTS, settled


class _DriverError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.sqlstate = code


def _failing(code: str, times: int) -> tuple[list[int], object]:
    calls: list[int] = []

    async def call() -> int:
        calls.append(len(calls) + 1)
        if len(calls) <= times:
            raise DBAPIError("UPDATE agents …", None, _DriverError(code))
        return 7

    return calls, call


@pytest.mark.parametrize("code", ["40P01", "40001"])
async def test_a_broken_lock_cycle_is_run_again_in_a_new_attempt(code: str) -> None:
    calls, call = _failing(code, times=RACE_ATTEMPTS - 1)
    assert await settled(call) == 7  # type: ignore[arg-type]
    assert calls == list(range(1, RACE_ATTEMPTS + 1))


async def test_a_cycle_broken_on_every_attempt_reaches_the_caller() -> None:
    calls, call = _failing("40P01", times=RACE_ATTEMPTS)
    with pytest.raises(DBAPIError):
        await settled(call)  # type: ignore[arg-type]
    assert len(calls) == RACE_ATTEMPTS


async def test_another_database_error_is_not_run_again() -> None:
    calls, call = _failing("23505", times=1)  # a unique violation
    with pytest.raises(DBAPIError):
        await settled(call)  # type: ignore[arg-type]
    assert calls == [1]
