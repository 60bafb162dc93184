"""Random (version 4) UUIDs drawn from the operating system's random source in blocks.

`uuid.uuid4` asks the kernel for 16 bytes each time, one system call per id, which a service
naming thousands of events and notifications a second pays thousands of times. The bytes here
come from the same source, `os.urandom`, 4 KiB at a time, each block used once, and each thread
has its own.
"""

from __future__ import annotations

import os
import threading
import uuid

_BLOCK = 4096
"""Bytes asked of the kernel at a time: 256 UUIDs."""


class _Pool(threading.local):
    def __init__(self) -> None:
        self.block = b""
        self.at = 0


_pool = _Pool()


def random_uuid() -> uuid.UUID:
    """A fresh random UUID, as `uuid.uuid4` gives."""
    pool = _pool
    if pool.at + 16 > len(pool.block):
        pool.block, pool.at = os.urandom(_BLOCK), 0
    start = pool.at
    pool.at = start + 16
    return uuid.UUID(bytes=pool.block[start : start + 16], version=4)
