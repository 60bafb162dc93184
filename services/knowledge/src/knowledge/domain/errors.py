"""Errors raised by the knowledge domain.

All of them derive from one base, so callers can catch the family at once::

    KnowledgeError
    ├── KnowledgeValidationError   bad input: empty title, unreadable language tag, ...
    ├── ArticleStateError          the article's status does not allow it (publish twice, ...)
    │   └── StaleRevisionError     changed against a revision that is no longer current
    ├── UnknownArticle             no article has the id asked for
    └── UnknownCase                the knowledge base has not heard of the case (yet)

``KnowledgeValidationError`` is also a ``ValueError``: it is the caller's input that is wrong.
"""

from __future__ import annotations


class KnowledgeError(Exception):
    """Base of every error the knowledge domain raises."""


class KnowledgeValidationError(KnowledgeError, ValueError):
    """Input that breaks a rule of the article model."""


class ArticleStateError(KnowledgeError):
    """A change the article's status does not allow."""


class StaleRevisionError(ArticleStateError):
    """The change was made against a revision of the article that is no longer current."""


class UnknownArticle(KnowledgeError):
    """No article has the id asked for."""


class UnknownCase(KnowledgeError):
    """The knowledge base has not heard of the case (yet): no event about it has arrived."""
