"""Web submissions with files, as multipart/form-data, with a real PostgreSQL, blobs on disk
and the subscriber driven through TestKafkaBroker: the files are kept, the interaction's event
refers to them, and JSON submissions go on as before."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from sqlalchemy import func, select

import caseflow_contracts as c
from caseflow_contracts import topics
from caseflow_servicekit import ServiceApp
from caseflow_servicekit.testing import bearer, eventually, running
from intake.adapters.blobs import FilesystemBlobStore
from intake.adapters.tables import attachments, contacts, idempotency_keys, interactions, metadata
from intake.app.handlers import SubmitRequest, UploadedFile
from intake.bootstrap import MIGRATIONS, MailChannel, build
from intake.domain.interactions import Channel
from intake.settings import IntakeSettings

pytestmark = pytest.mark.service

NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
WEB_KEY = "web-form-key-123"
CHANNEL = {"X-Api-Key": WEB_KEY}
PROBLEM_JSON = "application/problem+json"
MAX_BYTES = 64 * 1024
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
PASSWD = b"root:x:0:0:root:/root:/bin/bash\n"
outbox_table = metadata.tables["outbox"]


class FixedClock:
    def now(self) -> datetime:
        return NOW


@dataclass
class Service:
    app: ServiceApp
    client: httpx.AsyncClient
    broker: KafkaBroker
    blobs: FilesystemBlobStore
    published: list[c.Event] = field(default_factory=list)

    def agent(self) -> dict[str, str]:
        return bearer(self.app, "agent")

    async def count(self, table: Any) -> int:
        async with self.app.kit.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())

    async def all_published(self) -> list[c.Event]:
        """What was published once the outbox has drained."""

        async def drained() -> bool | None:
            unrelayed = outbox_table.select().where(outbox_table.c.relayed_at.is_(None))
            return True if await self.count(unrelayed.subquery()) == 0 else None

        await eventually(drained)
        return list(self.published)

    async def nothing_recorded(self) -> None:
        for table in (contacts, interactions, attachments, idempotency_keys, outbox_table):
            assert await self.count(table) == 0, table
        assert [p for p in self.blobs.root.rglob("*") if p.is_file()] == []


@pytest.fixture
async def service(fresh_database: str, tmp_path: Path) -> AsyncIterator[Service]:
    settings = IntakeSettings(
        database_url=fresh_database,
        kafka_bootstrap_servers="test:9092",
        channel_api_keys=f"web:{WEB_KEY}",
        blob_dir=str(tmp_path / "blobs"),
        attachment_max_bytes=MAX_BYTES,
    )
    app = build(settings, clock=FixedClock(), configure_process=False)
    published: list[c.Event] = []

    @app.kit.kafka.subscriber(topics.INTAKE_INTERACTIONS, group_id="probe")
    async def probe(message: KafkaMessage) -> None:
        published.append(c.decode(dict(message.headers)["ce_type"], message.body))

    mail: MailChannel = app.fastapi.state.mail
    blobs = mail.blobs
    assert isinstance(blobs, FilesystemBlobStore)
    # `running` starts the kit, not the app's lifespan, which would start the blob store.
    await blobs.start()
    async with (
        TestKafkaBroker(app.kit.kafka) as broker,
        running(app, migrations=MIGRATIONS) as client,
    ):
        yield Service(app, client, broker, blobs, published)
    await blobs.close()


def form(**overrides: Any) -> dict[str, str]:
    """A submission's fields as a web form sends them: `parameters` JSON-encoded."""
    fields: dict[str, str] = {
        "name": "Marta Kowalska",
        "email": "Marta.Kowalska@Acme.example",
        "phone": "+48 601 234 567",
        "subject": "Meter photo and the invoice",
        "body": "The photo of my meter, and the invoice that does not match it.",
        "parameters": json.dumps({"invoice_number": "2024-0456"}),
        "locale": "pl-PL",
    }
    fields.update(overrides)
    return fields


def two_files() -> list[tuple[str, tuple[str, bytes, str]]]:
    return [
        # A path for a name and a type the content belies.
        ("files", ("../../etc/passwd", PASSWD, "text/plain")),
        ("files", ("..\\..\\meter.html", PNG, "text/html")),
    ]


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


