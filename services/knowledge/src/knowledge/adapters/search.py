"""Searching articles in PostgreSQL: full text per language, typo-tolerant titles, embeddings.

A text search takes two statements:

1. **Reading the query.** PostgreSQL folds it (`kb_fold`), counts its trigrams, and parses it
   in each language group's configuration, twice: as a web search (all words, "phrases",
   `or`, `-word`: `websearch_to_tsquery`) and as any of its words (the OR of `plainto_tsquery`
   per word). Groups whose parsed queries are equal share one index scan; empty ones get none.
2. **Finding, ranking, counting and excerpting**, in one statement, from capped sources:

   * `t`: full-text matches of the web-search reading, one arm per distinct parse
     (`language_group = ANY(groups) AND search_vector @@ parse`, each served by the GIN index);
   * `e` (boosted): titles equal to the folded query, and titles starting with it;
   * `f` (boosted): titles or keywords resembling the folded query (trigram word similarity,
     so typos still match), looked for only when `t` found fewer than a page;
   * `w`: full-text matches of the any-word reading, only when all of the above found fewer
     than a page (the widening);
   * `l` (boosted, several words): whole titles resembling the query (trigram similarity),
     the last resort when nothing else matched.

   A skipped source is not even scanned (a one-time filter). Each source computes its own
   score parts and stops at its cap (`MAX_TEXT_CANDIDATES` and friends), so a word found in
   most of 100 000 articles costs no more than one found in a thousand. `total` and the facets
   count this capped candidate set: they stop growing at the caps.

**Score.** Plain: `ts_rank` (normalised into 0..1). Boosted: an exact title beats a title
starting with the query, which beats everything else; then `ts_rank` plus weighted trigram
similarity of title and keywords plus a bonus per query word that is a keyword. Semantic: the
best `RERANK_WINDOW` boosted candidates are reordered by mixing their lexical score (divided
by the best one) with the cosine similarity of their embedding to the query's (pgvector);
articles without an embedding keep the lexical part, and the rest follow in boosted order.

**Snippets**, for the page only: `ts_headline` marks matched words with control characters
removed from the body beforehand; the excerpt is HTML-escaped, then the marks become `<mark>`.

**Facets** count the candidates by full category path (uncategorised articles are left out)
and by language group.

User text only ever travels as bind parameters: the parsing functions accept any string, and
parses come back as `tsquery` text, bound again and cast by PostgreSQL.

An exact or prefix title is found through the trigram index, whose recheck reads every title
holding the query's trigrams; a b-tree on `folded_title text_pattern_ops` makes both lookups
direct, and the statements use it when it exists.
"""

# The statements are assembled from this module's constants only; user text is always bound.
# ruff: noqa: S608

from __future__ import annotations

import asyncio
import functools
import html
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import TextClause, TextualSelect, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.app.ports import TextEmbedder
from knowledge.domain.article import tidy_category
from knowledge.domain.query import (
    LANGUAGE_GROUPS,
    ParsedQuery,
    QueryKind,
    Ranking,
    SearchFilters,
    language_group,
    parse_query,
)

MAX_TEXT_CANDIDATES = 1000
"""Full-text matches considered for ranking, at most (taken as the index gives them)."""
LONG_QUERY_TERMS = 5
MAX_LONG_QUERY_CANDIDATES = 5000
"""A question of five words or more (a case's subject, a customer's sentence) rarely has all
its words in one article, and any one of them is in many: its any-word matches are ranked over
more candidates. On SciFact's claims this raised nDCG@10 from .37 to .5 (bench/knowledge.py);
short queries keep the smaller cap, which bounds the time a common word costs."""
MAX_EXACT_CANDIDATES = 20
MAX_PREFIX_CANDIDATES = 100
MAX_FUZZY_CANDIDATES = 100
"""Titles equal to, starting with, or resembling the query; keywords resembling it (each)."""
TITLE_CHARS = (2, 200)
"""Folded queries outside these lengths skip the exact and prefix title sources."""
FUZZY_CHARS = (3, 64)
"""Folded queries outside these lengths skip the trigram similarity source."""


