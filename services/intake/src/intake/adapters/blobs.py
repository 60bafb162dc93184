"""Blob stores: bytes kept under their SHA-256, on a local disk or in an S3-compatible store.

Both lay blobs out as `ab/cd/abcd…` (the first two pairs of hex digits as directories or key
prefixes), so that no directory or listing grows to millions of entries. Both are started
before use and closed after (`start`, `close`); `blob_store_from` builds the one the settings
name.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import tempfile
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import structlog
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import ClientError

from intake.app.attachments import BlobMissing

log = structlog.get_logger(__name__)

_SHA256_HEX = re.compile(r"[0-9a-f]{64}", re.ASCII)
# Hashing a few hundred KiB takes well under a millisecond; larger content is hashed off the
# event loop so that one big upload does not stall every other request.
_HASH_INLINE_BYTES = 256 * 1024
_NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


def _checked(sha256: str) -> str:
    if not _SHA256_HEX.fullmatch(sha256):
        msg = f"{sha256[:80]!r} is not a lower-case SHA-256 hex digest"
        raise ValueError(msg)
    return sha256


def _fan_out(sha256: str) -> str:
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"


async def _sha256(content: bytes) -> str:
    if len(content) <= _HASH_INLINE_BYTES:
        return hashlib.sha256(content).hexdigest()
    return await asyncio.to_thread(lambda: hashlib.sha256(content).hexdigest())


class FilesystemBlobStore:
    """Blobs as files under `root`, each written whole or not at all."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, sha256: str) -> Path:
        """Where the blob `sha256` is (or would be) kept."""
        return self.root / _fan_out(_checked(sha256))

    async def start(self) -> None:
        """Create the root directory if it is missing."""
        await asyncio.to_thread(self.root.mkdir, parents=True, exist_ok=True)

    async def close(self) -> None:
        """Nothing to release; here so that either store is run the same way."""

    async def put(self, content: bytes) -> str:
        """Keep `content`; returns its SHA-256. The same bytes are kept once."""
        sha256 = await _sha256(content)
        await asyncio.to_thread(self._write, self.path_of(sha256), content)
        return sha256

    async def get(self, sha256: str) -> bytes:
        """The bytes kept under `sha256`; raises BlobMissing when there are none."""
        path = self.path_of(sha256)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise BlobMissing(sha256) from None

    async def exists(self, sha256: str) -> bool:
        """Whether bytes are kept under `sha256`."""
        return await asyncio.to_thread(self.path_of(sha256).is_file)

    @staticmethod
    def _write(target: Path, content: bytes) -> None:
        if target.is_file():
            return  # content-addressed: what is there is these very bytes
        target.parent.mkdir(parents=True, exist_ok=True)
        # Written beside the target and renamed over it: a reader, or a crash, sees the whole
        # blob or none of it, never a part. Two writers of the same bytes both succeed.
        descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".part")
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(content)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        # The rename is durable only once the directory holding it is.
        directory = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def __repr__(self) -> str:
        return f"FilesystemBlobStore({str(self.root)!r})"


