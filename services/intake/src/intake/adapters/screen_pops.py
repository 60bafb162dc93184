"""Screen-pops across replicas: PostgreSQL LISTEN/NOTIFY, fanned out to this process's streams.

The transaction that applies a ringing call runs `pg_notify('screen_pops', {call_id,
extension})`, which PostgreSQL delivers to every listener when (and only if) it commits. Each
process holds one listening connection and hands the call id to the streams open here for that
extension; whichever replica took the event, the agent's console gets it through the replica
its stream is open on. A lost connection is opened again; what was notified meanwhile is not
delivered (the call can still be read with `GET /calls/{call_id}`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import structlog
from sqlalchemy.engine import make_url

from intake.adapters.calls import SCREEN_POPS_CHANNEL

log = structlog.get_logger(__name__)

STREAM_BACKLOG = 64
"""Calls a stream may fall behind by before the oldest are dropped."""


def listener_dsn(database_url: str) -> str:
    """The plain PostgreSQL URL asyncpg connects with, from the service's SQLAlchemy URL."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class PgScreenPopHub:
    """Listens for screen-pops and hands each to the streams watching its extension."""

    def __init__(
        self,
        database_url: str,
        *,
        reconnect_seconds: float = 0.5,
        check_seconds: float = 15.0,
    ) -> None:
        self._dsn = listener_dsn(database_url)
        self._reconnect = reconnect_seconds
        self._check = check_seconds
        self._watchers: dict[str, set[asyncio.Queue[str]]] = {}
        self._listening = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def listening(self) -> bool:
        """Whether notifications are being received now."""
        return self._listening.is_set()

    async def start(self) -> None:
        """Listen in the background (again after every loss); returns once listening, or
        after a few seconds without: streams are served anyway and catch up when it comes."""
        if self._task is not None:
            return
        self._task = asyncio.create_task(self._run(), name="screen-pops")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await self._listening.wait()

    async def stop(self) -> None:
        """Stop listening; harmless when not started."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        await asyncio.wait([task])

    @contextlib.asynccontextmanager
    async def watch(self, extension: str) -> AsyncIterator[asyncio.Queue[str]]:
        """The call ids popped up at `extension` while the block runs."""
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=STREAM_BACKLOG)
        self._watchers.setdefault(extension, set()).add(queue)
        try:
            yield queue
        finally:
            watchers = self._watchers.get(extension)
            if watchers is not None:
                watchers.discard(queue)
                if not watchers:
                    del self._watchers[extension]

    def watching(self, extension: str) -> int:
        """How many streams in this process watch `extension`."""
        return len(self._watchers.get(extension, ()))

    def deliver(self, payload: str) -> None:
        """Hand a notification's call to the streams watching its extension."""
        try:
            data = json.loads(payload)
            call_id, extension = str(data["call_id"]), str(data["extension"])
        except (ValueError, KeyError, TypeError):
            log.warning("screen_pops.unreadable_notification", payload=payload[:200])
            return
        for queue in tuple(self._watchers.get(extension, ())):
            if queue.full():
                # A console that stopped reading loses its oldest pops, not the newest.
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(call_id)

    def _on_notification(self, connection: Any, pid: int, channel: str, payload: str) -> None:
        self.deliver(payload)

    async def _run(self) -> None:
        delay = self._reconnect
        while True:
            try:
                await self._listen()
                delay = self._reconnect
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("screen_pops.listen_failed", error=repr(exc), retry_in=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    async def _listen(self) -> None:
        """Hold one listening connection until it is lost."""
        connection = await asyncpg.connect(self._dsn)
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _: lost.set())
        try:
            await connection.add_listener(SCREEN_POPS_CHANNEL, self._on_notification)
            self._listening.set()
            log.info("screen_pops.listening")
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._check):
                        await lost.wait()
                if not lost.is_set():
                    # A connection cut off without a word looks alive until it is used.
                    async with asyncio.timeout(5):
                        await connection.fetchval("SELECT 1")
            log.warning("screen_pops.connection_lost")
        finally:
            self._listening.clear()
            connection.terminate()