EXACT_TITLE_BONUS = 20.0
PREFIX_TITLE_BONUS = 10.0
"""Both exceed the most the other parts of a boosted score add up to (3.1)."""
TITLE_SIMILARITY_WEIGHT = 0.6
KEYWORD_SIMILARITY_WEIGHT = 0.3
KEYWORD_HIT_WEIGHT = 0.3
KEYWORD_HITS_COUNTED = 4

RERANK_WINDOW = 50
"""How many of the best boosted candidates semantic ranking reorders."""
SEMANTIC_WEIGHT = 0.75
"""The share of cosine similarity in a semantic score; the lexical score has the rest. Tuned
on 30 labelled English queries with all-MiniLM-L6-v2 (MRR 0.93 at 0, 0.95 at 0.5, 0.98 at
0.75, 1.0 from 0.9): 0.75 takes most of the gain while an exact title (lexical score 1, the
others at most ~0.15) stays first unless another candidate is 0.28 more similar in cosine."""

_CONFIGS = {
    "en": "kb_english",
    "ru": "kb_russian",
    "lt": "kb_lithuanian",
    "pt": "kb_portuguese",
    "cs": "kb_czech",
    "other": "kb_simple",
}
_START, _STOP = "\x02", "\x03"
_HEADLINE = (
    f"StartSel={_START}, StopSel={_STOP}, MaxWords=30, MinWords=12, ShortWord=2, "
    'MaxFragments=2, FragmentDelimiter=" … "'
)
_PREVIEW_WORDS = 30
_LAST_CHARACTER = "\U0010ffff"
"""Sorts after every character, byte-wise: `folded || it` bounds the titles `folded` begins."""


@dataclass(frozen=True)
class Hit:
    """One article found, with why (`matched`) and an HTML excerpt (`snippet`)."""

    article_id: UUID
    number: str
    title: str
    language: str
    keywords: tuple[str, ...]
    category: str | None
    products: tuple[str, ...]
    status: str
    public: bool
    version: int
    score: float
    matched: str
    snippet: str


@dataclass(frozen=True)
class SearchResults:
    """A page of hits, how many candidates matched, and their counts by category and language.

    `total` and `facets` count the capped candidate set (see the module), all filters applied;
    `facets["category"]` is keyed by full category path, `facets["language"]` by language group.
    """

    kind: QueryKind
    hits: list[Hit]
    total: int
    facets: dict[str, dict[str, int]]


@dataclass(frozen=True)
class _Reading:
    """The query as PostgreSQL reads it (statement 1)."""

    folded: str
    trigrams: int
    folded_terms: tuple[str, ...]
    all_words: Mapping[str, str]
    """Group -> the web-search `tsquery` (as text); groups where it is empty are left out."""
    any_word: Mapping[str, str]
    """Group -> the any-word `tsquery` (as text); likewise."""


@dataclass(frozen=True)
class _Plan:
    """The shape of statement 2: everything its SQL depends on."""

    strict: int
    """How many distinct web-search parses (`tq0`, ... for the groups `tg0`, ...)."""
    wide: int
    """Likewise for the any-word reading (`tw0`, ... for `wg0`, ...), when it differs."""
    ranking: Ranking
    titles: bool
    fuzzy: bool
    loose: bool
    """Whole titles resembling a query of several words too, when nothing else matched."""
    language: bool
    category: bool
    product: bool
    page: bool
    """Total, facets and snippets too (a search), or only ids and scores (suggestions)."""
    candidates: int = MAX_TEXT_CANDIDATES
    """How many full-text matches of one arm are ranked, at most."""

    @property
    def empty(self) -> bool:
        """Whether no source can find anything."""
        return not (self.strict or self.wide or self.titles or self.fuzzy)


