"""The attachments' HTTP API with a real PostgreSQL and blobs on disk: uploads, downloads and
their headers, metadata, limits, and who may do what."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from faststream.kafka import TestKafkaBroker
from sqlalchemy import func, select

from caseflow_servicekit import Kit, ServiceApp
from caseflow_servicekit.auth import agent_id_of
from caseflow_servicekit.testing import bearer, running
from intake.adapters.attachments import SqlAttachmentUnitOfWork
from intake.adapters.blobs import FilesystemBlobStore
from intake.adapters.tables import attachments, metadata
from intake.bootstrap import ERRORS, MIGRATIONS
from intake.domain.attachments import AttachmentLimits, AttachmentTooLarge
from intake.entrypoints import attachments_http
from intake.settings import IntakeSettings

pytestmark = pytest.mark.service

NOW = datetime(2026, 5, 20, 9, 14, 7, tzinfo=UTC)
MAX_BYTES = 64 * 1024
WEB_KEY = "web-form-key-123"
PROBLEM_JSON = "application/problem+json"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
METER = "Zählerstand März.txt"
METER_TEXT = "Zähler 4711: 12 345 kWh\n".encode()


class FixedClock:
    def now(self) -> datetime:
        return NOW


@dataclass
class Service:
    app: ServiceApp
    client: httpx.AsyncClient
    blobs: FilesystemBlobStore

    def agent(self, subject: str = "anna") -> dict[str, str]:
        return bearer(self.app, "agent", subject=subject)

    async def rows(self) -> list[dict[str, Any]]:
        async with self.app.kit.engine.connect() as conn:
            result = await conn.execute(select(attachments))
            return [dict(row) for row in result.mappings()]

    async def count(self) -> int:
        async with self.app.kit.engine.connect() as conn:
            query = select(func.count()).select_from(attachments)
            return int((await conn.execute(query)).scalar_one())

    def blob_files(self) -> list[Path]:
        return sorted(p for p in self.blobs.root.rglob("*") if p.is_file())


@asynccontextmanager
async def serve(database: str, blob_dir: Path) -> AsyncIterator[Service]:
    """The attachments' routes as `intake.bootstrap` wires them, on a kit of their own."""
    settings = IntakeSettings(
        database_url=database,
        kafka_bootstrap_servers="test:9092",
        channel_api_keys=f"web:{WEB_KEY}",
    )
    kit = Kit(service="intake", settings=settings, metadata=metadata, configure_process=False)
    blobs = FilesystemBlobStore(blob_dir)
    await blobs.start()
    routes = attachments_http.router(
        uow_factory=lambda: SqlAttachmentUnitOfWork(kit.sessions, kit.outbox),
        auth=kit.auth,
        blobs=blobs,
        limits=AttachmentLimits(max_bytes=MAX_BYTES),
        clock=FixedClock(),
        max_files=4,
    )
    app = kit.http_app(routers=[routes], errors={**ERRORS, AttachmentTooLarge: 413})
    async with TestKafkaBroker(kit.kafka), running(app, migrations=MIGRATIONS) as client:
        try:
            yield Service(app, client, blobs)
        finally:
            await blobs.close()


@pytest.fixture
async def service(fresh_database: str, tmp_path: Path) -> AsyncIterator[Service]:
    async with serve(fresh_database, tmp_path / "blobs") as running_:
        yield running_


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


async def test_an_agent_uploads_two_files_and_downloads_one(service: Service) -> None:
    case_id = uuid.uuid4()
    response = await service.client.post(
        "/attachments",
        headers=service.agent(),
        files=[
            ("file", ("../../screenshot.html", PNG, "text/html")),
            ("file", (METER, METER_TEXT, "text/plain")),
        ],
        data={"case_id": str(case_id)},
    )
    assert response.status_code == 201, response.text
    shot, meter = response.json()["attachments"]
    assert {k: v for k, v in shot.items() if k != "attachment_id"} == {
        "filename": "screenshot.html",
        "content_type": "image/png",
        "size": len(PNG),
        "sha256": hashlib.sha256(PNG).hexdigest(),
    }
    assert (meter["filename"], meter["content_type"]) == (METER, "text/plain")

    rows = await service.rows()
    assert {row["attachment_id"] for row in rows} == {
        uuid.UUID(shot["attachment_id"]),
        uuid.UUID(meter["attachment_id"]),
    }
    for row in rows:
        assert (row["source"], row["case_id"], row["uploaded_by"], row["inline"]) == (
            "agent",
            case_id,
            agent_id_of("anna"),
            False,
        )
        assert row["created_at"] == NOW
    assert len(service.blob_files()) == 2

    # Another agent downloads the meter reading.
    download = await service.client.get(
        f"/attachments/{meter['attachment_id']}", headers=service.agent("ben")
    )
    assert download.status_code == 200
    assert download.content == METER_TEXT
    headers = download.headers
    assert headers["content-type"] == "text/plain"
    assert headers["content-length"] == str(len(METER_TEXT))
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["etag"] == f'"{meter["sha256"]}"'
    assert headers["content-disposition"] == (
        'attachment; filename="Zahlerstand Marz.txt"; '
        "filename*=UTF-8''Z%C3%A4hlerstand%20M%C3%A4rz.txt"
    )
    assert "sandbox" in headers["content-security-policy"]

    picture = await service.client.get(
        f"/attachments/{shot['attachment_id']}", headers=service.agent()
    )
    assert (picture.content, picture.headers["content-type"]) == (PNG, "image/png")

    meta = await service.client.get(
        f"/attachments/{meter['attachment_id']}/meta", headers=service.agent()
    )
    assert meta.status_code == 200
    assert meta.json() == {
        **meter,
        "source": "agent",
        "inline": False,
        "content_id": None,
        "mail_id": None,
        "interaction_id": None,
        "case_id": str(case_id),
        "uploaded_by": str(agent_id_of("anna")),
        "created_at": "2026-05-20T09:14:07Z",
    }