async def test_two_files_are_kept_and_the_event_refers_to_them(service: Service) -> None:
    r = await service.client.post(
        "/web-submissions", data=form(), files=two_files(), headers=CHANNEL
    )
    assert r.status_code == 202, r.text
    accepted = r.json()

    [event] = await service.all_published()
    assert isinstance(event, c.InteractionReceived)
    assert str(event.interaction_id) == accepted["interaction_id"]
    assert (event.channel, event.parameters) == (c.Channel.WEB, {"invoice_number": "2024-0456"})
    passwd, meter = event.attachments
    assert (passwd.filename, passwd.content_type, passwd.size, passwd.sha256) == (
        "passwd",
        "text/plain",
        len(PASSWD),
        hashlib.sha256(PASSWD).hexdigest(),
    )
    assert (meter.filename, meter.content_type, meter.size, meter.sha256) == (
        "meter.html",
        "image/png",
        len(PNG),
        hashlib.sha256(PNG).hexdigest(),
    )

    for ref, content in ((passwd, PASSWD), (meter, PNG)):
        download = await service.client.get(
            f"/attachments/{ref.attachment_id}", headers=service.agent()
        )
        assert download.status_code == 200, download.text
        assert (download.content, download.headers["content-type"]) == (content, ref.content_type)
        meta = await service.client.get(
            f"/attachments/{ref.attachment_id}/meta", headers=service.agent()
        )
        assert (meta.json()["source"], meta.json()["interaction_id"]) == (
            "web",
            accepted["interaction_id"],
        )
    assert (await service.count(interactions), await service.count(attachments)) == (1, 2)


async def test_a_file_over_the_limit_is_a_413_and_nothing_is_recorded(service: Service) -> None:
    files = [
        ("files", ("small.txt", b"fits", "text/plain")),
        ("files", ("big.bin", os.urandom(MAX_BYTES + 1), "application/octet-stream")),
    ]
    r = await service.client.post(
        "/web-submissions",
        data=form(),
        files=files,
        headers={**CHANNEL, "Idempotency-Key": "too-big"},
    )
    assert _problem(r, 413)["max_bytes"] == MAX_BYTES
    await service.nothing_recorded()

    # A body larger than any request may be is refused before it is read.
    too_long = await service.client.post(
        "/web-submissions",
        headers={**CHANNEL, "Content-Type": "multipart/form-data; boundary=x"},
        content=b"--x\r\n" + b"x" * (20 * (MAX_BYTES + 64 * 1024) + 1),
    )
    _problem(too_long, 413)
    await service.nothing_recorded()


async def test_json_goes_on_as_before(service: Service) -> None:
    body = {**form(), "parameters": {"invoice_number": "2024-0456"}}
    r = await service.client.post("/web-submissions", json=body, headers=CHANNEL)
    assert r.status_code == 202, r.text
    [event] = await service.all_published()
    assert isinstance(event, c.InteractionReceived)
    assert event.attachments == []
    assert event.parameters == {"invoice_number": "2024-0456"}

    invalid = await service.client.post(
        "/web-submissions", json={**body, "email": "nope"}, headers=CHANNEL
    )
    assert [e["loc"] for e in _problem(invalid, 422)["errors"]] == [["body", "email"]]


