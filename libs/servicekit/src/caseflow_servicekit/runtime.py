"""The runtime of one service: its brokers, database, HTTP app, and command line.

`Kit` is built once in a service's `bootstrap` from its settings and table metadata. It owns
the engine, the Kafka broker (with tracing and Prometheus middlewares), the outbox and its
relay, the dead letters, the event consumers and the authenticator; `Kit.http_app` wraps the
service's routers in an ASGI app with health, metrics, OpenAPI and AsyncAPI endpoints.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, Union

import structlog
import uvicorn
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from faststream.kafka import KafkaBroker
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.specification import AsyncAPI
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy import MetaData, text

from caseflow_contracts import EVENT_TYPES, dlq, topic_of
from caseflow_servicekit import openapi
from caseflow_servicekit.auth import Authenticator
from caseflow_servicekit.consumer import EventConsumers, kafka_group
from caseflow_servicekit.db import INBOX_TABLE, OUTBOX_TABLE, create_engine, session_factory
from caseflow_servicekit.deadletter import DeadLetters
from caseflow_servicekit.edge import EdgeGuard
from caseflow_servicekit.logs import configure_logging
from caseflow_servicekit.metrics import KitMetrics
from caseflow_servicekit.outbox import BrokerTransport, Outbox, OutboxRelay, ProducerTransport
from caseflow_servicekit.problems import install_problem_handlers, problem_response
from caseflow_servicekit.retention import Retention
from caseflow_servicekit.settings import ServiceSettings
from caseflow_servicekit.telemetry import configure_tracing
from caseflow_servicekit.topics import create_topics

log = structlog.get_logger(__name__)

ReadyCheck = Callable[[], Awaitable[None]]
# How long one step of starting a service may take before the start counts as failed.
_START_STEP_SECONDS = 45.0


class Kit:
    """Everything one service runs on, built from its settings."""

    def __init__(
        self,
        *,
        service: str,
        settings: ServiceSettings,
        metadata: MetaData,
        version: str = "0.1.0",
        configure_process: bool = True,
    ) -> None:
        self.service = service
        self.settings = settings
        self.version = version
        self.metadata = metadata
        self._configure_process = configure_process
        if configure_process:
            configure_logging(service, level=settings.log_level, json=settings.log_json)
        self.tracer_provider = configure_tracing(service, otlp_endpoint=settings.otlp_endpoint)
        self.registry = CollectorRegistry()
        self.metrics = KitMetrics.create(self.registry)
        self.engine = create_engine(settings.database_url)
        instrumentor = AsyncPGInstrumentor()  # type: ignore[no-untyped-call]
        if settings.trace_sql and not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(tracer_provider=self.tracer_provider)
        self.sessions = session_factory(self.engine)
        self.kafka = KafkaBroker(
            settings.kafka_bootstrap_servers,
            client_id=f"caseflow-{service}",
            acks="all",
            enable_idempotence=settings.kafka_enable_idempotence,
            linger_ms=0,
            middlewares=(
                KafkaTelemetryMiddleware(tracer_provider=self.tracer_provider),
                KafkaPrometheusMiddleware(registry=self.registry, app_name=f"caseflow-{service}"),
            ),
            graceful_timeout=15.0,
            # Per-message lines belong at debug level; metrics and traces count messages.
            logger=logging.getLogger(f"caseflow.{service}.kafka"),
            log_level=logging.DEBUG,
        )
        outbox_table = metadata.tables[OUTBOX_TABLE]
        self.outbox = Outbox(outbox_table, source=f"/caseflow/{service}")
        self.relay = OutboxRelay(
            self.engine,
            outbox_table,
            ProducerTransport(
                bootstrap_servers=settings.kafka_bootstrap_servers,
                client_id=f"caseflow-{service}-outbox",
                acks="all",
                enable_idempotence=settings.kafka_enable_idempotence,
                linger_ms=2,
            ),
            metrics=self.metrics,
            batch_size=settings.outbox_batch_size,
            retention=settings.outbox_retention_seconds,
        )
        self.relay.on_new_cluster.append(self._on_new_cluster)
        self._cluster: str | None = None
        self.retention = Retention(
            self.engine,
            metrics=self.metrics,
            batch_size=settings.retention_batch_size,
            interval=settings.retention_interval_seconds,
        )
        self.retention.add(
            INBOX_TABLE, "received_at", timedelta(seconds=settings.inbox_retention_seconds)
        )
        if settings.outbox_retention_seconds > 0:
            self.retention.add(
                OUTBOX_TABLE, "relayed_at", timedelta(seconds=settings.outbox_retention_seconds)
            )
        self.dead_letters = DeadLetters(self.kafka, self.metrics)
        self.consumers = EventConsumers(
            self.kafka,
            service=service,
            settings=settings,
            metrics=self.metrics,
            dead_letters=self.dead_letters,
        )
        self.auth = Authenticator.from_settings(settings)
        self.publishes: list[str] = []
        self._started = False

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Create the topics, connect to Kafka, start consumers, the relay and retention."""
        if isinstance(self.relay.transport, ProducerTransport):
            try:
                async with asyncio.timeout(_START_STEP_SECONDS):
                    await self.create_topics()
            except Exception as exc:
                # Not fatal: the relay creates them as soon as it reaches the cluster.
                log.warning("kafka.topics_not_created", error=repr(exc))
        # Each step is bounded: a start that hangs becomes a failure that names its step, and
        # the process exits for its supervisor to start again.
        for step, starting in (
            ("kafka", self._start_kafka),
            ("outbox producer", self.relay.transport.start),
            ("outbox relay", self.relay.start),
            ("retention", self.retention.start),
        ):
            try:
                async with asyncio.timeout(_START_STEP_SECONDS):
                    await starting()
            except TimeoutError:
                log.error("service.start_step_timed_out", step=step, seconds=_START_STEP_SECONDS)
                raise
        self._started = True
        if self._configure_process:
            # What starting built (modules, models, compiled statements) lives as long as the
            # process: moved out of the collector's way, a full collection no longer walks it,
            # and no longer pauses the event loop for the time that walk takes.
            gc.collect()
            gc.freeze()
        log.info("service.started", kafka=self.settings.kafka_bootstrap_servers)

    async def _start_kafka(self) -> None:
        # As the broker's own start does, but with every subscriber started at once: each
        # joins a consumer group of its own, and a group's first join can take seconds on
        # Tansu; one after another, a service with many groups takes longer than a start step.
        broker = self.kafka
        if getattr(broker.start, "__func__", None) is not type(broker).start:
            # A test harness stands in for the broker's start (FastStream's TestKafkaBroker).
            await broker.start()
            return
        await broker.connect()
        await asyncio.gather(*(subscriber.start() for subscriber in broker.subscribers))
        for publisher in broker.publishers:
            await publisher.start()
        broker.running = True

    async def stop(self) -> None:
        """Stop taking work, finish what is in hand, close connections."""
        if self._started:
            await self.retention.stop()
            await self.relay.stop()
            await self.relay.transport.stop()
            await self.kafka.stop()
            self._started = False
        await self.engine.dispose()
        await self.auth.aclose()

    def topics(self) -> list[str]:
        """The topics this service publishes to and consumes, with their dead-letter topics."""
        consumed = {topic for topic, _ in self.consumers.subscriptions}
        return sorted({*self.publishes, *consumed, *(dlq(topic) for topic in consumed)})

    async def create_topics(self) -> list[str]:
        """Create this service's topics where the cluster lacks them; the ones created."""
        return await create_topics(
            self.settings.kafka_bootstrap_servers,
            self.topics(),
            partitions=self.settings.kafka_topic_partitions,
            client_id=f"caseflow-{self.service}-admin",
        )

    async def _on_new_cluster(self, cluster: str) -> None:
        # The relay met a cluster it has not published to: at start, or after the broker
        # was replaced (the embedded one loses everything when it restarts).
        await self.create_topics()
        if self._cluster is not None:
            log.warning("kafka.new_cluster", cluster_id=cluster, previous=self._cluster)
            await self.consumers.rewind()
        self._cluster = cluster  # only now: a failed hook runs again, rewind included

    def relay_through_broker(self) -> None:
        """Relay the outbox through the FastStream broker, e.g. FastStream's TestKafkaBroker."""
        self.relay.transport = BrokerTransport(self.kafka)

    async def check_ready(self) -> dict[str, str]:
        """Each dependency's state; raises nothing, reports 'ok' or the error."""
        checks: dict[str, str] = {}
        try:
            async with asyncio.timeout(2), self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"error: {type(exc).__name__}: {exc}"[:300]
        try:
            ok = await self.kafka.ping(timeout=2)
            checks["kafka"] = "ok" if ok else "error: not connected"
        except Exception as exc:
            checks["kafka"] = f"error: {type(exc).__name__}: {exc}"[:300]
        return checks

    # -- documents -------------------------------------------------------------------------

    def asyncapi(self) -> dict[str, Any]:
        """The AsyncAPI document of what this service consumes and publishes."""
        spec = KafkaBroker(self.settings.kafka_bootstrap_servers)
        consumed: dict[str, set[str] | None] = {}
        for topic, events in self.consumers.subscriptions:
            known = consumed.get(topic, set())
            consumed[topic] = None if events is None or known is None else known | set(events)
        for topic, types in sorted(consumed.items()):
            union = _payload_union(topic, types)

            async def consume(body: Any) -> None:
                return None

            consume.__annotations__["body"] = union
            spec.subscriber(
                topic,
                group_id=kafka_group(self.service, topic),
                title=f"{topic}:consume",
                description=f"Events the {self.service} service applies from {topic}.",
            )(consume)
        for topic in sorted(set(self.publishes)):
            spec.publisher(
                topic,
                schema=_payload_union(topic, None),
                title=f"{topic}:publish",
                description=f"Events the {self.service} service publishes on {topic}.",
            )
        doc = AsyncAPI(
            spec,
            title=f"caseflow-{self.service}",
            version=self.version,
            description=f"Events the Caseflow {self.service} service consumes and publishes.",
        )
        document: dict[str, Any] = json.loads(doc.to_specification().to_json())
        return document

    # -- HTTP ------------------------------------------------------------------------------

    def http_app(
        self,
        *,
        routers: Sequence[APIRouter],
        errors: Mapping[type[Exception], int] | None = None,
        title: str | None = None,
        description: str = "",
        on_startup: Sequence[Callable[[], Awaitable[None]]] = (),
        on_shutdown: Sequence[Callable[[], Awaitable[None]]] = (),
    ) -> ServiceApp:
        """The service's ASGI app: its routes plus health, metrics, OpenAPI and AsyncAPI."""

        @asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            await self.start()
            for hook in on_startup:
                await hook()
            try:
                yield
            finally:
                for hook in on_shutdown:
                    await hook()
                await self.stop()

        app = FastAPI(
            title=title or f"Caseflow {self.service}",
            version=self.version,
            description=description,
            lifespan=lifespan,
        )
        install_problem_handlers(app, errors)
        for router in routers:
            app.include_router(router)
        openapi.install(app, domain_statuses=(errors or {}).values())
        kit = self

        @app.get("/health/live", tags=["operations"])
        async def live() -> dict[str, str]:
            """The process is up."""
            return {"status": "ok"}

        @app.get(
            "/health/ready",
            tags=["operations"],
            responses={503: {"description": "The database or the broker does not answer."}},
        )
        async def ready(request: Request) -> Response:
            """The database and the broker answer."""
            checks = await kit.check_ready()
            if all(v == "ok" for v in checks.values()):
                return JSONResponse({"status": "ok", "checks": checks})
            return problem_response(
                503, "A dependency is not ready.", request=request, checks=checks
            )

        @app.get("/metrics", tags=["operations"], include_in_schema=False)
        async def metrics() -> Response:
            return Response(generate_latest(kit.registry), media_type=CONTENT_TYPE_LATEST)

        @app.get("/asyncapi.json", tags=["operations"])
        async def asyncapi() -> dict[str, Any]:
            """The AsyncAPI document of the service's events."""
            return kit.asyncapi()

        app.add_middleware(EdgeGuard)
        app.add_middleware(_HttpMetricsMiddleware, metrics=self.metrics)
        # One server span per request; the per-chunk send/receive spans cost more than they tell.
        asgi = OpenTelemetryMiddleware(
            app, tracer_provider=self.tracer_provider, exclude_spans=["receive", "send"]
        )
        return ServiceApp(kit=self, fastapi=app, asgi=asgi)


