"""Mailboxes read over IMAP: each unseen message is stored, and only then marked.

A pass finds the unseen messages of the folder (`UID SEARCH UNSEEN`), fetches each without
marking it (`BODY.PEEK[]`), hands it to `accept`, and once `accept` has returned marks it
\\Seen and, when a processed folder is configured, moves it there. A message whose store
failed is left as it was and fetched again by the next pass, so a failure or a crash never
loses one. Between passes the mailbox waits in IDLE for the server to announce new mail
when the server can, and polls otherwise. A lost connection is opened again after a pause
that doubles from one second to a minute; nothing here stops the service.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog
from aioimaplib import (
    IMAP4,
    STOP_WAIT_SERVER_PUSH,
    AioImapException,
    Command,
    CommandTimeout,
)

from intake.app.mail import InboundEnvelope

AcceptMail = Callable[[bytes, InboundEnvelope], Awaitable[object]]
Sleep = Callable[[float], Awaitable[None]]

log = structlog.get_logger(__name__)

IDLE_LIMIT = 29 * 60.0
"""The longest an IDLE lasts: servers may log a client out after 30 idle minutes."""
FIRST_RETRY = 1.0
LAST_RETRY = 60.0
COMMAND_TIMEOUT = 60.0
LOGOUT_TIMEOUT = 2.0

_T = TypeVar("_T")


class MailboxError(ConnectionError):
    """A mailbox server could not be reached, refused a command, or broke off the
    conversation."""


@dataclass(frozen=True)
class MailboxConfig:
    """One mailbox intake reads: where it is, how to log in, and how to mark what it took.

    `tls` connects over TLS from the start (port 993 usually); `starttls` upgrades a plain
    connection before logging in. Without `processed_folder`, a stored message is marked
    \\Seen and stays; with it, the message is also moved there. With `idle`, the server's
    IDLE is used when offered; a pass runs at least every `poll_seconds` either way.
    """

    name: str
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    folder: str = "INBOX"
    tls: bool = False
    starttls: bool = False
    processed_folder: str | None = None
    poll_seconds: float = 60.0
    idle: bool = True

    def __post_init__(self) -> None:
        if self.tls and self.starttls:
            raise ValueError(f"mailbox {self.name!r}: choose tls or starttls, not both")
        if self.poll_seconds <= 0:
            raise ValueError(f"mailbox {self.name!r}: poll_seconds must be positive")


_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "host": (str,),
    "port": (int,),
    "user": (str,),
    "password": (str,),
    "folder": (str,),
    "tls": (bool,),
    "starttls": (bool,),
    "processed_folder": (str, type(None)),
    "poll_seconds": (int, float),
    "idle": (bool,),
}


def mailbox_configs(text: str) -> list[MailboxConfig]:
    """The mailboxes described by `text` (the setting `INTAKE_IMAP_MAILBOXES`): a JSON list
    of objects with the fields of MailboxConfig. Empty text: no mailbox.

    Raises ValueError naming the entry and field at fault, never quoting a value.
    """
    if not text.strip():
        return []
    try:
        entries = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"IMAP mailboxes: not JSON ({error.msg})") from None
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise ValueError("IMAP mailboxes: expected a JSON list of objects")
    configs: list[MailboxConfig] = []
    for index, entry in enumerate(entries):
        where = f"IMAP mailbox {index}"
        for key, value in entry.items():
            types = _FIELD_TYPES.get(key)
            if types is None:
                raise ValueError(f"{where}: unknown field {key!r}")
            # JSON's true and false would pass for numbers, as bool is an int in Python.
            if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
                raise ValueError(f"{where}: {key} must be {' or '.join(t.__name__ for t in types)}")
        missing = [key for key in ("name", "host", "port", "user", "password") if key not in entry]
        if missing:
            raise ValueError(f"{where}: missing {', '.join(missing)}")
        configs.append(MailboxConfig(**entry))
    return configs


def _quoted(mailbox: str) -> str:
    """A folder name as an IMAP quoted string."""
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _uids(lines: Sequence[Any]) -> list[int]:
    """The UIDs in the untagged lines of a UID SEARCH response."""
    uids: list[int] = []
    for line in lines[:-1]:  # the last line is the tagged status
        if not isinstance(line, bytes):
            continue
        words = line.split()
        if words[:1] == [b"SEARCH"]:
            words = words[1:]
        if all(word.isdigit() for word in words):
            uids.extend(int(word) for word in words)
    return sorted(set(uids))


def _body(lines: Sequence[Any]) -> bytes | None:
    """The message in a `UID FETCH <uid> BODY.PEEK[]` response; None when there is none
    (the message was expunged meanwhile)."""
    for line, following in itertools.pairwise(lines):
        # aioimaplib gives a literal as a bytearray right after the line announcing it.
        if (
            isinstance(line, bytes)
            and b"BODY[]" in line
            and line.endswith(b"}")
            and isinstance(following, bytearray)
        ):
            return bytes(following)
    return None


def _status(response: Any) -> str:
    lines = response.lines
    last = lines[-1] if lines else b""
    text = last.decode("utf-8", "replace") if isinstance(last, bytes | bytearray) else str(last)
    return f"{response.result} {text}".strip()


class _Connection:
    """One IMAP conversation with a mailbox's server: logged in, the folder selected."""

    def __init__(
        self, config: MailboxConfig, *, ssl_context: ssl.SSLContext | None, timeout: float
    ) -> None:
        self._config = config
        self._ssl_context = ssl_context
        self._timeout = timeout
        self._client: Any = None
        self._lost = asyncio.Event()

    def _on_lost(self, error: Exception | None) -> None:
        self._lost.set()

    async def _call(self, command: Awaitable[_T], *, timeout: float | None = None) -> _T:
        """`command`'s result; MailboxError when the connection is lost first or the server
        does not answer within `timeout` (the command timeout by default)."""
        if self._lost.is_set():
            raise MailboxError("the connection to the server is lost")
        task = asyncio.ensure_future(command)
        lost = asyncio.ensure_future(self._lost.wait())
        try:
            async with asyncio.timeout(timeout or self._timeout):
                await asyncio.wait({task, lost}, return_when=asyncio.FIRST_COMPLETED)
        except TimeoutError as error:
            raise MailboxError("the server did not answer in time") from error
        finally:
            lost.cancel()
            if not task.done():
                task.cancel()
        if not task.done():
            raise MailboxError("the connection to the server is lost")
        try:
            return task.result()
        except CommandTimeout as error:
            # Its command (which may be LOGIN, password and all) stays out of the message.
            raise MailboxError(f"no answer to {error.command.name}") from error
        except AioImapException as error:
            raise MailboxError(str(error) or type(error).__name__) from error

    async def _ok(self, command: Awaitable[Any], what: str) -> Any:
        response = await self._call(command)
        if response.result != "OK":
            raise MailboxError(f"{what}: {_status(response)}")
        return response

    def _context(self) -> ssl.SSLContext:
        return self._ssl_context or ssl.create_default_context()

    def has(self, capability: str) -> bool:
        """Whether the server announced `capability` (after logging in)."""
        if self._client is None:
            return False
        offered: set[str] = self._client.protocol.capabilities
        return capability.upper() in {name.upper() for name in offered}

    async def open(self) -> None:
        """Connect, upgrade to TLS when asked to, log in and select the folder."""
        config = self._config
        self._client = client = IMAP4(
            host=config.host,
            port=config.port,
            timeout=self._timeout,
            conn_lost_cb=self._on_lost,
            ssl_context=self._context() if config.tls else None,
        )
        try:
            await self._call(client.wait_hello_from_server())
        except (OSError, TimeoutError) as error:
            raise MailboxError(f"cannot reach {config.host}:{config.port}: {error!r}") from error
        if config.starttls:
            await self._starttls()
        await self._ok(client.login(config.user, config.password), "LOGIN")
        # What a server offers may change once logged in; aioimaplib keeps the first list.
        await self._call(client.protocol.capability())
        await self._ok(client.select(_quoted(config.folder)), f"SELECT {config.folder}")

    async def _starttls(self) -> None:
        protocol = self._client.protocol
        if not self.has("STARTTLS"):
            raise MailboxError("the server offers no STARTTLS; not logging in without it")
        loop = asyncio.get_running_loop()
        # aioimaplib has no STARTTLS of its own: send it, then put TLS under its protocol.
        starttls = Command("STARTTLS", protocol.new_tag(), loop=loop)
        await self._ok(protocol.execute(starttls), "STARTTLS")
        try:
            protocol.transport = await self._call(
                loop.start_tls(
                    protocol.transport,
                    protocol,
                    self._context(),
                    server_hostname=self._config.host,
                )
            )
        except OSError as error:  # ssl.SSLError is one
            raise MailboxError(f"TLS with {self._config.host} failed: {error!r}") from error
        # Capabilities learnt before TLS must not be trusted (RFC 3501, 6.2.1).
        await self._call(protocol.capability())

    async def unseen(self) -> list[int]:
        """The UIDs of the folder's unseen messages, lowest first."""
        response = await self._ok(self._client.uid_search("UNSEEN", charset=None), "SEARCH")
        return _uids(response.lines)

    async def fetch(self, uid: int) -> bytes | None:
        """Message `uid` as stored on the server, without marking it \\Seen."""
        response = await self._ok(self._client.uid("fetch", str(uid), "BODY.PEEK[]"), "FETCH")
        return _body(response.lines)

    async def mark(self, uid: int, processed_folder: str | None) -> None:
        """Mark message `uid` \\Seen, and move it to `processed_folder` when given."""
        client, uid_set = self._client, str(uid)
        # \Seen first: should the move fail, the stored message is not fetched again.
        await self._ok(client.uid("store", uid_set, "+FLAGS.SILENT", r"(\Seen)"), "STORE")
        if processed_folder is None:
            return
        target = _quoted(processed_folder)
        if self.has("MOVE"):
            await self._ok(client.uid("move", uid_set, target), "MOVE")
            return
        await self._ok(client.uid("copy", uid_set, target), "COPY")
        await self._ok(client.uid("store", uid_set, "+FLAGS.SILENT", r"(\Deleted)"), "STORE")
        if self.has("UIDPLUS"):
            await self._ok(client.uid("expunge", uid_set), "EXPUNGE")
        else:
            # Without UIDPLUS this also expunges whatever else is marked \Deleted.
            await self._ok(client.expunge(), "EXPUNGE")

    async def idle(self, window: float, sleep: Sleep) -> bool:
        """Wait in IDLE until the server announces new mail (True) or `sleep(window)` is
        over (False)."""
        client = self._client
        queue = client.protocol.idle_queue
        while not queue.empty():  # what an earlier IDLE left unread
            queue.get_nowait()
        # aioimaplib's own end of IDLE comes later than ours, which is `window`.
        idling = await self._call(client.idle_start(timeout=IDLE_LIMIT + self._timeout))
        timer = asyncio.ensure_future(sleep(window))
        lost = asyncio.ensure_future(self._lost.wait())
        push: asyncio.Future[Any] = asyncio.ensure_future(queue.get())
        news = False
        try:
            while not news:
                await asyncio.wait({push, timer, lost}, return_when=asyncio.FIRST_COMPLETED)
                if not push.done():
                    break
                lines = push.result()
                if lines == STOP_WAIT_SERVER_PUSH:
                    break
                news = any(b"EXISTS" in line for line in lines if isinstance(line, bytes))
                if not news:
                    push = asyncio.ensure_future(queue.get())
        finally:
            for waiting in (push, timer, lost):
                waiting.cancel()
            if not self._lost.is_set():
                client.idle_done()
        await self._ok(idling, "IDLE")
        return news

    async def close(self) -> None:
        """Log out (briefly; the server may be gone) and close the connection."""
        client, self._client = self._client, None
        if client is None:
            return
        protocol = client.protocol
        # aioimaplib's helpers, such as an IDLE about to be sent: nothing should follow.
        for task in (*client.tasks, *protocol.tasks):
            task.cancel()
        # A command under way (an IDLE that was interrupted) would hold the LOGOUT back.
        quiet = protocol.pending_sync_command is None
        if quiet and not self._lost.is_set() and protocol.state in ("AUTH", "SELECTED"):
            with contextlib.suppress(MailboxError):
                await self._call(client.logout(), timeout=LOGOUT_TIMEOUT)
        if protocol.transport is not None:
            protocol.transport.close()


