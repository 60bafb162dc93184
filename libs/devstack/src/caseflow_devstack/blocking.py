"""Running a coroutine to completion from synchronous code."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_blocking(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` on a private event loop in a worker thread and return its result.

    A worker thread keeps this usable from synchronous code that is itself called while an
    event loop runs in the current thread (pytest fixtures, blocking calls inside async tests).
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="caseflow-devstack") as pool:
        return pool.submit(asyncio.run, coro).result()