class SqlArticleSearch:
    """Searches articles by number or text; finds the articles a case subject suggests."""

    def __init__(self, session: AsyncSession, embedder: TextEmbedder | None = None) -> None:
        self._session = session
        self._embedder = embedder

    async def search(
        self,
        query: ParsedQuery,
        filters: SearchFilters,
        *,
        ranking: Ranking = Ranking.BOOSTED,
        limit: int = 10,
        offset: int = 0,
    ) -> SearchResults:
        """A page of the articles matching `query` that `filters` allow, best first."""
        limit, offset = max(limit, 0), max(offset, 0)
        if query.kind is QueryKind.NUMBER and query.number is not None:
            found = await self._by_number(query.number, filters.states)
            if found is not None:
                return found
            query = query.as_text()
        empty = SearchResults(QueryKind.TEXT, [], 0, _facets(None, None))
        if not query.text or not filters.states:
            return empty
        if ranking is Ranking.SEMANTIC and self._embedder is None:
            ranking = Ranking.BOOSTED
        reading = await self._read(query, filters)
        wide = reading.any_word if reading.any_word != reading.all_words else {}
        plan = _plan(reading, reading.all_words, wide, filters, ranking, page=True, typos=True)
        if plan.empty:
            return empty
        vector = await self._encode(query.text) if ranking is Ranking.SEMANTIC else None
        params = _params(plan, reading, reading.all_words, wide, filters, vector, limit, offset)
        rows = (await self._session.execute(_statement(plan), params)).all()
        first = rows[0]
        hits = [
            _hit(row, score=float(row.score), matched=row.matched, snippet=_snippet(row.snippet))
            for row in rows
            if row.article_id is not None
        ]
        return SearchResults(
            QueryKind.TEXT, hits, int(first.total), _facets(first.by_category, first.by_language)
        )

    async def similar(
        self, text: str, *, language: str | None, limit: int
    ) -> list[tuple[UUID, float]]:
        """The published articles best matching any word of `text` (a case subject), best
        first, in the group of `language` when given."""
        query = parse_query(text).as_text()
        if not query.terms or limit <= 0:
            return []
        filters = SearchFilters(language=language)
        ranking = Ranking.BOOSTED if self._embedder is None else Ranking.SEMANTIC
        reading = await self._read(query, filters)
        plan = _plan(reading, reading.any_word, {}, filters, ranking, page=False, typos=False)
        if plan.empty:
            return []
        vector = await self._encode(query.text) if ranking is Ranking.SEMANTIC else None
        params = _params(plan, reading, reading.any_word, {}, filters, vector, limit, 0)
        rows = await self._session.execute(_statement(plan), params)
        return [(row.article_id, float(row.score)) for row in rows]

    async def _by_number(self, number: str, states: tuple[str, ...]) -> SearchResults | None:
        if not states:
            return None
        found = await self._session.execute(
            _NUMBER_STATEMENT, {"number": number, "states": list(states)}
        )
        row = found.first()
        if row is None:
            return None
        words = row.body.split()
        preview = " ".join(words[:_PREVIEW_WORDS]) + (" …" if len(words) > _PREVIEW_WORDS else "")
        hit = _hit(row, score=1.0, matched="number", snippet=html.escape(preview))
        by_category = {hit.category: 1} if hit.category else {}
        return SearchResults(
            QueryKind.NUMBER, [hit], 1, _facets(by_category, {row.language_group: 1})
        )

    async def _read(self, query: ParsedQuery, filters: SearchFilters) -> _Reading:
        groups = _groups(filters)
        row = (
            await self._session.execute(
                _reading_statement(groups), {"q": query.text, "terms": list(query.terms)}
            )
        ).one()
        return _Reading(
            folded=row.folded or "",
            trigrams=int(row.trigrams or 0),
            folded_terms=tuple(row.folded_terms or ()),
            all_words={g: q for g in groups if (q := getattr(row, f"all_{g}"))},
            any_word={g: q for g in groups if (q := getattr(row, f"any_{g}"))},
        )

    async def _encode(self, query: str) -> list[float]:
        embedder = self._embedder
        assert embedder is not None
        # The model runs on the CPU for milliseconds: off the event loop.
        vectors = await asyncio.to_thread(embedder.encode, [query])
        return [float(x) for x in vectors[0]]


