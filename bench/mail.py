"""Email intake benchmark: 10 KB mail through intake's SMTP listener to `interaction.received`.

Measured in one run, on one machine:
- a bare sink: aiosmtpd on its own event loop, in a process of its own, with a handler that
  answers 250 and keeps nothing; `--messages` messages of about 10 KB sent over
  `--connections` SMTP connections (each connects once and sends message after message),
  messages per second;
- intake: the same messages (each its own Message-ID, senders from a pool of `--senders`, so
  that both new and known contacts occur) to intake's listener on the embedded stack
  (PostgreSQL, Tansu and intake as processes) the same way: messages per second from the first
  send to the last `interaction.received` read from `intake.interaction.v1`, messages per
  second the listener answered 250 to, and the latency from each message's 250 to its event.

The ratio intake / bare sink says what intake costs beyond SMTP itself; the target is 200
messages per second end to end. Both runs are preceded by an untimed warm-up. The last line
printed is one JSON object with the figures. `make bench-mail` runs it with defaults.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import shutil
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from pathlib import Path
from typing import Any

import aiosmtplib
import uvloop
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiosmtpd.smtp import SMTP as SmtpServer
from aiosmtpd.smtp import Envelope, Session

from caseflow_contracts import topics
from caseflow_devstack import Stack, free_port
from caseflow_devstack.ports import LOCALHOST
from caseflow_devstack.processes import ServiceSpec

SUPPORT = "support@caseflow.local"
TARGET_MSGS_PER_S = 200
SIZE_BYTES = 10 * 1024
# The client names itself: aiosmtplib would otherwise look the host's name up per connection.
CLIENT_NAME = "bench-client.example"

FIRST_NAMES = (
    "Anna", "Jonas", "Lea", "Lukas", "Mia", "Felix", "Ona", "Tomas", "Zofia", "Piotr",
    "Clara", "Emil", "Sara", "David", "Nina", "Jan", "Eva", "Max", "Ida", "Paul",
)  # fmt: skip
LAST_NAMES = (
    "Schmidt", "Novak", "Kowalski", "Petraitis", "Weber", "Fischer", "Meyer", "Wagner",
    "Becker", "Hoffmann", "Schulz", "Koch", "Richter", "Klein", "Wolf", "Neumann",
)  # fmt: skip
WORDS = (
    "invoice", "order", "delivery", "printer", "the", "a", "and", "we", "our", "your",
    "please", "since", "last", "week", "again", "still", "not", "working", "after", "update",
    "error", "message", "shows", "when", "start", "machine", "office", "team", "contract",
    "support", "request", "urgent", "replacement", "part", "arrived", "damaged", "package",
    "tracking", "number", "customer", "account", "billing", "charged", "twice", "refund",
    "credit", "note", "issue", "ticket", "technician", "visit", "appointment", "Monday",
    "Tuesday", "morning", "afternoon", "call", "back", "regarding", "service", "level",
    "agreement", "response", "time", "warranty", "serial", "model", "firmware", "network",
    "connection", "drops", "every", "hour", "users", "cannot", "log", "in", "password",
    "reset", "link", "expired", "attached", "screenshot", "describes", "problem", "in",
    "detail", "thank", "you", "for", "help", "kind", "regards", "is", "it", "possible",
)  # fmt: skip


@dataclass(frozen=True)
class Sender:
    name: str
    address: str
    phone: str


@dataclass(frozen=True)
class Mail:
    message_id: str
    sender: str
    message: EmailMessage


def sender_pool(count: int, tag: str, rng: random.Random) -> list[Sender]:
    """`count` people at about a fiftieth as many companies (domains)."""
    domains = max(1, count // 50)
    pool = []
    for i in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        address = f"{first}.{last}.{tag}{i}@company{tag}{i % domains}.example".lower()
        phone = f"+49 30 {5550000 + i}"
        pool.append(Sender(f"{first} {last}", address, phone))
    return pool


def _body(sender: Sender, rng: random.Random, length: int) -> str:
    """A request of about `length` bytes on the wire (where lines end in CRLF): greeting,
    words, signature."""
    signature = f"\n\nKind regards,\n{sender.name}\nTel. {sender.phone}\n"
    budget = length - len(signature) - signature.count("\n") - 1  # "." before the signature
    paragraphs: list[str] = ["Hello,"]
    size = 0
    while size < budget:
        words = [rng.choice(WORDS) for _ in range(rng.randint(40, 90))]
        paragraph = textwrap.fill(" ".join(words).capitalize() + ".", width=72)
        paragraphs.append(paragraph)
        size += len(paragraph) + paragraph.count("\n") + 4
    text = "\n\n".join(paragraphs)
    cut = budget
    while cut + text.count("\n", 0, cut) > budget:
        cut -= cut + text.count("\n", 0, cut) - budget
    # Cut at a word: the body ends in a sentence, then the signature.
    return text[:cut].rsplit(maxsplit=1)[0] + "." + signature


def compose(i: int, tag: str, sender: Sender, rng: random.Random, size: int) -> Mail:
    """Message `i`: From, To, Subject, Message-ID, Date and a plain-text body; about `size`
    bytes as sent."""
    message_id = f"<{tag}.{i}.{uuid.uuid4().hex}@{sender.address.partition('@')[2]}>"
    message = EmailMessage()
    message["From"] = formataddr((sender.name, sender.address))
    message["To"] = SUPPORT
    message["Subject"] = f"Request {i}: printer error after the update ({tag})"
    message["Message-ID"] = message_id
    message["Date"] = formatdate(localtime=True)
    message.set_content("")
    message.set_content(_body(sender, rng, size - wire_size(message)))
    return Mail(message_id, sender.address, message)


def wire_size(message: EmailMessage) -> int:
    """The message's size as SMTP carries it (CRLF line ends)."""
    return len(message.as_bytes(policy=message.policy.clone(linesep="\r\n")))