async def test_the_same_bytes_twice_are_two_attachments_and_one_blob(service: Service) -> None:
    upload = [("file", ("a.txt", b"same", "text/plain")), ("file", ("b.txt", b"same", None))]
    response = await service.client.post("/attachments", headers=service.agent(), files=upload)
    assert response.status_code == 201, response.text
    first, second = response.json()["attachments"]
    assert first["attachment_id"] != second["attachment_id"]
    assert first["sha256"] == second["sha256"]
    assert len(service.blob_files()) == 1


async def test_a_file_over_the_limit_is_413_and_nothing_is_kept(service: Service) -> None:
    response = await service.client.post(
        "/attachments",
        headers=service.agent(),
        files=[
            ("file", ("small.txt", b"fits", "text/plain")),
            ("file", ("big.bin", os.urandom(MAX_BYTES + 1), "application/octet-stream")),
        ],
    )
    assert _problem(response, 413)["max_bytes"] == MAX_BYTES
    assert await service.count() == 0
    assert service.blob_files() == []


async def test_a_request_larger_than_any_upload_is_413_before_it_is_read(
    service: Service,
) -> None:
    response = await service.client.post(
        "/attachments",
        headers={**service.agent(), "Content-Type": "multipart/form-data; boundary=x"},
        content=b"--x\r\n" + b"x" * (4 * 2 * MAX_BYTES + 1),
    )
    _problem(response, 413)


async def test_a_chunked_request_is_counted_as_it_comes(service: Service) -> None:
    boundary = "caseflow-boundary"
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="huge.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()

    async def body() -> AsyncIterator[bytes]:
        yield head
        for _ in range(40):  # 40 × 16 KiB = 640 KiB, past the request limit of 512 KiB
            yield os.urandom(16 * 1024)
        yield f"\r\n--{boundary}--\r\n".encode()

    response = await service.client.post(
        "/attachments",
        headers={
            **service.agent(),
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
        content=body(),
    )
    _problem(response, 413)
    assert await service.count() == 0


async def test_an_upload_needs_a_file_and_a_form(service: Service) -> None:
    no_file = await service.client.post(
        "/attachments", headers=service.agent(), files={"case_id": (None, str(uuid.uuid4()))}
    )
    assert any(error["loc"] == ["body", "file"] for error in _problem(no_file, 422)["errors"])

    as_json = await service.client.post(
        "/attachments", headers=service.agent(), json={"file": "aGVsbG8="}
    )
    _problem(as_json, 415)

    bad_case = await service.client.post(
        "/attachments",
        headers=service.agent(),
        files=[("file", ("a.txt", b"a", "text/plain"))],
        data={"case_id": "not-a-uuid"},
    )
    _problem(bad_case, 422)

    too_many = await service.client.post(
        "/attachments",
        headers=service.agent(),
        files=[("file", (f"{n}.txt", b"n", "text/plain")) for n in range(5)],
    )
    _problem(too_many, 400)
    assert await service.count() == 0


async def test_who_may_upload_and_download(service: Service) -> None:
    upload = [("file", ("a.txt", b"a", "text/plain"))]
    _problem(await service.client.post("/attachments", files=upload), 401)
    # A channel's key may submit requests, not handle attachments.
    channel = {"X-Api-Key": WEB_KEY}
    _problem(await service.client.post("/attachments", headers=channel, files=upload), 403)
    # Refused before the body is looked at: even a body that is no form.
    _problem(await service.client.post("/attachments", headers=channel, json={}), 403)

    for role in ("agent", "supervisor", "admin"):
        allowed = await service.client.post(
            "/attachments", headers=bearer(service.app, role), files=upload
        )
        assert allowed.status_code == 201, (role, allowed.text)
    attachment_id = allowed.json()["attachments"][0]["attachment_id"]

    for path in (f"/attachments/{attachment_id}", f"/attachments/{attachment_id}/meta"):
        _problem(await service.client.get(path), 401)
        _problem(await service.client.get(path, headers=channel), 403)
        assert (await service.client.get(path, headers=service.agent())).status_code == 200


async def test_an_unknown_or_malformed_id_is_a_problem(service: Service) -> None:
    for path in ("/attachments/{}", "/attachments/{}/meta"):
        unknown = await service.client.get(path.format(uuid.uuid4()), headers=service.agent())
        _problem(unknown, 404)
        malformed = await service.client.get(path.format("nope"), headers=service.agent())
        _problem(malformed, 422)


async def test_the_openapi_document_describes_the_upload(service: Service) -> None:
    document = (await service.client.get("/openapi.json")).json()
    upload = document["paths"]["/attachments"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert {"201", "401", "403", "413", "415", "422"} <= set(upload["responses"])
    download = document["paths"]["/attachments/{attachment_id}"]["get"]
    assert "*/*" in download["responses"]["200"]["content"]
    assert upload["x-caseflow-roles"] == ["agent"]