def _groups(filters: SearchFilters) -> tuple[str, ...]:
    if filters.language is None:
        return LANGUAGE_GROUPS
    return (language_group(filters.language),)


def _shared(queries: Mapping[str, str]) -> tuple[tuple[str, ...], ...]:
    """The groups of `queries` grouped by equal parsed query: one index scan each."""
    shared: dict[str, list[str]] = {}
    for group, tsquery in queries.items():
        shared.setdefault(tsquery, []).append(group)
    return tuple(tuple(groups) for groups in shared.values())


def _plan(
    reading: _Reading,
    strict: Mapping[str, str],
    wide: Mapping[str, str],
    filters: SearchFilters,
    ranking: Ranking,
    *,
    page: bool,
    typos: bool,
) -> _Plan:
    boosted = ranking is not Ranking.PLAIN
    length = len(reading.folded)
    trigrams = boosted and reading.trigrams > 0
    fuzzy = trigrams and FUZZY_CHARS[0] <= length <= FUZZY_CHARS[1]
    return _Plan(
        strict=len(_shared(strict)),
        wide=len(_shared(wide)),
        ranking=ranking,
        titles=trigrams and TITLE_CHARS[0] <= length <= TITLE_CHARS[1],
        fuzzy=fuzzy,
        # One word is rarely a whole title: word similarity looked for it already.
        loose=fuzzy and typos and len(reading.folded_terms) > 1,
        language=filters.language is not None,
        category=bool(filters.category and filters.category.strip("/")),
        product=filters.product is not None,
        page=page,
        candidates=MAX_LONG_QUERY_CANDIDATES
        if len(reading.folded_terms) >= LONG_QUERY_TERMS
        else MAX_TEXT_CANDIDATES,
    )


def _params(
    plan: _Plan,
    reading: _Reading,
    strict: Mapping[str, str],
    wide: Mapping[str, str],
    filters: SearchFilters,
    vector: list[float] | None,
    limit: int,
    offset: int,
) -> dict[str, Any]:
    params: dict[str, Any] = {"states": list(filters.states), "limit": limit}
    for i, groups in enumerate(_shared(strict)):
        params[f"tq{i}"], params[f"tg{i}"] = strict[groups[0]], list(groups)
    for i, groups in enumerate(_shared(wide)):
        params[f"tw{i}"], params[f"wg{i}"] = wide[groups[0]], list(groups)
    if plan.ranking is not Ranking.PLAIN:
        params["folded"] = reading.folded
        params["folded_terms"] = list(reading.folded_terms)
    if plan.titles:
        params["prefix"] = _like_escape(reading.folded) + "%"
        params["prefix_end"] = reading.folded + _LAST_CHARACTER
    if plan.language and filters.language is not None:
        params["group"] = language_group(filters.language)
    if plan.category and filters.category is not None:
        # As articles file their categories: "Network / Routers" is "Network/Routers".
        params["category"] = tidy_category(filters.category) or ""
    if plan.product:
        params["product"] = filters.product
    if plan.ranking is Ranking.SEMANTIC:
        params["vector"] = "[" + ",".join(repr(float(x)) for x in vector or ()) + "]"
    if plan.page:
        params["offset"] = offset
        params["headline"] = _HEADLINE
        params["sentinels"] = _START + _STOP
    return params


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _facets(
    by_category: Mapping[str, int] | None, by_language: Mapping[str, int] | None
) -> dict[str, dict[str, int]]:
    return {
        "category": {str(k): int(v) for k, v in (by_category or {}).items()},
        "language": {str(k): int(v) for k, v in (by_language or {}).items()},
    }