class S3BlobStore:
    """Blobs as objects of one bucket of an S3-compatible store (AWS S3, SeaweedFS, MinIO,
    Ceph …), under `prefix`.

    One client, opened by `start` and kept until `close`, serves every call. `start` creates
    the bucket when it is missing. `endpoint_url` None is AWS itself.
    """

    def __init__(
        self,
        endpoint_url: str | None,
        bucket: str,
        access_key: str,
        secret_key: str,
        region: str = "us-east-1",
        prefix: str = "",
    ) -> None:
        if not bucket:
            msg = "an S3 blob store needs a bucket"
            raise ValueError(msg)
        self.endpoint_url = endpoint_url
        self.bucket = bucket
        self.region = region
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        self._access_key = access_key
        self._secret_key = secret_key
        self._stack: AsyncExitStack | None = None
        self._client: Any = None

    def key_of(self, sha256: str) -> str:
        """The object key of the blob `sha256`."""
        return f"{self.prefix}{_fan_out(_checked(sha256))}"

    async def start(self) -> None:
        """Open the client and make sure the bucket exists."""
        if self._client is not None:
            return
        config = AioConfig(
            # Path-style addressing: self-hosted stores rarely have a DNS name per bucket.
            s3={"addressing_style": "path"},
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=5,
            read_timeout=60,
        )
        stack = AsyncExitStack()
        try:
            self._client = await stack.enter_async_context(
                get_session().create_client(
                    "s3",
                    endpoint_url=self.endpoint_url,
                    region_name=self.region,
                    aws_access_key_id=self._access_key,
                    aws_secret_access_key=self._secret_key,
                    config=config,
                )
            )
            await self._ensure_bucket()
        except BaseException:
            self._client = None
            await stack.aclose()
            raise
        self._stack = stack

    async def close(self) -> None:
        """Close the client."""
        stack, self._stack, self._client = self._stack, None, None
        if stack is not None:
            await stack.aclose()

    async def put(self, content: bytes) -> str:
        """Keep `content`; returns its SHA-256. The same bytes are uploaded once."""
        sha256 = await _sha256(content)
        if await self.exists(sha256):
            return sha256
        await self._s3.put_object(
            Bucket=self.bucket,
            Key=self.key_of(sha256),
            Body=content,
            ContentType="application/octet-stream",
        )
        return sha256

    async def get(self, sha256: str) -> bytes:
        """The bytes kept under `sha256`; raises BlobMissing when there are none."""
        try:
            response = await self._s3.get_object(Bucket=self.bucket, Key=self.key_of(sha256))
        except ClientError as error:
            if _not_found(error):
                raise BlobMissing(sha256) from None
            raise
        async with response["Body"] as body:
            content: bytes = await body.read()
        return content

    async def exists(self, sha256: str) -> bool:
        """Whether bytes are kept under `sha256`."""
        try:
            await self._s3.head_object(Bucket=self.bucket, Key=self.key_of(sha256))
        except ClientError as error:
            if _not_found(error):
                return False
            raise
        return True

    @property
    def _s3(self) -> Any:
        if self._client is None:
            msg = "the S3 blob store is not started: await start() first"
            raise RuntimeError(msg)
        return self._client

    async def _ensure_bucket(self) -> None:
        try:
            await self._s3.head_bucket(Bucket=self.bucket)
            return
        except ClientError as error:
            if not _not_found(error):
                raise
        arguments: dict[str, Any] = {"Bucket": self.bucket}
        if self.region != "us-east-1":  # the one region S3 refuses to be named in
            arguments["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            await self._s3.create_bucket(**arguments)
        except ClientError as error:
            # Another replica starting at the same moment created it first.
            if _error_code(error) not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                raise
        log.info("blobs.bucket_created", bucket=self.bucket, endpoint=self.endpoint_url)

    def __repr__(self) -> str:
        return f"S3BlobStore({self.endpoint_url!r}, {self.bucket!r}, prefix={self.prefix!r})"


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _not_found(error: ClientError) -> bool:
    # A missing bucket is a store set up wrong, not a missing blob: it is not hidden.
    code = _error_code(error)
    if code == "NoSuchBucket":
        return False
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status == 404 or code in _NOT_FOUND_CODES


def blob_store_from(
    kind: str,
    *,
    directory: Path | None = None,
    endpoint_url: str | None = None,
    bucket: str | None = None,
    access_key: str | None = None,
    secret_key: str | None = None,
    region: str = "us-east-1",
    prefix: str = "",
) -> FilesystemBlobStore | S3BlobStore:
    """The blob store `kind` names: "filesystem" (under `directory`) or "s3" (`bucket` at
    `endpoint_url`, with the key pair); ValueError when what it needs is missing."""
    if kind == "filesystem":
        if directory is None:
            msg = "a filesystem blob store needs a directory (INTAKE_BLOB_DIR)"
            raise ValueError(msg)
        return FilesystemBlobStore(directory)
    if kind == "s3":
        missing = [
            name
            for name, value in (
                ("INTAKE_S3_BUCKET", bucket),
                ("INTAKE_S3_ACCESS_KEY", access_key),
                ("INTAKE_S3_SECRET_KEY", secret_key),
            )
            if not value
        ]
        if missing:
            msg = f"an S3 blob store needs {', '.join(missing)}"
            raise ValueError(msg)
        assert bucket and access_key and secret_key
        return S3BlobStore(
            endpoint_url or None,
            bucket,
            access_key,
            secret_key,
            region=region,
            prefix=prefix,
        )
    msg = f"unknown blob store {kind!r}: filesystem or s3"
    raise ValueError(msg)
