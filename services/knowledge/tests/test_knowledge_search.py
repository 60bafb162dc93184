"""Article search against a real PostgreSQL: languages, typos, filters, facets, snippets."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from caseflow_servicekit.migrations import upgrade
from caseflow_servicekit.settings import async_database_url
from knowledge.adapters.search import SearchResults, SqlArticleSearch, TextEmbedder
from knowledge.domain.query import QueryKind, Ranking, SearchFilters, parse_query

pytestmark = pytest.mark.service

MIGRATIONS = Path(__file__).parents[1] / "src" / "knowledge" / "adapters" / "migrations"
NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
DIMENSIONS = 384

_INSERT = text(
    "INSERT INTO articles (article_id, number, translation_group, title, body, language, "
    "keywords, category, products, public, status, version, latest_version, created_at, "
    "updated_at) VALUES (:article_id, :number, :article_id, :title, :body, :language, "
    "CAST(:keywords AS jsonb), :category, CAST(:products AS jsonb), :public, :status, 1, 1, "
    ":now, :now)"
)


@dataclass
class Kb:
    """A migrated knowledge database and the articles written into it, by title."""

    engine: AsyncEngine
    ids: dict[str, uuid.UUID] = field(default_factory=dict)
    numbers: dict[str, str] = field(default_factory=dict)

    async def add(
        self,
        title: str,
        body: str,
        *,
        language: str = "en",
        keywords: Sequence[str] = (),
        category: str | None = None,
        products: Sequence[str] = (),
        status: str = "published",
    ) -> uuid.UUID:
        article_id = uuid.uuid4()
        number = f"KA-{len(self.ids) + 1:05d}"
        async with self.engine.begin() as conn:
            await conn.execute(
                _INSERT,
                {
                    "article_id": article_id,
                    "number": number,
                    "title": title,
                    "body": body,
                    "language": language,
                    "keywords": json.dumps(list(keywords)),
                    "category": category,
                    "products": json.dumps(list(products)),
                    "public": True,
                    "status": status,
                    "now": NOW,
                },
            )
        self.ids[title] = article_id
        self.numbers[title] = number
        return article_id

    async def embed(self, title: str, vector: Sequence[float]) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                text("UPDATE articles SET embedding = CAST(:v AS vector) WHERE article_id = :id"),
                {"v": _vector_text(vector), "id": self.ids[title]},
            )

    async def search(
        self,
        q: str,
        filters: SearchFilters | None = None,
        *,
        ranking: Ranking = Ranking.BOOSTED,
        limit: int = 10,
        offset: int = 0,
        embedder: TextEmbedder | None = None,
    ) -> SearchResults:
        async with AsyncSession(self.engine) as session:
            return await SqlArticleSearch(session, embedder).search(
                parse_query(q),
                filters or SearchFilters(),
                ranking=ranking,
                limit=limit,
                offset=offset,
            )

    async def titles(self, q: str, filters: SearchFilters | None = None, **kw: Any) -> list[str]:
        return [hit.title for hit in (await self.search(q, filters, **kw)).hits]

    async def similar(self, subject: str, *, language: str | None) -> list[uuid.UUID]:
        async with AsyncSession(self.engine) as session:
            found = await SqlArticleSearch(session).similar(subject, language=language, limit=5)
        return [article_id for article_id, _ in found]


def _vector_text(vector: Sequence[float]) -> str:
    return "[" + ",".join(str(x) for x in vector) + "]"


def _unit(axis: int) -> list[float]:
    vector = [0.0] * DIMENSIONS
    vector[axis] = 1.0
    return vector


class AxisEmbedder:
    """Embeds every text as the same unit vector: a query "about" one axis."""

    dimensions = DIMENSIONS

    def __init__(self, axis: int) -> None:
        self.axis = axis
        self.calls: list[list[str]] = []

    def encode(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        return [_unit(self.axis) for _ in texts]


@pytest.fixture
async def kb(fresh_database: str) -> AsyncIterator[Kb]:
    await asyncio.to_thread(upgrade, fresh_database, MIGRATIONS)
    engine = create_async_engine(async_database_url(fresh_database))
    base = Kb(engine)
    await base.add(
        "Printer toner",
        "Replace the toner cartridge when prints fade. <script>alert('x')</script> "
        "If 5 < 10 & the cartridge <img src=x onerror=alert(1)> still fades, clean the drum. "
        "The printer needs a minute to warm up after a new cartridge.",
        keywords=["cartridge", "ink"],
        category="Printers/Toner",
        products=["LaserJet 400"],
    )
    await base.add(
        "Printer toner replacement guide",
        "Step by step: open the front door, take the old cartridge out, shake the new one.",
        keywords=["cartridge"],
        category="Printers/Toner",
        products=["LaserJet 500"],
    )
    await base.add(
        "Configuring printers on the office network",
        "Printers are configured from the admin page; a printer needs a fixed address.",
        keywords=["network", "printing"],
        category="Printers",
        products=["LaserJet 400", "Gateway"],
    )
    await base.add(
        "Принтер не печатает",
        "Если принтер не печатает, проверьте кабель и перезапустите очередь печати.",
        language="ru",
        category="Printers",
    )
    await base.add(
        "Falha de impressão",
        "Quando a impressora não imprime, verifique o cabo e reinicie a fila de impressão.",
        language="pt-BR",
        category="Printers",
    )
    await base.add(
        "Tiskárna netiskne",
        "Zkontrolujte kabel tiskárny a restartujte frontu tisku.",
        language="cs",
        category="Printers",
    )
    await base.add(
        "Spausdintuvas nespausdina",
        "Patikrinkite spausdintuvo kabelį ir iš naujo paleiskite spausdinimo eilę.",
        language="lt",
        category="Printers",
    )
    await base.add(
        "VPN connection drops every hour",
        "The VPN client disconnects when the key lifetime expires; renew the certificate.",
        keywords=["vpn", "tunnel"],
        category="Network/VPN",
        products=["Gateway"],
    )
    await base.add(
        "Connecting a laptop to the office",
        "Join the office network with the laptop and sign in with your account.",
        keywords=["wifi", "wireless"],
        category="Network/WiFi",
    )
    await base.add(
        "Printer firmware update (draft)",
        "Upgrade the printer firmware from the vendor site before the toner warning appears.",
        category="Printers",
        status="draft",
    )
    try:
        yield base
    finally:
        await engine.dispose()


async def test_an_article_number_finds_its_article_in_any_form(kb: Kb) -> None:
    for q in ("KA-00004", "ka-4", "ka4", "KA 4", "#4", "4"):
        found = await kb.search(q)
        assert found.kind is QueryKind.NUMBER, q
        assert [h.title for h in found.hits] == ["Принтер не печатает"], q
        assert found.hits[0].matched == "number"
        assert found.total == 1
        assert found.facets == {"category": {"Printers": 1}, "language": {"ru": 1}}


async def test_a_number_naming_no_visible_article_is_searched_as_text(kb: Kb) -> None:
    draft = kb.numbers["Printer firmware update (draft)"]
    found = await kb.search(draft)
    assert found.kind is QueryKind.TEXT
    assert found.hits == []
    shown = await kb.search(draft, SearchFilters(states=("draft", "published")))
    assert shown.kind is QueryKind.NUMBER
    assert [h.title for h in shown.hits] == ["Printer firmware update (draft)"]
    assert (await kb.search("KA-99999")).kind is QueryKind.TEXT


@pytest.mark.parametrize("ranking", [Ranking.PLAIN, Ranking.BOOSTED])
async def test_words_are_found_by_their_other_forms_in_each_language(
    kb: Kb, ranking: Ranking
) -> None:
    # Russian: another inflection of the same stem.
    assert "Принтер не печатает" in await kb.titles("принтеры", ranking=ranking)
    # Portuguese without its accents, in a word of the body too.
    assert "Falha de impressão" in await kb.titles("impressao", ranking=ranking)
    assert "Falha de impressão" in await kb.titles("impressoras nao", ranking=ranking)
    # Czech, accents left out.
    assert "Tiskárna netiskne" in await kb.titles("tiskarna", ranking=ranking)
    # Lithuanian, in the genitive.
    assert "Spausdintuvas nespausdina" in await kb.titles("spausdintuvo", ranking=ranking)
    # English stems.
    found = await kb.titles("configure printer", ranking=ranking)
    assert found[0] == "Configuring printers on the office network"


async def test_a_misspelled_title_is_found_when_ranking_is_boosted(kb: Kb) -> None:
    boosted = await kb.search("pritner tonner")
    assert boosted.hits[0].title == "Printer toner"
    assert boosted.hits[0].matched == "fuzzy"
    plain = await kb.titles("pritner tonner", ranking=Ranking.PLAIN)
    assert "Printer toner" not in plain


async def test_an_exact_title_comes_first_then_titles_starting_with_the_query(kb: Kb) -> None:
    found = await kb.search("printer TONER")
    assert [(h.title, h.matched) for h in found.hits[:2]] == [
        ("Printer toner", "title"),
        ("Printer toner replacement guide", "title_prefix"),
    ]
    assert found.hits[0].score > found.hits[1].score > found.hits[2].score
    assert found.hits[0].keywords == ("cartridge", "ink")
    assert found.hits[0].products == ("LaserJet 400",)
    assert found.hits[0].category == "Printers/Toner"
    assert found.hits[0].status == "published"
    assert found.hits[0].number == kb.numbers["Printer toner"]


async def test_keywords_match_and_say_so(kb: Kb) -> None:
    found = await kb.search("wifi")
    assert [(h.title, h.matched) for h in found.hits] == [
        ("Connecting a laptop to the office", "keywords")
    ]


async def test_when_not_every_word_matches_any_word_will_do(kb: Kb) -> None:
    found = await kb.titles("vpn unicorn")
    assert found == ["VPN connection drops every hour"]


async def test_filters_narrow_by_language_category_product_and_state(kb: Kb) -> None:
    assert await kb.titles("impressora", SearchFilters(language="pt-BR")) == ["Falha de impressão"]
    assert await kb.titles("impressora", SearchFilters(language="en")) == []
    everywhere = set(await kb.titles("printer", SearchFilters(category="Printers")))
    assert {"Printer toner", "Configuring printers on the office network"} <= everywhere
    below = set(await kb.titles("printer", SearchFilters(category="Printers/Toner/")))
    assert below == {"Printer toner", "Printer toner replacement guide"}
    assert await kb.titles("printer", SearchFilters(category="Printers/Ton")) == []
    assert set(await kb.titles("printer", SearchFilters(product="LaserJet 400"))) == {
        "Printer toner",
        "Configuring printers on the office network",
    }
    assert "Printer firmware update (draft)" not in await kb.titles("firmware")
    drafts = await kb.titles("firmware", SearchFilters(states=("draft",)))
    assert drafts == ["Printer firmware update (draft)"]
    assert await kb.titles("firmware", SearchFilters(states=())) == []


async def test_facets_count_the_whole_match_by_category_and_language(kb: Kb) -> None:
    found = await kb.search("printer", limit=1)
    assert len(found.hits) == 1
    assert found.total == 3
    assert found.facets == {
        "category": {"Printers/Toner": 2, "Printers": 1},
        "language": {"en": 3},
    }
    page = await kb.search("printer", limit=2, offset=2)
    assert len(page.hits) == 1
    assert page.total == 3
    titles = [h.title for h in (await kb.search("printer")).hits]
    assert titles[2] == page.hits[0].title


async def test_snippets_mark_the_matched_words_and_escape_the_rest(kb: Kb) -> None:
    found = await kb.search("cartridge script")
    hit = next(h for h in found.hits if h.title == "Printer toner")
    assert "<mark>cartridge</mark>" in hit.snippet
    assert "5 &lt; 10 &amp; the <mark>cartridge</mark> &lt;img src=x" in hit.snippet
    assert "<script" not in hit.snippet and "<img" not in hit.snippet
    assert "\x02" not in hit.snippet and "\x03" not in hit.snippet
    for other in found.hits:
        assert "<" not in other.snippet.replace("<mark>", "").replace("</mark>", "")


@pytest.mark.parametrize(
    "q",
    [
        "& | ! :* ( ) <->",
        "printer & | toner",
        "!printer",
        "printer:*",
        "(((",
        "'",
        "''printer''",
        "\\",
        "printer\\",
        '"unclosed phrase',
        "-",
        "-printer",
        "%_%",
        "x" * 500,
        "printer " * 70,
        "😀🎉",
        "Принтеры не печатают",
        "Žluťoučký kůň úpěl ďábelské ódy",
        "ąčęėįšųūž spausdintuvo",
        "a\x00b",
        "KA-",
        "#",
        "ka 12345678901234",
    ],
)
async def test_hostile_queries_return_without_error(kb: Kb, q: str) -> None:
    for ranking in Ranking:
        found = await kb.search(q, ranking=ranking, embedder=AxisEmbedder(0))
        assert found.total >= len(found.hits)


async def test_semantic_ranking_reorders_the_best_candidates_by_embedding(kb: Kb) -> None:
    await kb.add("Reset the router", "Reset the router when the router lights blink.")
    await kb.add("Slow internet at home", "Check the cables first; then restart the router.")
    await kb.add("Router admin page", "The router admin page lists the clients of the router.")
    await kb.embed("Reset the router", _unit(1))
    await kb.embed("Slow internet at home", _unit(2))
    # "Router admin page" has no embedding: it keeps its lexical score.

    boosted = await kb.titles("router")
    assert boosted[-1] == "Slow internet at home"
    embedder = AxisEmbedder(2)
    semantic = await kb.titles("router", ranking=Ranking.SEMANTIC, embedder=embedder)
    assert semantic[0] == "Slow internet at home"
    assert sorted(semantic) == sorted(boosted)
    assert embedder.calls == [["router"]]
    # Without an embedder, semantic ranking is boosted ranking.
    assert await kb.titles("router", ranking=Ranking.SEMANTIC) == boosted


async def test_similar_finds_the_articles_a_case_subject_is_about(kb: Kb) -> None:
    found = await kb.similar("My printer is out of toner!", language="en-GB")
    assert found[0] == kb.ids["Printer toner"]
    assert kb.ids["Printer firmware update (draft)"] not in found
    assert await kb.similar("Принтер не печатает совсем", language="ru") == [
        kb.ids["Принтер не печатает"]
    ]
    anywhere = await kb.similar("Tiskárna netiskne", language=None)
    assert anywhere[0] == kb.ids["Tiskárna netiskne"]
    assert await kb.similar("!!!", language=None) == []