def _snippet(raw: str | None) -> str:
    if not raw:
        return ""
    return html.escape(raw).replace(_START, "<mark>").replace(_STOP, "</mark>")


def _hit(row: Any, *, score: float, matched: str, snippet: str) -> Hit:
    return Hit(
        article_id=row.article_id,
        number=row.number,
        title=row.title,
        language=row.language,
        keywords=tuple(str(k) for k in row.keywords or ()),
        category=row.category,
        products=tuple(str(p) for p in row.products or ()),
        status=row.status,
        public=bool(row.public),
        version=int(row.version),
        score=score,
        matched=matched,
        snippet=snippet,
    )


_HIT_COLUMNS = (
    "a.article_id, a.number, a.title, a.language, a.language_group, a.keywords, a.category, "
    "a.products, a.status, a.public, a.version"
)
_JSON_COLUMNS = {"keywords": JSONB, "products": JSONB}

_NUMBER_STATEMENT = text(
    f"SELECT {_HIT_COLUMNS}, a.body FROM articles a "
    "WHERE a.number = :number AND a.status = ANY(CAST(:states AS text[]))"
).columns(**_JSON_COLUMNS)


@functools.cache
def _reading_statement(groups: tuple[str, ...]) -> TextClause:
    """Statement 1: the folded query, its trigrams, and its parses per language group."""
    columns = []
    for group in groups:
        config = _CONFIGS[group]
        columns.append(
            f"nullif(CAST(websearch_to_tsquery('{config}', q.q) AS text), '') AS all_{group}"
        )
        # One word alone is left bare, to equal its web-search parse.
        columns.append(
            "(SELECT CASE count(*) WHEN 1 THEN min(w.x) ELSE string_agg('(' || w.x || ')', "
            f"' | ') END FROM (SELECT CAST(plainto_tsquery('{config}', t.t) AS text) AS x "
            f"FROM unnest(q.terms) AS t(t)) AS w WHERE w.x <> '') AS any_{group}"
        )
    return text(
        "SELECT f.folded, coalesce(cardinality(show_trgm(f.folded)), 0) AS trigrams, "
        "ARRAY(SELECT kb_fold(t.t) FROM unnest(q.terms) AS t(t)) AS folded_terms, "
        + ", ".join(columns)
        + " FROM (SELECT CAST(:q AS text) AS q, CAST(:terms AS text[]) AS terms) AS q "
        "CROSS JOIN LATERAL (SELECT kb_fold(q.q) AS folded) AS f"
    )


@functools.lru_cache(maxsize=512)
def _statement(plan: _Plan) -> TextClause | TextualSelect:
    """Statement 2 for `plan`, its JSON columns typed (one per shape, cached)."""
    if not plan.page:
        return text(_sql(plan))
    return text(_sql(plan)).columns(**_JSON_COLUMNS, by_category=JSONB, by_language=JSONB)


_FOLDED = "(SELECT CAST(:folded AS text))"
"""The folded query where an index reads it, as a value computed once (an InitPlan). The
planner cannot see into it, so it keeps to the indexes; with the real value it estimates how
often a common word or trigram matches and then prefers a sequential scan that stops at the
cap, which reads most of the table whenever the matches lie elsewhere (or the estimate is
wrong, as it is for similar titles)."""


def _bound(name: str, kind: str) -> str:
    """A bound value computed once (see `_FOLDED`)."""
    return f"(SELECT CAST(:{name} AS {kind}))"