class ServiceApp:
    """A service's ASGI app, with its kit and FastAPI app at hand for tests and tools."""

    def __init__(self, *, kit: Kit, fastapi: FastAPI, asgi: Any) -> None:
        self.kit = kit
        self.fastapi = fastapi
        self._asgi = asgi

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self._asgi(scope, receive, send)


def _payload_union(topic: str, events: set[str] | None) -> Any:
    models = tuple(
        m
        for t, m in sorted(EVENT_TYPES.items())
        if topic_of(t) == topic and (events is None or t in events)
    )
    if not models:
        return dict
    return models[0] if len(models) == 1 else Union[models]  # noqa: UP007


class _HttpMetricsMiddleware:
    """Counts requests and their duration by route template (never by raw path)."""

    def __init__(self, app: Any, metrics: KitMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message: Any) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "GET")
            self.metrics.http_requests.labels(template, method, f"{status['code'] // 100}xx").inc()
            self.metrics.http_seconds.labels(template, method).observe(
                time.perf_counter() - started
            )


# -- command line ------------------------------------------------------------------------------


def run_service(
    *,
    service: str,
    settings_factory: Callable[[], ServiceSettings],
    app_factory: Callable[[ServiceSettings], ServiceApp],
    migrations: Path,
    argv: Sequence[str] | None = None,
) -> int:
    """`python -m <service> [serve|migrate|asyncapi]`."""
    parser = argparse.ArgumentParser(prog=f"python -m {service}")
    parser.add_argument(
        "command", nargs="?", default="serve", choices=["serve", "migrate", "asyncapi"]
    )
    parser.add_argument("--migrate", action="store_true", help="with serve: migrate first")
    args = parser.parse_args(argv)
    try:
        settings = settings_factory()
    except Exception as exc:
        print(f"{service}: invalid settings: {exc}", file=sys.stderr)
        return 2
    if args.command in ("migrate",) or args.migrate:
        from caseflow_servicekit.migrations import upgrade

        upgrade(settings.database_url, migrations)
        if args.command == "migrate":
            print(f"{service}: database migrated")
            return 0
    if args.command == "asyncapi":
        print(json.dumps(app_factory(settings).kit.asyncapi(), indent=2, sort_keys=True))
        return 0
    app = app_factory(settings)
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        timeout_graceful_shutdown=15,
        timeout_keep_alive=settings.http_keep_alive_seconds,
    )
    uvicorn.Server(config).run()
    return 0
