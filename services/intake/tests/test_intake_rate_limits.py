"""The anti-abuse limits on submissions: the pure decision, the use case with a fake counter,
and how a request's client address is found."""

from __future__ import annotations

from datetime import datetime, timedelta
from ipaddress import ip_network

import pytest

from intake.app.handlers import AdmitSubmission, admit_submission
from intake.domain.errors import RateLimited
from intake.domain.rate_limits import RateLimits, Window, retry_after, window_at
from intake.entrypoints.http import client_address

pytestmark = pytest.mark.unit

MINUTE = timedelta(minutes=1)


def at(text: str) -> datetime:
    return datetime.fromisoformat(f"2026-05-04T{text}+00:00")


@pytest.mark.parametrize(
    ("now", "length", "start"),
    [
        (at("10:00:00"), MINUTE, at("10:00:00")),
        (at("10:00:59.999"), MINUTE, at("10:00:00")),
        (at("10:01:00"), MINUTE, at("10:01:00")),
        (at("10:07:30"), timedelta(minutes=5), at("10:05:00")),
        (at("10:00:44"), timedelta(seconds=7), at("10:00:40")),  # tiled from the epoch
    ],
)
def test_a_moment_falls_in_one_fixed_window(
    now: datetime, length: timedelta, start: datetime
) -> None:
    assert window_at(now, length) == Window(start=start, end=start + length)


def test_replicas_in_other_time_zones_agree_on_the_window() -> None:
    here = at("10:00:20")
    elsewhere = here.astimezone(datetime.fromisoformat("2026-05-04T00:00+05:30").tzinfo)
    assert window_at(elsewhere, MINUTE) == window_at(here, MINUTE)


WINDOW = window_at(at("10:00:00"), MINUTE)


@pytest.mark.parametrize(
    ("hits", "limit", "now", "expected"),
    [
        (1, 30, at("10:00:10"), None),
        (30, 30, at("10:00:10"), None),  # the limit itself is allowed
        (31, 30, at("10:00:10"), 50),
        (31, 30, at("10:00:00"), 60),
        (500, 30, at("10:00:59.2"), 1),  # rounded up: waiting as told reaches the next window
        (31, 30, at("10:00:59.999"), 1),
        (1000, 0, at("10:00:10"), None),  # 0 is no limit
    ],
)
def test_a_caller_past_its_limit_waits_until_the_window_ends(
    hits: int, limit: int, now: datetime, expected: int | None
) -> None:
    assert retry_after(hits=hits, limit=limit, window=WINDOW, now=now) == expected


@pytest.mark.parametrize(
    ("per_address", "per_key", "window"),
    [(-1, 10, MINUTE), (10, -1, MINUTE), (10, 10, timedelta(0))],
)
def test_limits_cannot_be_negative_nor_windows_empty(
    per_address: int, per_key: int, window: timedelta
) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        RateLimits(per_address=per_address, per_key=per_key, window=window)


NOW = at("10:00:15")


class FakeRateLimitCounter:
    def __init__(self) -> None:
        self.hits: dict[tuple[str, datetime], int] = {}

    async def hit(self, bucket: str, *, window_start: datetime) -> int:
        key = (bucket, window_start)
        self.hits[key] = self.hits.get(key, 0) + 1
        return self.hits[key]

    def buckets(self) -> dict[str, int]:
        return {bucket: n for (bucket, _), n in self.hits.items()}


async def admit(
    counter: FakeRateLimitCounter,
    *,
    address: str = "203.0.113.7",
    channel: str | None = "web",
    per_address: int = 2,
    per_key: int = 3,
    now: datetime = NOW,
) -> None:
    await admit_submission(
        AdmitSubmission(address=address, channel=channel),
        counter=counter,
        limits=RateLimits(per_address=per_address, per_key=per_key, window=MINUTE),
        now=now,
    )


async def test_the_request_past_the_address_limit_is_refused_with_the_wait() -> None:
    counter = FakeRateLimitCounter()
    await admit(counter)
    await admit(counter)
    with pytest.raises(RateLimited) as refused:
        await admit(counter)
    assert refused.value.retry_after == 45
    assert "this address" in str(refused.value)
    # The refused request did not spend its channel's budget.
    assert counter.buckets() == {"address:203.0.113.7": 3, "channel:web": 2}


async def test_the_key_limit_counts_every_address_together() -> None:
    counter = FakeRateLimitCounter()
    for i in range(3):
        await admit(counter, address=f"198.51.100.{i}")
    with pytest.raises(RateLimited) as refused:
        await admit(counter, address="198.51.100.9")
    assert "channel's key" in str(refused.value)
    # A person's token has no key: only its address counts.
    await admit(counter, address="198.51.100.9", channel=None, per_address=5)


async def test_a_limit_of_zero_counts_nothing() -> None:
    counter = FakeRateLimitCounter()
    for _ in range(10):
        await admit(counter, per_address=0, per_key=0)
    assert counter.hits == {}
    await admit(counter, per_address=0, per_key=1)
    assert counter.buckets() == {"channel:web": 1}


async def test_the_next_window_starts_the_count_again() -> None:
    counter = FakeRateLimitCounter()
    await admit(counter, per_address=1)
    with pytest.raises(RateLimited):
        await admit(counter, per_address=1, now=at("10:00:59"))
    await admit(counter, per_address=1, now=at("10:01:00"))


TRUSTED = (ip_network("10.0.0.0/8"), ip_network("2001:db8::/32"), ip_network("192.0.2.1/32"))


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "expected"),
    [
        # From anyone else, the header is whatever the client wrote: ignored.
        ("203.0.113.7", ["198.51.100.1"], "203.0.113.7"),
        ("203.0.113.7", [], "203.0.113.7"),
        # From a proxy of ours, the right-most address that is not ours.
        ("10.1.2.3", ["198.51.100.1"], "198.51.100.1"),
        ("10.1.2.3", ["6.6.6.6, 198.51.100.1, 10.9.9.9"], "198.51.100.1"),
        ("192.0.2.1", ["6.6.6.6, 198.51.100.1", "10.9.9.9"], "198.51.100.1"),
        ("10.1.2.3", ["2001:db8::5, 2001:db8::6"], "2001:db8::5"),
        ("10.1.2.3", [" 2001:DB8:0::7 "], "2001:db8::7"),
        # A proxy of ours with no header, or only proxies in it: the left-most proxy.
        ("10.1.2.3", [], "10.1.2.3"),
        ("10.1.2.3", ["10.4.4.4"], "10.4.4.4"),
        # Nothing a proxy writes: the proxy that passed it on.
        ("10.1.2.3", ["198.51.100.1, unknown"], "10.1.2.3"),
        ("10.1.2.3", ["198.51.100.1, 10.9.9.9, 198.51.100.1:443"], "10.1.2.3"),
        # One client, whichever socket family it came over.
        ("::ffff:203.0.113.7", [], "203.0.113.7"),
        ("::ffff:10.1.2.3", ["198.51.100.1"], "198.51.100.1"),
        # No peer at all (a Unix socket), or a test client's made-up name.
        (None, ["198.51.100.1"], "unknown"),
        ("testclient", [], "testclient"),
    ],
)
def test_the_client_address_believes_forwarded_for_only_from_trusted_proxies(
    peer: str | None, forwarded_for: list[str], expected: str
) -> None:
    assert client_address(peer, forwarded_for, TRUSTED) == expected


def test_with_no_trusted_proxies_the_peer_is_the_client() -> None:
    assert client_address("10.1.2.3", ["198.51.100.1"], ()) == "10.1.2.3"