class ImapMailbox:
    """Reads one mailbox into `accept`: `poll_once` for one pass, `start` to keep reading in
    the background until `stop`.

    `ssl_context` checks the server's certificate for `tls` and `starttls` (the system's
    trusted authorities by default). `sleep` times every wait: between polls, before
    reconnecting, and the longest stay in IDLE (tests pass their own).
    """

    def __init__(
        self,
        config: MailboxConfig,
        accept: AcceptMail,
        *,
        ssl_context: ssl.SSLContext | None = None,
        command_timeout: float = COMMAND_TIMEOUT,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.config = config
        self._accept = accept
        self._ssl_context = ssl_context
        self._command_timeout = command_timeout
        self._sleep = sleep
        self._source = f"imap:{config.name}"
        self._task: asyncio.Task[None] | None = None
        # One pass at a time: two would both store a message neither has marked yet.
        self._passing = asyncio.Lock()
        self._stopping = False
        self._between_messages = asyncio.Event()
        self._between_messages.set()

    @property
    def name(self) -> str:
        """The mailbox's name in the settings and in the logs."""
        return self.config.name

    @property
    def running(self) -> bool:
        """Whether the background reading runs."""
        return self._task is not None and not self._task.done()

    async def poll_once(self) -> int:
        """Store every unseen message of the folder once; how many were stored.

        Raises MailboxError when the server cannot be reached or breaks off.
        """
        connection = self._connection()
        try:
            await connection.open()
            return await self._pass(connection)
        finally:
            await connection.close()

    async def start(self) -> None:
        """Start reading in the background: a pass now, then at each announcement of new
        mail or every `poll_seconds`."""
        if self.running:
            return
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name=f"imap-mailbox-{self.name}")
        log.info("imap.started", mailbox=self.name, folder=self.config.folder)

    async def stop(self, *, grace: float = 10.0) -> None:
        """Stop reading: a message being stored may finish (up to `grace` seconds), the
        others wait for the next start."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                await self._between_messages.wait()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        self._stopping = False
        log.info("imap.stopped", mailbox=self.name)

    def _connection(self) -> _Connection:
        return _Connection(
            self.config, ssl_context=self._ssl_context, timeout=self._command_timeout
        )

    async def _pass(self, connection: _Connection) -> int:
        """Store the unseen messages, then look again until no new one turns up: a server
        announces mail that came during the pass alongside its answers, and aioimaplib
        drops such announcements."""
        tried: set[int] = set()
        stored = 0
        async with self._passing:
            while not self._stopping:
                uids = [uid for uid in await connection.unseen() if uid not in tried]
                if not uids:
                    break
                for uid in uids:
                    if self._stopping:
                        break
                    tried.add(uid)
                    self._between_messages.clear()
                    try:
                        stored += await self._take(connection, uid)
                    finally:
                        self._between_messages.set()
        if tried:
            log.info("imap.pass", mailbox=self.name, unseen=len(tried), stored=stored)
        return stored

    async def _take(self, connection: _Connection, uid: int) -> int:
        raw = await connection.fetch(uid)
        if raw is None:
            log.info("imap.message_gone", mailbox=self.name, uid=uid)
            return 0
        try:
            await self._accept(raw, InboundEnvelope(source=self._source))
        except Exception:
            # Left unseen and where it is: the next pass fetches it again.
            log.exception("imap.store_failed", mailbox=self.name, uid=uid, size=len(raw))
            return 0
        await connection.mark(uid, self.config.processed_folder)
        log.info("imap.stored", mailbox=self.name, uid=uid, size=len(raw))
        return 1

    async def _run(self) -> None:
        config = self.config
        window = min(config.poll_seconds, IDLE_LIMIT)
        retry = FIRST_RETRY
        while True:
            connection = self._connection()
            try:
                await connection.open()
                idle = config.idle and connection.has("IDLE")
                # Polling connects for every pass; only a lasting connection is worth a line.
                (log.info if idle else log.debug)(
                    "imap.connected", mailbox=self.name, host=config.host, idle=idle
                )
                while True:
                    await self._pass(connection)
                    retry = FIRST_RETRY
                    if not idle:
                        break
                    await connection.idle(window, self._sleep)
                pause = config.poll_seconds
            except Exception as error:
                log.warning("imap.failed", mailbox=self.name, error=repr(error), retry_in=retry)
                pause, retry = retry, min(retry * 2, LAST_RETRY)
            finally:
                await connection.close()
            await self._sleep(pause)


class ImapMailboxes:
    """Several mailboxes read into the same `accept`, started and stopped together."""

    def __init__(
        self,
        configs: Iterable[MailboxConfig],
        accept: AcceptMail,
        *,
        ssl_context: ssl.SSLContext | None = None,
        command_timeout: float = COMMAND_TIMEOUT,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.mailboxes = tuple(
            ImapMailbox(
                config,
                accept,
                ssl_context=ssl_context,
                command_timeout=command_timeout,
                sleep=sleep,
            )
            for config in configs
        )
        names = [mailbox.name for mailbox in self.mailboxes]
        if len(set(names)) != len(names):
            raise ValueError(f"mailbox names must differ: {names}")

    async def poll_once(self) -> int:
        """One pass over every mailbox; how many messages were stored in all."""
        return sum([await mailbox.poll_once() for mailbox in self.mailboxes])

    async def start(self) -> None:
        """Start reading every mailbox in the background."""
        for mailbox in self.mailboxes:
            await mailbox.start()

    async def stop(self, *, grace: float = 10.0) -> None:
        """Stop reading every mailbox (see `ImapMailbox.stop`)."""
        await asyncio.gather(*(mailbox.stop(grace=grace) for mailbox in self.mailboxes))
