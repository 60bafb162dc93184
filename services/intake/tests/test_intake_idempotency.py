"""Deciding what a request under an Idempotency-Key does."""

from __future__ import annotations

from intake.domain.idempotency import Decision, StoredRequest, decide, fingerprint


def test_fingerprint_ignores_key_order_but_not_values() -> None:
    a = fingerprint({"subject": "Hi", "parameters": {"x": "1", "y": "2"}})
    b = fingerprint({"parameters": {"y": "2", "x": "1"}, "subject": "Hi"})
    c = fingerprint({"subject": "Hi", "parameters": {"x": "1", "y": "3"}})
    assert a == b
    assert a != c
    assert len(a) == 64


def test_a_new_key_proceeds() -> None:
    assert decide(None, fingerprint({"a": 1})) is Decision.PROCEED


def test_the_same_payload_again_replays_the_answer() -> None:
    stored = StoredRequest(fingerprint=fingerprint({"a": 1}), response={"id": "x"})
    assert decide(stored, fingerprint({"a": 1})) is Decision.REPLAY


def test_another_payload_under_the_key_is_refused() -> None:
    stored = StoredRequest(fingerprint=fingerprint({"a": 1}), response={"id": "x"})
    assert decide(stored, fingerprint({"a": 2})) is Decision.REUSED


def test_a_key_without_an_answer_yet_is_in_flight() -> None:
    stored = StoredRequest(fingerprint=fingerprint({"a": 1}), response=None)
    assert decide(stored, fingerprint({"a": 1})) is Decision.IN_FLIGHT
    assert decide(stored, fingerprint({"a": 2})) is Decision.REUSED
