"""The blob stores: files on a local disk, and objects in a real S3-compatible store
(SeaweedFS, started by the development stack)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from caseflow_devstack.errors import InfrastructureError
from caseflow_devstack.s3 import EmbeddedS3, weed_binary
from intake.adapters.blobs import FilesystemBlobStore, S3BlobStore, blob_store_from
from intake.app.attachments import BlobMissing

pytestmark = pytest.mark.service

ABSENT = "0" * 64


# -- on disk ------------------------------------------------------------------------------------


@pytest.fixture
async def disk(tmp_path: Path) -> FilesystemBlobStore:
    store = FilesystemBlobStore(tmp_path / "blobs")
    await store.start()
    return store


async def test_disk_keeps_bytes_under_their_sha256(disk: FilesystemBlobStore) -> None:
    content = b"the printer on floor 3 jams again"
    sha256 = await disk.put(content)
    assert sha256 == hashlib.sha256(content).hexdigest()
    assert await disk.exists(sha256)
    assert await disk.get(sha256) == content
    assert disk.path_of(sha256) == disk.root / sha256[:2] / sha256[2:4] / sha256


async def test_disk_keeps_the_same_bytes_once(disk: FilesystemBlobStore) -> None:
    content = os.urandom(300_000)  # large enough to be hashed off the event loop
    first = await disk.put(content)
    modified = disk.path_of(first).stat().st_mtime_ns
    assert await disk.put(content) == first
    assert disk.path_of(first).stat().st_mtime_ns == modified
    files = [p for p in disk.root.rglob("*") if p.is_file()]
    assert files == [disk.path_of(first)]  # and no temporary file left behind


async def test_disk_keeps_empty_content(disk: FilesystemBlobStore) -> None:
    sha256 = await disk.put(b"")
    assert await disk.get(sha256) == b""


async def test_disk_says_what_it_does_not_have(disk: FilesystemBlobStore) -> None:
    assert not await disk.exists(ABSENT)
    with pytest.raises(BlobMissing):
        await disk.get(ABSENT)


@pytest.mark.parametrize("bad", ["../../etc/passwd", "A" * 64, "abc", ""])
async def test_disk_refuses_what_is_no_sha256(disk: FilesystemBlobStore, bad: str) -> None:
    with pytest.raises(ValueError, match="SHA-256"):
        await disk.get(bad)


def test_the_factory_builds_the_store_the_settings_name(tmp_path: Path) -> None:
    on_disk = blob_store_from("filesystem", directory=tmp_path)
    assert isinstance(on_disk, FilesystemBlobStore)
    in_s3 = blob_store_from(
        "s3",
        endpoint_url="http://127.0.0.1:8333",
        bucket="b",
        access_key="k",
        secret_key="s",
        prefix="/intake/",
    )
    assert isinstance(in_s3, S3BlobStore)
    assert in_s3.key_of(ABSENT) == f"intake/00/00/{ABSENT}"
    with pytest.raises(ValueError, match="directory"):
        blob_store_from("filesystem")
    with pytest.raises(ValueError, match="INTAKE_S3_ACCESS_KEY, INTAKE_S3_SECRET_KEY"):
        blob_store_from("s3", bucket="b")
    with pytest.raises(ValueError, match="unknown blob store"):
        blob_store_from("tape")


# -- in S3 --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedS3]:
    try:
        weed_binary()
    except InfrastructureError as error:
        pytest.skip(f"SeaweedFS cannot run here: {error}")
    with EmbeddedS3(tmp_path_factory.mktemp("seaweed"), exit_with_parent=True) as store:
        yield store


@pytest.fixture
async def s3(seaweed: EmbeddedS3) -> AsyncIterator[S3BlobStore]:
    store = S3BlobStore(
        seaweed.endpoint_url,
        "intake-blobs",
        seaweed.access_key,
        seaweed.secret_key,
        prefix="tests",
    )
    await store.start()  # creates the bucket the first time
    try:
        yield store
    finally:
        await store.close()


async def test_s3_round_trips_a_3_mb_blob(s3: S3BlobStore) -> None:
    content = os.urandom(3 * 1024 * 1024)
    sha256 = await s3.put(content)
    assert sha256 == hashlib.sha256(content).hexdigest()
    assert await s3.exists(sha256)
    assert await s3.get(sha256) == content


async def test_s3_uploads_the_same_bytes_once(s3: S3BlobStore) -> None:
    content = b"a reply quoted in every message of the thread"
    sha256 = await s3.put(content)
    uploads: list[str] = []
    s3._s3.meta.events.register("before-call.s3.PutObject", lambda **_: uploads.append("PutObject"))
    assert await s3.put(content) == sha256
    assert uploads == []
    assert await s3.get(sha256) == content


async def test_s3_says_what_it_does_not_have(s3: S3BlobStore) -> None:
    assert not await s3.exists(ABSENT)
    with pytest.raises(BlobMissing):
        await s3.get(ABSENT)


async def test_s3_refuses_a_wrong_secret(seaweed: EmbeddedS3) -> None:
    store = S3BlobStore(seaweed.endpoint_url, "intake-blobs", seaweed.access_key, "wrong")
    with pytest.raises(ClientError, match="Forbidden"):
        await store.start()
    await store.close()