def _row_query(arms: int, query: str, groups: str) -> str:
    """The parsed query of the row's language group (NULL when it has none)."""
    if not arms:
        return "CAST(NULL AS tsquery)"
    whens = " ".join(
        f"WHEN a.language_group = ANY(CAST(:{groups}{i} AS text[])) "
        f"THEN {_bound(f'{query}{i}', 'tsquery')}"
        for i in range(arms)
    )
    return f"CASE {whens} END"


def _matches(arms: int, query: str, groups: str) -> str:
    """Full-text match, one arm per distinct parsed query: the GIN index serves each. (The
    groups are bound too, so that statements differ only by how many parses they hold.)"""
    return " OR ".join(
        f"(a.language_group = ANY(CAST(:{groups}{i} AS text[])) "
        f"AND a.search_vector @@ {_bound(f'{query}{i}', 'tsquery')})"
        for i in range(arms)
    )


def _sql(plan: _Plan) -> str:
    """The SQL of statement 2 for `plan`.

    CTEs: `t` full-text matches of the web-search reading; `e` exact and prefix titles; `f`
    similar titles and keywords, looked for only when `t` has fewer than a page; `w` full-text
    matches of the any-word reading, only when those found fewer than a page (the widening);
    `l` titles similar as a whole, only when nothing else matched; `s` all of them merged and
    scored. A source skipped this way is not even scanned (a one-time filter).
    """
    where = ["a.status = ANY(CAST(:states AS text[]))"]
    if plan.language:
        where.append("a.language_group = :group")
    if plan.category:
        where.append("a.category_paths @> ARRAY[CAST(:category AS text)]")
    if plan.product:
        where.append("a.products @> jsonb_build_array(CAST(:product AS text))")
    base = " AND ".join(where)
    strict, wide = _row_query(plan.strict, "tq", "tg"), _row_query(plan.wide, "tw", "wg")
    lexical = strict if plan.strict else wide
    keys = "a.article_id, a.number, a.category, a.language_group"
    boosted = plan.ranking is not Ranking.PLAIN

    def parts(query: str, *, matched: bool, exact: str, prefix: str, similar: bool) -> str:
        rank = f"coalesce(ts_rank(a.search_vector, {query}, 32), 0) AS text_rank"
        if not boosted:
            return f"{keys}, {rank}"
        hit = "true" if matched else f"coalesce(a.search_vector @@ {query}, false)"
        similarity = (
            "word_similarity(:folded, a.folded_title) AS title_similarity, "
            "word_similarity(:folded, a.folded_keywords) AS keyword_similarity"
            if similar
            else "0.0 AS title_similarity, 0.0 AS keyword_similarity"
        )
        return (
            f"{keys}, {rank}, {hit} AS text_hit, {exact} AS exact, {prefix} AS prefix, "
            f"{similarity}, (SELECT count(*) FROM unnest(CAST(:folded_terms AS text[])) AS t(t) "
            "WHERE t.t = ANY(string_to_array(a.folded_keywords, ' '))) AS keyword_hits"
        )

    is_exact = "a.folded_title = :folded" if plan.titles else "false"
    is_prefix = "a.folded_title LIKE :prefix" if plan.titles else "false"
    ctes: list[str] = []
    sources: list[str] = []
    if plan.strict:
        ctes.append(
            f"t AS MATERIALIZED (SELECT "
            f"{parts(strict, matched=True, exact=is_exact, prefix=is_prefix, similar=False)} "
            f"FROM articles a WHERE {base} AND ({_matches(plan.strict, 'tq', 'tg')}) "
            f"LIMIT {plan.candidates})"
        )
        sources.append("t")
    if plan.titles:
        ctes.append(
            f"e AS MATERIALIZED ((SELECT "
            f"{parts(lexical, matched=False, exact='true', prefix='true', similar=True)} "
            f"FROM articles a WHERE {base} AND a.folded_title = :folded "
            f"LIMIT {MAX_EXACT_CANDIDATES}) UNION ALL (SELECT "
            f"{parts(lexical, matched=False, exact=is_exact, prefix='true', similar=True)} "
            f"FROM articles a WHERE {base} AND a.folded_title ~>=~ :folded "
            "AND a.folded_title ~<~ :prefix_end "
            f"AND a.folded_title LIKE :prefix LIMIT {MAX_PREFIX_CANDIDATES}))"
        )
        sources.append("e")
    if plan.fuzzy:
        gate = "(SELECT count(*) FROM t) < :limit AND " if plan.strict else ""
        # Titles and keywords apart: each candidate is checked against its own column only.
        found = parts(lexical, matched=False, exact=is_exact, prefix=is_prefix, similar=True)
        similar = " UNION ALL ".join(
            f"(SELECT {found} FROM articles a WHERE {gate}{base} AND a.{column} %> {_FOLDED} "
            f"LIMIT {MAX_FUZZY_CANDIDATES})"
            for column in ("folded_title", "folded_keywords")
        )
        ctes.append(f"f AS MATERIALIZED ({similar})")
        sources.append("f")
    if plan.wide or plan.loose:
        union = " UNION ALL ".join(f"SELECT {x}.article_id FROM {x}" for x in sources)
        found = f"(SELECT count(DISTINCT u.article_id) FROM ({union}) AS u)" if sources else "0"
        ctes.append(f"n AS MATERIALIZED (SELECT {found} AS n)")
        widen = "(SELECT n.n FROM n) < :limit"
        if plan.wide:
            ctes.append(
                f"w AS MATERIALIZED (SELECT "
                f"{parts(wide, matched=True, exact=is_exact, prefix=is_prefix, similar=False)} "
                f"FROM articles a WHERE {widen} AND {base} AND ({_matches(plan.wide, 'tw', 'wg')}) "
                f"LIMIT {plan.candidates})"
            )
            sources.append("w")
        if plan.loose:
            # The last resort: whole titles resembling the query, when nothing else matched.
            nothing = "(SELECT n.n FROM n) = 0" + (
                " AND NOT EXISTS (SELECT FROM w)" if plan.wide else ""
            )
            loose = wide if plan.wide else strict
            ctes.append(
                f"l AS MATERIALIZED (SELECT "
                f"{parts(loose, matched=False, exact=is_exact, prefix=is_prefix, similar=True)} "
                f"FROM articles a WHERE {nothing} AND {base} AND a.folded_title % {_FOLDED} "
                f"LIMIT {MAX_FUZZY_CANDIDATES})"
            )
            sources.append("l")
    ctes.append("c AS (" + " UNION ALL ".join(f"SELECT * FROM {x}" for x in sources) + ")")

    grouped = (
        "SELECT c.article_id, min(c.number) AS number, min(c.category) AS category, "
        "min(c.language_group) AS language_group, max(c.text_rank) AS text_rank"
    )
    if boosted:
        ctes.append(
            "s AS (SELECT x.article_id, x.number, x.category, x.language_group, "
            "CASE WHEN x.exact THEN 'title' WHEN x.prefix THEN 'title_prefix' "
            "WHEN x.keyword_hits > 0 THEN 'keywords' WHEN x.text_hit THEN 'text' "
            "ELSE 'fuzzy' END AS matched, "
            f"CASE WHEN x.exact THEN {EXACT_TITLE_BONUS} WHEN x.prefix THEN {PREFIX_TITLE_BONUS} "
            "ELSE 0 END + x.text_rank "
            f"+ {TITLE_SIMILARITY_WEIGHT} * x.title_similarity "
            f"+ {KEYWORD_SIMILARITY_WEIGHT} * x.keyword_similarity "
            f"+ {KEYWORD_HIT_WEIGHT} * least(x.keyword_hits, {KEYWORD_HITS_COUNTED}) AS score "
            f"FROM ({grouped}, bool_or(c.text_hit) AS text_hit, bool_or(c.exact) AS exact, "
            "bool_or(c.prefix) AS prefix, max(c.title_similarity) AS title_similarity, "
            "max(c.keyword_similarity) AS keyword_similarity, "
            "max(c.keyword_hits) AS keyword_hits FROM c GROUP BY c.article_id) AS x)"
        )
    else:
        ctes.append(
            "s AS (SELECT x.article_id, x.number, x.category, x.language_group, "
            f"'text' AS matched, x.text_rank AS score FROM ({grouped} FROM c "
            "GROUP BY c.article_id) AS x)"
        )
    ctes.append(
        "o AS (SELECT s.*, row_number() OVER (ORDER BY s.score DESC, s.number) AS lex_rank, "
        "max(s.score) OVER () AS top FROM s)"
    )
    if plan.ranking is Ranking.SEMANTIC:
        lexical_score = "coalesce(o.score / nullif(o.top, 0), 0)"
        # The window's embeddings alone are read: a materialised list of its ids, so that the
        # planner cannot look up every candidate's vector and filter afterwards.
        ctes.append(
            "v AS MATERIALIZED (SELECT b.article_id, 1 - (b.embedding <=> "
            f"CAST({_bound('vector', 'text')} AS vector)) AS cosine FROM articles b "
            f"WHERE b.article_id = ANY(ARRAY(SELECT o.article_id FROM o "
            f"WHERE o.lex_rank <= {RERANK_WINDOW})))"
        )
        ctes.append(
            f"r AS (SELECT o.*, o.lex_rank > {RERANK_WINDOW} AS band, "
            f"CASE WHEN o.lex_rank <= {RERANK_WINDOW} THEN "
            f"{1 - SEMANTIC_WEIGHT} * {lexical_score} "
            f"+ {SEMANTIC_WEIGHT} * coalesce(greatest(v.cosine, 0), {lexical_score}) "
            f"ELSE {lexical_score} END AS final_score "
            "FROM o LEFT JOIN v ON v.article_id = o.article_id)"
        )
    else:
        ctes.append("r AS (SELECT o.*, false AS band, o.score AS final_score FROM o)")
    order = "r.band, r.final_score DESC, r.lex_rank"
    if not plan.page:
        return (
            "WITH " + ", ".join(ctes) + " SELECT r.article_id, r.final_score AS score FROM r "
            f"ORDER BY {order} LIMIT :limit"
        )
    ctes.append(
        "m AS (SELECT (SELECT count(*) FROM s) AS total, "
        "(SELECT jsonb_object_agg(g.category, g.n) FROM (SELECT s.category, count(*) AS n "
        "FROM s WHERE s.category IS NOT NULL GROUP BY s.category) AS g) AS by_category, "
        "(SELECT jsonb_object_agg(g.language_group, g.n) FROM (SELECT s.language_group, "
        "count(*) AS n FROM s GROUP BY s.language_group) AS g) AS by_language)"
    )
    ctes.append(
        f"pg AS (SELECT {_HIT_COLUMNS}, r.final_score AS score, r.matched, r.position, "
        "ts_headline(kb_config(a.language), translate(a.body, :sentinels, ''), "
        f"coalesce({wide}, {strict}, CAST('' AS tsquery)), :headline) AS snippet "
        f"FROM (SELECT r.*, row_number() OVER (ORDER BY {order}) AS position FROM r "
        f"ORDER BY {order} LIMIT :limit OFFSET :offset) AS r "
        "JOIN articles a ON a.article_id = r.article_id)"
    )
    return (
        "WITH " + ", ".join(ctes) + " SELECT m.total, m.by_category, m.by_language, "
        "pg.article_id, pg.number, pg.title, pg.language, pg.language_group, pg.keywords, "
        "pg.category, pg.products, pg.status, pg.public, pg.version, pg.score, pg.matched, "
        "pg.snippet FROM m LEFT JOIN pg ON true ORDER BY pg.position"
    )
