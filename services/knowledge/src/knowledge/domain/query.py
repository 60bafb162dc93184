"""What a reader typed into the search box, read before any database sees it.

A query is either an article number (``KA-00042``, ``ka42``, ``#42``, ``42``) or text. Text
keeps its words for the widened any-word search; the database parses the text itself (as a
web search), so operators and quotes typed here never reach SQL as syntax.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from enum import StrEnum

from knowledge.domain.numbers import PREFIX, format_article_number

MAX_TERMS = 32
"""The most distinct words a query keeps for the any-word search."""

MAX_NUMBER_DIGITS = 12
"""Longer digit runs are text: no article number has them."""

LANGUAGE_GROUPS = ("en", "ru", "lt", "pt", "cs", "other")
"""The language groups articles are stored under, one text search configuration each."""

_NUMBER = re.compile(
    rf"(?:{PREFIX}[\s\-_]*|#)?([0-9]{{1,{MAX_NUMBER_DIGITS}}})", re.IGNORECASE | re.ASCII
)
# Runs of letters and digits: punctuation, symbols and underscores separate words.
_WORD = re.compile(r"[^\W_]+")
_UNWANTED = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


class QueryKind(StrEnum):
    """Whether a query names one article by number or looks for text."""

    NUMBER = "number"
    TEXT = "text"


class Ranking(StrEnum):
    """How matches are ordered."""

    PLAIN = "plain"
    """Full-text rank only."""
    BOOSTED = "boosted"
    """Full text, plus exact and prefix titles, similar titles and keywords (typos)."""
    SEMANTIC = "semantic"
    """The best boosted matches reordered by sentence embeddings (boosted without them)."""


@dataclass(frozen=True)
class ParsedQuery:
    """A query as typed (whitespace collapsed), its kind, and its words."""

    text: str
    kind: QueryKind
    number: str | None
    terms: tuple[str, ...]

    def as_text(self) -> ParsedQuery:
        """The same query read as text (a number that named no article)."""
        return replace(self, kind=QueryKind.TEXT, number=None)


@dataclass(frozen=True)
class SearchFilters:
    """Which articles a search may return.

    `language` is a language tag whose group is kept ("pt-BR" keeps 'pt'); `category` keeps
    that category path and the paths below it; `product` keeps articles listing it;
    `states` the article statuses shown (published only, unless an editor asks).
    """

    language: str | None = None
    category: str | None = None
    product: str | None = None
    states: tuple[str, ...] = ("published",)


def language_group(tag: str) -> str:
    """The group of a language tag: its primary subtag when it has its own configuration."""
    primary = tag.strip().split("-", 1)[0].split("_", 1)[0].lower()
    return primary if primary in LANGUAGE_GROUPS[:-1] else "other"


def query_terms(text: str) -> tuple[str, ...]:
    """The distinct case-folded words of `text` (two characters or more), first 32."""
    terms: list[str] = []
    seen: set[str] = set()
    for found in _WORD.finditer(unicodedata.normalize("NFC", text).casefold()):
        word = found.group()
        if len(word) > 1 and word not in seen:
            seen.add(word)
            terms.append(word)
            if len(terms) == MAX_TERMS:
                break
    return tuple(terms)


def parse_query(raw: str) -> ParsedQuery:
    """Read a search box: an article number, or text with its words.

    Control characters and lone surrogates (which no database text may hold) become spaces;
    accents typed as combining marks are composed (NFC).
    """
    text = " ".join(_UNWANTED.sub(" ", unicodedata.normalize("NFC", raw)).split())
    terms = query_terms(text)
    found = _NUMBER.fullmatch(text)
    if found is not None:
        seq = int(found.group(1))
        if seq >= 1:
            return ParsedQuery(text, QueryKind.NUMBER, format_article_number(seq), terms)
    return ParsedQuery(text, QueryKind.TEXT, None, terms)
