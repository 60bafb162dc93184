"""The knowledge domain: articles and their versions, numbers, queries and suggestions, as
pure Python."""

from knowledge.domain.article import (
    Article,
    ArticleStatus,
    ArticleVersion,
    Attachment,
    Content,
    VersionState,
    draft_article,
    make_content,
    nearest_translation,
    normalize_language,
    tidy_category,
    tidy_keywords,
)
from knowledge.domain.errors import (
    ArticleStateError,
    KnowledgeError,
    KnowledgeValidationError,
    StaleRevisionError,
    UnknownArticle,
)
from knowledge.domain.events import (
    ArticleArchived,
    ArticleLinked,
    ArticlePublished,
    ArticleSent,
    ArticlesSuggested,
    ArticleVersioned,
    KnowledgeEvent,
    Suggestion,
)
from knowledge.domain.numbers import format_article_number
from knowledge.domain.suggestions import (
    MAX_SUGGESTIONS,
    Match,
    suggest_articles,
)

__all__ = [
    "MAX_SUGGESTIONS",
    "Article",
    "ArticleArchived",
    "ArticleLinked",
    "ArticlePublished",
    "ArticleSent",
    "ArticleStateError",
    "ArticleStatus",
    "ArticleVersion",
    "ArticleVersioned",
    "ArticlesSuggested",
    "Attachment",
    "Content",
    "KnowledgeError",
    "KnowledgeEvent",
    "KnowledgeValidationError",
    "Match",
    "StaleRevisionError",
    "Suggestion",
    "UnknownArticle",
    "VersionState",
    "draft_article",
    "format_article_number",
    "make_content",
    "nearest_translation",
    "normalize_language",
    "suggest_articles",
    "tidy_category",
    "tidy_keywords",
]
