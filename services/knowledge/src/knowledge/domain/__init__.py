"""The knowledge domain: articles, their numbers and suggestions, as pure Python."""

from knowledge.domain.article import (
    Article,
    ArticleStatus,
    draft_article,
    normalize_language,
    tidy_keywords,
)
from knowledge.domain.errors import (
    ArticleStateError,
    KnowledgeError,
    KnowledgeValidationError,
    UnknownArticle,
)
from knowledge.domain.events import (
    ArticleLinked,
    ArticlePublished,
    ArticlesSuggested,
    KnowledgeEvent,
    Suggestion,
)
from knowledge.domain.numbers import format_article_number
from knowledge.domain.suggestions import (
    MAX_SUGGESTIONS,
    Match,
    search_terms,
    suggest_articles,
)

__all__ = [
    "MAX_SUGGESTIONS",
    "Article",
    "ArticleLinked",
    "ArticlePublished",
    "ArticleStateError",
    "ArticleStatus",
    "ArticlesSuggested",
    "KnowledgeError",
    "KnowledgeEvent",
    "KnowledgeValidationError",
    "Match",
    "Suggestion",
    "UnknownArticle",
    "draft_article",
    "format_article_number",
    "normalize_language",
    "search_terms",
    "suggest_articles",
    "tidy_keywords",
]