def compose_all(count: int, tag: str, senders: Sequence[Sender], seed: int) -> list[Mail]:
    rng = random.Random(seed)
    return [compose(i, tag, senders[i % len(senders)], rng, SIZE_BYTES) for i in range(count)]


async def send_all(port: int, mails: Sequence[Mail], connections: int) -> dict[str, float]:
    """Send `mails` over `connections` connections; when each was answered 250, by id."""
    accepted: dict[str, float] = {}
    waiting = iter(mails)

    async def connection() -> None:
        client = aiosmtplib.SMTP(
            hostname=LOCALHOST, port=port, local_hostname=CLIENT_NAME, start_tls=False
        )
        await client.connect()
        try:
            for mail in waiting:  # shared: each connection takes the next message
                await client.send_message(mail.message, sender=mail.sender, recipients=[SUPPORT])
                accepted[mail.message_id] = time.perf_counter()
        finally:
            with contextlib.suppress(aiosmtplib.SMTPException):
                await client.quit()

    await asyncio.gather(*(connection() for _ in range(connections)))
    return accepted


async def wait_listening(port: int, within: float = 30.0) -> None:
    deadline = time.perf_counter() + within
    while True:
        try:
            _, writer = await asyncio.open_connection(LOCALHOST, port)
        except OSError:
            if time.perf_counter() > deadline:
                raise
            await asyncio.sleep(0.1)
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return


# --- the bare sink -------------------------------------------------------------------------


class DiscardingHandler:
    """Takes every message and keeps none."""

    async def handle_DATA(self, server: SmtpServer, session: Session, envelope: Envelope) -> str:
        return "250 OK"


async def sink(port: int) -> None:
    """A bare aiosmtpd server on `port` until killed (run as `--sink PORT`)."""
    loop = asyncio.get_running_loop()
    handler = DiscardingHandler()
    server = await loop.create_server(
        lambda: SmtpServer(handler, hostname="sink.bench.example", loop=loop), LOCALHOST, port
    )
    async with server:
        await server.serve_forever()


async def bare_rate(mails: Sequence[Mail], warm: Sequence[Mail], connections: int) -> float:
    """Messages per second into the bare sink, run as a process of its own."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(sys.executable, __file__, "--sink", str(port))
    try:
        await wait_listening(port)
        await send_all(port, warm, connections)
        started = time.perf_counter()
        accepted = await send_all(port, mails, connections)
        return len(mails) / (max(accepted.values()) - started)
    finally:
        process.terminate()
        await process.wait()


# --- intake --------------------------------------------------------------------------------


@dataclass
class Interactions:
    """Follows intake.interaction.v1 and notes when each message's interaction was seen."""

    bootstrap: str
    seen: dict[str, float] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def follow(self, ready: asyncio.Event) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, enable_auto_commit=False, fetch_max_wait_ms=10
        )
        await consumer.start()
        try:
            await consumer.topics()
            partitions = [
                TopicPartition(topics.INTAKE_INTERACTIONS, p)
                for p in consumer.partitions_for_topic(topics.INTAKE_INTERACTIONS) or ()
            ]
            consumer.assign(partitions)
            await consumer.seek_to_end(*partitions)
            for tp in partitions:
                await consumer.position(tp)
            ready.set()
            while True:
                batch = await consumer.getmany(timeout_ms=100)
                now = time.perf_counter()
                for records in batch.values():
                    for record in records:
                        if dict(record.headers).get("ce_type") != b"interaction.received":
                            continue
                        message_id = json.loads(record.value or b"{}").get("message_id")
                        if message_id:
                            self.seen.setdefault(message_id, now)
                if batch:
                    self.changed.set()
        finally:
            await consumer.stop()

    async def wait_all(self, message_ids: Sequence[str], timeout: float) -> float:
        """When the last of `message_ids` was seen."""
        deadline = time.perf_counter() + timeout
        while True:
            missing = sum(m not in self.seen for m in message_ids)
            if not missing:
                return max(self.seen[m] for m in message_ids)
            if time.perf_counter() > deadline:
                msg = f"{missing} of {len(message_ids)} interactions not seen within {timeout:g}s"
                raise TimeoutError(msg)
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), timeout=1.0)