async def test_a_form_without_files_is_a_request_like_any_other(service: Service) -> None:
    # A browser sends every field, those left empty too, and a part with an empty name and
    # no bytes for a file input left empty.
    boundary = "form-boundary"
    parts = [
        f'Content-Disposition: form-data; name="{name}"\r\n\r\n{value}'
        for name, value in form(phone="", request_type="", locale="", parameters="").items()
    ]
    parts.append(
        'Content-Disposition: form-data; name="files"; filename=""\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    )
    body = "".join(f"--{boundary}\r\n{part}\r\n" for part in parts) + f"--{boundary}--\r\n"
    r = await service.client.post(
        "/web-submissions",
        content=body.encode(),
        headers={**CHANNEL, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert r.status_code == 202, r.text
    [event] = await service.all_published()
    assert isinstance(event, c.InteractionReceived)
    assert (event.attachments, event.parameters, event.language) == ([], {}, None)
    assert await service.count(attachments) == 0


async def test_another_media_type_is_a_415(service: Service) -> None:
    for content_type, content in (
        ("application/x-www-form-urlencoded", b"name=Marta&email=m%40acme.example"),
        ("text/plain", json.dumps(form()).encode()),
    ):
        r = await service.client.post(
            "/web-submissions",
            headers={**CHANNEL, "Content-Type": content_type},
            content=content,
        )
        _problem(r, 415)
    # Who calls is checked before what they send.
    _problem(await service.client.post("/web-submissions", data=form(), files=two_files()), 401)
    await service.nothing_recorded()


async def test_a_form_that_is_not_valid_is_a_422_naming_each_field(service: Service) -> None:
    fields = form(email="not-an-address", parameters="{invoice")
    del fields["subject"]
    r = await service.client.post(
        "/web-submissions",
        data={**fields, "files": "text, not a file"},
        files=two_files(),
        headers={**CHANNEL, "Idempotency-Key": "bad-form"},
    )
    errors = _problem(r, 422)["errors"]
    assert {tuple(e["loc"]) for e in errors} == {
        ("body", "files", 0),
        ("body", "parameters"),
        ("body", "email"),
        ("body", "subject"),
    }
    unknown = await service.client.post(
        "/web-submissions", data=form(colour="blue"), files=two_files(), headers=CHANNEL
    )
    assert [e["loc"] for e in _problem(unknown, 422)["errors"]] == [["body", "colour"]]
    # A web form's key cannot name a channel, in a form as in JSON.
    channel = await service.client.post(
        "/web-submissions", data=form(channel="phone"), files=two_files(), headers=CHANNEL
    )
    assert [e["loc"][:2] for e in _problem(channel, 422)["errors"]] == [["body", "channel"]]
    too_many = await service.client.post(
        "/web-submissions",
        data=form(),
        files=[("files", (f"{n}.txt", b"n", "text/plain")) for n in range(21)],
        headers=CHANNEL,
    )
    _problem(too_many, 400)
    await service.nothing_recorded()


async def test_a_replay_with_files_is_answered_as_the_first_and_keeps_nothing_new(
    service: Service,
) -> None:
    headers = {**CHANNEL, "Idempotency-Key": "form-with-files"}
    first = await service.client.post(
        "/web-submissions", data=form(), files=two_files(), headers=headers
    )
    again = await service.client.post(
        "/web-submissions", data=form(), files=two_files(), headers=headers
    )
    assert (first.status_code, again.status_code) == (202, 202), again.text
    assert again.json() == first.json()
    assert (await service.count(interactions), await service.count(attachments)) == (1, 2)
    assert len(await service.all_published()) == 1

    # The files are part of what the key stands for.
    other = [("files", ("../../etc/passwd", PASSWD + b"#", "text/plain"))]
    reused = await service.client.post(
        "/web-submissions", data=form(), files=other, headers=headers
    )
    assert _problem(reused, 409)["detail"] == "Idempotency-Key reused with a different payload."
    assert (await service.count(interactions), await service.count(attachments)) == (1, 2)


async def test_the_openapi_document_describes_both_bodies(service: Service) -> None:
    document = (await service.client.get("/openapi.json")).json()
    operation = document["paths"]["/web-submissions"]["post"]
    content = operation["requestBody"]["content"]
    assert content["application/json"]["schema"]["required"] == [
        "name",
        "email",
        "subject",
        "body",
    ]
    multipart = content["multipart/form-data"]["schema"]
    assert multipart["properties"]["files"]["type"] == "array"
    assert multipart["properties"]["parameters"]["contentMediaType"] == "application/json"
    assert {"202", "400", "401", "403", "409", "413", "415", "422", "429"} <= set(
        operation["responses"]
    )
    assert operation["x-caseflow-roles"] == ["channel", "agent"]
    assert {"name": "Idempotency-Key", "in": "header"}.items() <= operation["parameters"][0].items()
    # The ids of the answer still link to the operations that take them.
    assert "links" in operation["responses"]["202"]


def test_files_count_in_a_key_by_their_bytes_and_only_when_there_are_some() -> None:
    plain = SubmitRequest(
        channel=Channel.WEB, name="M", email="m@acme.example", subject="S", body=""
    )
    # A request without files keeps the fingerprint it had before files were taken.
    assert "files" not in plain.payload()
    with_files = SubmitRequest(
        channel=Channel.WEB,
        name="M",
        email="m@acme.example",
        subject="S",
        body="",
        files=(
            UploadedFile(content=PASSWD, filename="passwd", declared_type="text/plain"),
            UploadedFile(content=PNG, filename="other name.png"),
        ),
    )
    assert with_files.payload()["files"] == [
        hashlib.sha256(PASSWD).hexdigest(),
        hashlib.sha256(PNG).hexdigest(),
    ]
    # Nor does a file's repr carry its bytes into a log.
    assert "root:x" not in repr(with_files)
