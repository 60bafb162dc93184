"""The optional sentence embedder: its model tests skip when the `semantic` extra is absent."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import math
from pathlib import Path

import pytest

from knowledge.adapters import embeddings
from knowledge.adapters.embeddings import TextEmbedder, load_embedder

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def embedder() -> TextEmbedder:
    loaded = load_embedder()
    if loaded is None:
        pytest.skip("the knowledge service's `semantic` extra is not installed")
    return loaded


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_vectors_have_384_dimensions_and_unit_length(embedder: TextEmbedder) -> None:
    vectors = embedder.encode(["How do I reset my password?", "", "Refunds take 5 days."])

    assert embedder.dimensions == 384
    assert [len(vector) for vector in vectors] == [384, 384, 384]
    assert all(math.isclose(math.hypot(*vector), 1.0, abs_tol=1e-5) for vector in vectors)


def test_encoding_is_deterministic_alone_or_in_a_batch(embedder: TextEmbedder) -> None:
    texts = ["Where is my parcel?", "Cancel my subscription, please.", "word " * 50]

    batch = embedder.encode(texts)

    assert embedder.encode(texts) == batch
    alone = embedder.encode(texts[:1])[0]
    assert max(abs(x - y) for x, y in zip(alone, batch[0], strict=True)) < 1e-5


def test_a_paraphrase_scores_above_an_unrelated_sentence(embedder: TextEmbedder) -> None:
    question, paraphrase, unrelated = embedder.encode(
        [
            "How do I reset my password?",
            "Steps to change a forgotten password",
            "The printer is out of toner",
        ]
    )

    assert cosine(question, paraphrase) > cosine(question, unrelated) + 0.3
    assert cosine(question, paraphrase) > cosine(paraphrase, unrelated) + 0.3


def test_it_matches_sentence_transformers(embedder: TextEmbedder) -> None:
    # The similarities sentence-transformers documents for all-MiniLM-L6-v2 (its quickstart).
    weather, sunny, stadium = embedder.encode(
        ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
    )
    assert cosine(weather, sunny) == pytest.approx(0.6660, abs=1e-3)
    assert cosine(weather, stadium) == pytest.approx(0.1046, abs=1e-3)
    assert cosine(sunny, stadium) == pytest.approx(0.1411, abs=1e-3)
    # The first components of "hello world" from the PyTorch model, as fastembed records them.
    hello = embedder.encode(["hello world"])[0]
    assert hello[:5] == pytest.approx([-0.034478, 0.03102, 0.00673, 0.02611, -0.039362], abs=1e-4)


def test_text_in_other_languages_and_long_text_still_embed(embedder: TextEmbedder) -> None:
    vectors = embedder.encode(
        [
            "Как сбросить пароль от личного кабинета?",
            "Jak obnovím zapomenuté heslo k účtu?",
            "password reset " * 400,  # past the model's 256 tokens
        ]
    )

    for vector in vectors:
        assert len(vector) == 384
        assert all(math.isfinite(x) for x in vector)
        assert math.isclose(math.hypot(*vector), 1.0, abs_tol=1e-5)


def test_no_texts_give_no_vectors(embedder: TextEmbedder) -> None:
    assert embedder.encode([]) == []


def test_the_model_is_loaded_once(embedder: TextEmbedder) -> None:
    assert load_embedder() is embedder


def test_without_the_model_package_there_is_no_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)

    assert embeddings._load.__wrapped__() is None


def test_without_numpy_or_tokenizers_there_is_no_embedder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(embeddings, "_RUNTIME_INSTALLED", False)

    assert embeddings._load.__wrapped__() is None


def test_a_broken_model_package_gives_no_embedder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pytest.importorskip("tokenizers")
    (tmp_path / "model.zip").write_bytes(b"not a zip")
    spec = importlib.machinery.ModuleSpec(embeddings.MODEL_PACKAGE, None, is_package=True)
    spec.submodule_search_locations = [str(tmp_path)]
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: spec)

    assert embeddings._load.__wrapped__() is None
