"""Random UUIDs drawn in blocks are version 4, distinct, and spread like `uuid.uuid4`'s."""

from __future__ import annotations

import threading
import uuid

from caseflow_contracts.ids import random_uuid


def test_random_uuids_are_version_4_rfc_4122_and_never_repeat_across_blocks() -> None:
    made = [random_uuid() for _ in range(5_000)]  # about twenty blocks of the kernel's bytes
    assert all(u.version == 4 and u.variant == uuid.RFC_4122 for u in made)
    assert len(set(made)) == len(made)


def test_every_random_bit_varies() -> None:
    made = [random_uuid().int for _ in range(2_000)]
    fixed = (0xF << 76) | (0x3 << 62)  # the version and variant bits are set, not drawn
    seen_one = 0
    seen_zero = 0
    for value in made:
        seen_one |= value
        seen_zero |= ~value
    drawn = ((1 << 128) - 1) & ~fixed
    assert seen_one & drawn == drawn
    assert seen_zero & drawn == drawn


def test_threads_draw_from_blocks_of_their_own() -> None:
    found: list[list[uuid.UUID]] = [[] for _ in range(4)]

    def draw(into: list[uuid.UUID]) -> None:
        into.extend(random_uuid() for _ in range(1_000))

    threads = [threading.Thread(target=draw, args=(into,)) for into in found]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [u for into in found for u in into]
    assert len(set(everything)) == len(everything) == 4_000