@dataclass(frozen=True)
class IntakeFigures:
    accept_rate: float
    event_rate: float
    latencies_ms: list[float]


async def intake_rates(
    stack: Stack, mails: Sequence[Mail], warm: Sequence[Mail], connections: int, timeout: float
) -> IntakeFigures:
    interactions = Interactions(stack.kafka_bootstrap)
    ready = asyncio.Event()
    follower = asyncio.create_task(interactions.follow(ready))
    try:
        async with asyncio.timeout(60):
            await ready.wait()
        await wait_listening(stack.smtp_port)
        await send_all(stack.smtp_port, warm, connections)
        await interactions.wait_all([m.message_id for m in warm], timeout=120)
        print(f"intake: {len(mails)} messages...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        accepted = await send_all(stack.smtp_port, mails, connections)
        all_accepted = max(accepted.values())
        finished = await interactions.wait_all([m.message_id for m in mails], timeout=timeout)
    finally:
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
    return IntakeFigures(
        accept_rate=len(mails) / (all_accepted - started),
        event_rate=len(mails) / (finished - started),
        latencies_ms=[(interactions.seen[m] - t) * 1000 for m, t in accepted.items()],
    )


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


async def run(args: argparse.Namespace, home: Path) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:6]
    rng = random.Random(args.seed)
    pool = sender_pool(args.senders, tag, rng)
    # Warm-up senders of their own: the timed run meets each of its senders new first.
    warm = compose_all(args.warmup, f"w{tag}", sender_pool(20, f"w{tag}", rng), args.seed + 1)
    mails = compose_all(args.messages, tag, pool, args.seed)
    size = round(sum(wire_size(m.message) for m in mails) / len(mails))

    environ = {
        **os.environ,
        "CASEFLOW_LOG_LEVEL": "WARNING",
        # Inbound only: no outbound mail is sent, so no sink to relay it to.
        "CASEFLOW_MAILSINK": "0",
    }
    for name in (
        "KAFKA_BOOTSTRAP_SERVERS",
        "CASEFLOW_DATABASE_URL",
        "INTAKE_DATABASE_URL",
        "INTAKE_SMTP_PORT",
        "INTAKE_RELAY_HOST",
    ):
        environ.pop(name, None)
    stack = Stack(
        home=home,
        services=[ServiceSpec("intake", free_port())],
        environ=environ,
        postgres_port=free_port(),
        kafka_port=free_port(),
        smtp_port=free_port(),
        ready_timeout=120,
    )
    print("starting PostgreSQL, Tansu and intake...", file=sys.stderr, flush=True)
    async with stack:
        # Beside the running (idle) stack, so that both figures come from the same machine.
        print(f"bare sink: {args.messages} messages...", file=sys.stderr, flush=True)
        bare = await bare_rate(mails, warm, args.connections)
        intake = await intake_rates(stack, mails, warm, args.connections, args.timeout)
    p50, p95, p99 = (round(_percentile(intake.latencies_ms, q), 1) for q in (50, 95, 99))
    print(
        f"{args.messages} messages of {size} bytes over {args.connections} connections\n"
        f"  bare aiosmtpd sink          {bare:8.1f} msgs/s\n"
        f"  intake, SMTP 250s           {intake.accept_rate:8.1f} msgs/s\n"
        f"  intake, to the event        {intake.event_rate:8.1f} msgs/s"
        f"  ({intake.event_rate / bare:.3f} of the bare sink)\n"
        f"  250 to event                p50 {p50} ms  p95 {p95} ms  p99 {p99} ms",
        flush=True,
    )
    return {
        "messages": args.messages,
        "connections": args.connections,
        "senders": args.senders,
        "size_bytes": size,
        "bare_sink_msgs_per_s": round(bare, 1),
        "intake_smtp_accept_msgs_per_s": round(intake.accept_rate, 1),
        "intake_to_event_msgs_per_s": round(intake.event_rate, 1),
        "ratio_to_bare": round(intake.event_rate / bare, 3),
        "latency_ms": {"p50": p50, "p95": p95, "p99": p99},
        "target_msgs_per_s": TARGET_MSGS_PER_S,
        "met": intake.event_rate >= TARGET_MSGS_PER_S,
    }


def cli() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=2000, help="timed messages per run")
    parser.add_argument("--connections", type=int, default=8, help="SMTP connections at once")
    parser.add_argument("--senders", type=int, default=500, help="distinct sender addresses")
    parser.add_argument("--warmup", type=int, default=100, help="untimed messages per run first")
    parser.add_argument("--seed", type=int, default=5, help="seed of the generated mail")
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="seconds to wait for the last event"
    )
    parser.add_argument("--sink", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    # The services run on uvloop; so do the sink and the load generator.
    if args.sink is not None:
        uvloop.run(sink(args.sink))
        return
    home = Path(tempfile.mkdtemp(prefix="caseflow-bench-mail-"))
    try:
        result = uvloop.run(run(args, home))
    except BaseException:
        print(f"the run failed; its logs are kept in {home}", file=sys.stderr, flush=True)
        raise
    shutil.rmtree(home, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    cli()
