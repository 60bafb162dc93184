"""Domain events of the knowledge base, translated to the contracts of `knowledge.article.v1`."""

from __future__ import annotations

import caseflow_contracts as c
from knowledge.domain import events as d


def to_contract(event: d.KnowledgeEvent) -> c.Event:
    """The contract event that tells other services about `event`."""
    match event:
        case d.ArticlePublished():
            return c.ArticlePublished(
                occurred_at=event.occurred_at,
                article_id=event.article_id,
                number=event.number,
                version=event.version,
                title=event.title,
                language=event.language,
                keywords=list(event.keywords),
                translation_group=event.translation_group,
                public=event.public,
                category=event.category,
            )
        case d.ArticleVersioned():
            return c.ArticleVersioned(
                occurred_at=event.occurred_at,
                article_id=event.article_id,
                number=event.number,
                version=event.version,
                based_on=event.based_on,
                author=event.author,
            )
        case d.ArticleArchived():
            return c.ArticleArchived(
                occurred_at=event.occurred_at,
                article_id=event.article_id,
                number=event.number,
                archived_by=event.archived_by,
            )
        case d.ArticleSent():
            return c.ArticleSent(
                occurred_at=event.occurred_at,
                case_id=event.case_id,
                article_id=event.article_id,
                number=event.number,
                version=event.version,
                language=event.language,
                contact_id=event.contact_id,
                notification_id=event.notification_id,
                sent_by=event.sent_by,
            )
        case d.ArticleLinked():
            return c.ArticleLinked(
                occurred_at=event.occurred_at,
                case_id=event.case_id,
                article_id=event.article_id,
                number=event.number,
                linked_by=event.linked_by,
            )
        case d.ArticlesSuggested():
            return c.ArticlesSuggested(
                occurred_at=event.occurred_at,
                case_id=event.case_id,
                suggestions=[
                    c.ArticleSuggestion(
                        article_id=s.article_id, number=s.number, title=s.title, score=s.score
                    )
                    for s in event.suggestions
                ],
            )
    msg = f"no contract for {type(event).__name__}"
    raise TypeError(msg)
