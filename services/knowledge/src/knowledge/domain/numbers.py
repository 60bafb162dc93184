"""Article numbers: short, readable references such as ``KA-00042``.

The number comes from a sequence the repository draws from the database. Five digits keep
numbers in lexical order up to 99 999 articles; beyond that the number grows a digit.
"""

from __future__ import annotations

from knowledge.domain.errors import KnowledgeValidationError

PREFIX = "KA"
DIGITS = 5


def format_article_number(seq: int) -> str:
    """The article number for the `seq`-th article written."""
    if seq < 1:
        raise KnowledgeValidationError(f"sequence {seq} must be 1 or more")
    return f"{PREFIX}-{seq:0{DIGITS}d}"
