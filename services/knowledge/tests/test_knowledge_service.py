"""The knowledge service with a real PostgreSQL, its subscribers driven through TestKafkaBroker:
every endpoint, every language's stemming, suggestions, sending, feedback and bad input."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from sqlalchemy import text

import caseflow_contracts as c
from caseflow_contracts import topics
from caseflow_servicekit import ServiceApp
from caseflow_servicekit.testing import bearer, eventually, publish_event, running
from knowledge.bootstrap import MIGRATIONS, build
from knowledge.settings import KnowledgeSettings

pytestmark = pytest.mark.service

NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
AUTHOR = str(uuid.UUID(int=7))


class FixedClock:
    def now(self) -> datetime:
        return NOW


@dataclass
class Service:
    app: ServiceApp
    client: httpx.AsyncClient
    broker: KafkaBroker
    published: list[tuple[str, c.Event]] = field(default_factory=list)

    @property
    def agent(self) -> dict[str, str]:
        return bearer(self.app, "agent")

    @property
    def author(self) -> dict[str, str]:
        return bearer(self.app, "agent", subject=AUTHOR)

    @property
    def supervisor(self) -> dict[str, str]:
        return bearer(self.app, "supervisor")

    async def draft(self, title: str, body: str, **extra: Any) -> dict[str, Any]:
        r = await self.client.post(
            "/articles", json={"title": title, "body": body, **extra}, headers=self.author
        )
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def article(self, title: str, body: str, *, publish: bool = True, **extra: Any) -> str:
        article_id = str((await self.draft(title, body, **extra))["article_id"])
        if publish:
            p = await self.client.post(f"/articles/{article_id}/publish", headers=self.supervisor)
            assert p.status_code == 200, p.text
        return article_id

    async def found(self, q: str, **params: Any) -> list[str]:
        r = await self.client.get("/articles/search", params={"q": q, **params}, headers=self.agent)
        assert r.status_code == 200, r.text
        return [str(hit["article_id"]) for hit in r.json()["items"]]

    async def events(self, kind: type[c.Event], n: int = 1) -> list[tuple[str, c.Event]]:
        async def probe() -> list[tuple[str, c.Event]] | None:
            found = [(k, e) for k, e in self.published if isinstance(e, kind)]
            return found if len(found) >= n else None

        return await eventually(probe)

    async def scalar(self, sql: str) -> Any:
        async with self.app.kit.engine.connect() as conn:
            return (await conn.execute(text(sql))).scalar_one()


@pytest.fixture
async def service(fresh_database: str) -> AsyncIterator[Service]:
    settings = KnowledgeSettings(
        database_url=fresh_database, kafka_bootstrap_servers="test:9092", semantic="off"
    )
    app = build(settings, clock=FixedClock(), configure_process=False)
    published: list[tuple[str, c.Event]] = []

    @app.kit.kafka.subscriber(topics.KNOWLEDGE, group_id="probe")
    async def probe(message: KafkaMessage) -> None:
        key = message.raw_message.key.decode()  # type: ignore[union-attr]
        published.append((key, c.decode(message.headers["ce_type"], message.body)))

    @app.kit.kafka.subscriber(topics.INTAKE_NOTIFICATIONS, group_id="probe")
    async def notified(message: KafkaMessage) -> None:
        key = message.raw_message.key.decode()  # type: ignore[union-attr]
        published.append((key, c.decode(message.headers["ce_type"], message.body)))

    async with (
        TestKafkaBroker(app.kit.kafka) as broker,
        running(app, migrations=MIGRATIONS) as client,
    ):
        yield Service(app, client, broker, published)


def _case_opened(subject: str, **changes: Any) -> c.CaseOpened:
    event = c.sample("case.opened")
    update = {"case_id": uuid.uuid4(), "subject": subject, "occurred_at": NOW, **changes}
    return event.model_copy(update=update)  # type: ignore[return-value]


def _contact(contact_id: uuid.UUID, language: str | None, version: int = 1) -> c.ContactChanged:
    return c.ContactChanged(
        occurred_at=NOW, contact_id=contact_id, name="Ana", language=language, version=version
    )


# Search ----------------------------------------------------------------------------------


async def test_search_finds_a_published_article_and_not_a_draft(service: Service) -> None:
    public = await service.article(
        "Refund a duplicate card payment", "Customers charged twice get a refund within 5 days."
    )
    secret = await service.article(
        "Refund fraud checklist", "Internal steps before any refund.", publish=False
    )
    # Stemmed English: "refunds" finds "refund"; the draft stays hidden.
    assert await service.found("refunds") == [public]
    assert await service.found("fraud") == []
    assert secret not in await service.found("refund")
    assert await service.found('"duplicate card"') == [public]
    # A reviewer may look at drafts; an agent may not.
    drafts = await service.client.get(
        "/articles/search", params={"q": "fraud", "state": "draft"}, headers=service.supervisor
    )
    assert [h["article_id"] for h in drafts.json()["items"]] == [secret]
    refused = await service.client.get(
        "/articles/search", params={"q": "fraud", "state": "draft"}, headers=service.agent
    )
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("language", "title", "body", "query"),
    [
        ("en", "Printers stopped printing", "Check the cartridges.", "printer print"),
        ("ru", "Принтер не печатает", "Проверьте картриджи принтера.", "принтеры"),
        ("lt", "Spausdintuvas nespausdina", "Patikrinkite spausdintuvo kasetes.", "spausdintuvą"),
        ("pt", "A impressora não imprime", "Verifique os cartuchos da impressora.", "impressoras"),
        ("pt-BR", "Impressão falhou", "Verifique a conexão.", "impressao"),
        ("cs", "Tiskárna netiskne", "Zkontrolujte kazety tiskárny.", "tiskarna"),
    ],
)
async def test_each_language_is_found_by_another_form_of_its_words(
    service: Service, language: str, title: str, body: str, query: str
) -> None:
    wanted = await service.article(title, body, language=language)
    await service.article("Unrelated", "Nothing to see here.", language=language)
    assert await service.found(query) == [wanted]
    assert await service.found(query, language=language) == [wanted]
    other = "ru" if not language.startswith("ru") else "en"
    assert await service.found(query, language=other) == []


async def test_search_by_number_title_keywords_and_typos(service: Service) -> None:
    toner = await service.article(
        "Printer toner replacement", "Open the front cover.", keywords=["cartridge"]
    )
    other = await service.article("Printer toner order form", "Order from the portal.")
    number = (await service.client.get(f"/articles/{toner}", headers=service.agent)).json()[
        "number"
    ]
    digits = str(int(number.split("-")[1]))
    for q in (number, number.lower(), digits, f"#{digits}"):
        r = await service.client.get("/articles/search", params={"q": q}, headers=service.agent)
        assert (r.json()["kind"], [h["article_id"] for h in r.json()["items"]]) == (
            "number",
            [toner],
        ), q
    assert (await service.found("Printer toner replacement"))[0] == toner  # exact title first
    assert (await service.found("printer toner ord"))[0] == other  # title prefix
    assert await service.found("cartridge") == [toner]  # keyword
    assert (await service.found("pritner tonner replacment"))[0] == toner  # typos
    plain = await service.client.get(
        "/articles/search",
        params={"q": "pritner tonner", "ranking": "plain"},
        headers=service.agent,
    )
    assert plain.json()["items"] == []  # typos need the trigram boost


async def test_typos_are_tolerated_in_cyrillic_and_without_accents(service: Service) -> None:
    printer = await service.article("Принтер не печатает", "Проверьте картриджи.", language="ru")
    invoice = await service.article("Fatura não chegou", "Verifique o e-mail.", language="pt")
    assert (await service.found("принтр не печатат"))[0] == printer
    assert await service.found("принтр не печатат", ranking="plain") == []  # no stem matches
    assert (await service.found("fatura nao chgou"))[0] == invoice


async def test_semantic_ranking_asked_for_while_off_is_boosted(service: Service) -> None:
    await service.article("Reset the router", "Hold the button.")
    r = await service.client.get(
        "/articles/search", params={"q": "router", "ranking": "semantic"}, headers=service.agent
    )
    assert (r.json()["ranking"], len(r.json()["items"])) == ("boosted", 1)
    default = await service.client.get(
        "/articles/search", params={"q": "router"}, headers=service.agent
    )
    assert default.json()["ranking"] == "boosted"


async def test_search_filters_facets_and_snippets(service: Service) -> None:
    hardware = await service.article(
        "Reset the router",
        "Hold <script>alert(1)</script> the reset button for ten seconds.",
        category="Network/Routers",
        products=["Router X"],
    )
    await service.article(
        "Reset the VPN client", "Reinstall the VPN profile.", category="Network/VPN"
    )
    await service.article("Reset a password", "Use the portal.", category="Accounts")
    r = await service.client.get("/articles/search", params={"q": "reset"}, headers=service.agent)
    body = r.json()
    assert body["total"] == 3
    assert sum(body["facets"]["category"].values()) == 3
    assert body["facets"]["language"] == {"en": 3}
    by_category = await service.found("reset", category="Network")
    assert len(by_category) == 2 and hardware in by_category
    assert await service.found("reset", product="Router X") == [hardware]
    hit = next(h for h in body["items"] if h["article_id"] == hardware)
    assert "<script>" not in hit["snippet"] and "alert(1)" in hit["snippet"]
    assert "<mark>reset</mark>" in hit["snippet"].lower()


@pytest.mark.parametrize(
    "q", ["& | ! :*", "!!!", "a & b | !c:*", "(((", "'\\'", "<->", "👍", "x" * 500, "KA-", "0"]
)
async def test_any_query_gets_results_or_a_client_error(service: Service, q: str) -> None:
    await service.article("Refund", "A refund.")
    r = await service.client.get("/articles/search", params={"q": q}, headers=service.agent)
    assert r.status_code == 200, r.text


async def test_over_long_and_empty_queries_are_refused(service: Service) -> None:
    for q in ("x" * 10_000, ""):
        r = await service.client.get("/articles/search", params={"q": q}, headers=service.agent)
        assert r.status_code == 422
        assert r.headers["content-type"] == "application/problem+json"


# Lifecycle -------------------------------------------------------------------------------


async def test_an_article_goes_from_draft_through_review_to_published_and_archived(
    service: Service,
) -> None:
    draft = await service.draft("Reset a password", "Steps.", keywords=["login"])
    article_id = draft["article_id"]
    assert (draft["number"], draft["status"], draft["version"]) == ("KA-00001", "draft", 1)
    # Readers do not see drafts; the author and reviewers do.
    hidden = await service.client.get(f"/articles/{article_id}", headers=service.agent)
    assert hidden.status_code == 404
    own = await service.client.get(f"/articles/{article_id}", headers=service.author)
    assert own.status_code == 200

    submitted = await service.client.post(f"/articles/{article_id}/submit", headers=service.author)
    assert submitted.json()["status"] == "in_review"
    # An author cannot approve, even their own draft: that needs the reviewer role.
    refused = await service.client.post(f"/articles/{article_id}/approve", headers=service.author)
    assert refused.status_code == 403
    rejected = await service.client.post(
        f"/articles/{article_id}/reject",
        json={"note": "Add the steps."},
        headers=service.supervisor,
    )
    assert rejected.json()["status"] == "draft"
    again = await service.client.post(f"/articles/{article_id}/submit", headers=service.author)
    assert again.status_code == 200
    approved = await service.client.post(
        f"/articles/{article_id}/approve", headers=service.supervisor
    )
    assert (approved.json()["status"], approved.json()["published_version"]) == ("published", 1)
    twice = await service.client.post(f"/articles/{article_id}/approve", headers=service.supervisor)
    assert twice.status_code == 409
    assert twice.headers["content-type"] == "application/problem+json"
    assert (await service.client.get(f"/articles/{article_id}", headers=service.agent)).is_success

    archived = await service.client.post(
        f"/articles/{article_id}/archive", headers=service.supervisor
    )
    assert archived.json()["status"] == "archived"
    gone = await service.client.get(f"/articles/{article_id}", headers=service.agent)
    assert gone.status_code == 404
    restored = await service.client.post(
        f"/articles/{article_id}/restore", headers=service.supervisor
    )
    assert restored.json()["status"] == "published"

    published = [e for _, e in await service.events(c.ArticlePublished, 2)]
    assert [e.version for e in published] == [1, 1]  # type: ignore[attr-defined]
    [(key, archived_event)] = await service.events(c.ArticleArchived)
    assert key == article_id
    assert archived_event.archived_by == "tester"  # type: ignore[attr-defined]


async def test_editing_a_published_article_writes_a_version_that_replaces_it_on_approval(
    service: Service,
) -> None:
    article_id = await service.article("Reset a password", "Open the portal.\nClick reset.")
    first = await service.client.get(f"/articles/{article_id}", headers=service.agent)
    etag = first.headers["ETag"]

    missing = await service.client.patch(
        f"/articles/{article_id}", json={"title": "x"}, headers=service.author
    )
    assert missing.status_code == 428
    edited = await service.client.patch(
        f"/articles/{article_id}",
        json={"body": "Open the portal.\nClick *forgot password*."},
        headers={**service.author, "If-Match": etag},
    )
    assert edited.status_code == 200, edited.text
    assert edited.headers["ETag"] != etag
    # Readers still see version 1 until version 2 is approved.
    shown = edited.json()
    assert (shown["version"], shown["latest_version"], shown["body"]) == (
        1,
        2,
        "Open the portal.\nClick reset.",
    )
    stale = await service.client.patch(
        f"/articles/{article_id}",
        json={"title": "Stale"},
        headers={**service.author, "If-Match": etag},
    )
    assert stale.status_code == 412

    await service.client.post(f"/articles/{article_id}/submit", headers=service.author)
    approved = await service.client.post(
        f"/articles/{article_id}/approve", headers=service.supervisor
    )
    assert approved.json()["version"] == 2
    assert "<em>forgot password</em>" in approved.json()["body_html"]

    versions = await service.client.get(f"/articles/{article_id}/versions", headers=service.agent)
    assert [(v["version"], v["state"]) for v in versions.json()["items"]] == [
        (1, "superseded"),
        (2, "published"),
    ]
    one = await service.client.get(f"/articles/{article_id}/versions/1", headers=service.agent)
    assert one.json()["body"] == "Open the portal.\nClick reset."
    diff = await service.client.get(
        f"/articles/{article_id}/diff", params={"from": 1, "to": 2}, headers=service.agent
    )
    assert "-Click reset." in diff.json()["body_diff"]
    assert "+Click *forgot password*." in diff.json()["body_diff"]
    nothing = await service.client.get(f"/articles/{article_id}/versions/9", headers=service.agent)
    assert nothing.status_code == 404

    rolled = await service.client.post(
        f"/articles/{article_id}/rollback", json={"version": 1}, headers=service.supervisor
    )
    assert (rolled.json()["version"], rolled.json()["body"]) == (
        3,
        "Open the portal.\nClick reset.",
    )
    [_, (_, versioned)] = await service.events(c.ArticleVersioned, 2)
    assert (versioned.version, versioned.based_on) == (3, 1)  # type: ignore[attr-defined]


async def test_reviewers_list_the_articles_whose_review_date_has_come(service: Service) -> None:
    overdue = await service.article("Old VPN setup", "Steps.", review_on="2026-03-01")
    today = await service.article("Printer drivers", "Steps.", review_on="2026-05-04")
    await service.article("Later", "Steps.", review_on="2026-09-01")
    await service.article("No date", "Steps.")
    await service.article("Draft", "Steps.", review_on="2026-01-01", publish=False)
    due = await service.client.get("/articles/due-for-review", headers=service.supervisor)
    assert [a["article_id"] for a in due.json()["items"]] == [overdue, today]
    later = await service.client.get(
        "/articles/due-for-review", params={"on": "2026-12-31"}, headers=service.supervisor
    )
    assert len(later.json()["items"]) == 3
    refused = await service.client.get("/articles/due-for-review", headers=service.agent)
    assert refused.status_code == 403


async def test_by_number_and_translations(service: Service) -> None:
    english = await service.article("Reset a password", "Steps.", public=True)
    r = await service.client.post(
        "/articles",
        json={
            "title": "Redefinir a senha",
            "body": "Passos.",
            "language": "pt",
            "translation_of": english,
            "public": True,
        },
        headers=service.author,
    )
    assert r.status_code == 201, r.text
    portuguese = r.json()
    assert portuguese["translation_group"] == english
    duplicate = await service.client.post(
        "/articles",
        json={"title": "Outra", "language": "pt", "translation_of": english},
        headers=service.author,
    )
    assert duplicate.status_code == 409
    group = await service.client.get(
        f"/articles/{english}/translations", headers=service.supervisor
    )
    assert [t["language"] for t in group.json()["items"]] == ["en", "pt"]

    for number in ("KA-00001", "ka-1", "1"):
        found = await service.client.get(f"/articles/by-number/{number}", headers=service.agent)
        assert found.json()["article_id"] == english, number
    missing = await service.client.get("/articles/by-number/KA-99999", headers=service.agent)
    assert missing.status_code == 404
    draft = await service.client.get(
        f"/articles/by-number/{portuguese['number']}", headers=service.agent
    )
    assert draft.status_code == 404  # not published yet


async def test_bad_bodies_and_ids_are_client_errors(service: Service) -> None:
    cases = [
        ("POST", "/articles", {"title": ""}),
        ("POST", "/articles", {"title": "x", "language": "not a tag!"}),
        ("POST", "/articles", {"title": "x", "keywords": ["k"] * 21}),
        ("POST", "/articles", {"title": "x", "surprise": 1}),
        ("POST", "/articles", {"title": "x", "translation_of": str(uuid.uuid4())}),
        ("GET", "/articles/not-a-uuid", None),
        ("GET", f"/articles/{uuid.uuid4()}", None),
        ("POST", f"/articles/{uuid.uuid4()}/submit", None),
        ("POST", f"/articles/{uuid.uuid4()}/rollback", {"version": 0}),
    ]
    for method, path, body in cases:
        r = await service.client.request(method, path, json=body, headers=service.supervisor)
        assert 400 <= r.status_code < 500, (path, body, r.status_code, r.text)
        assert r.headers["content-type"] == "application/problem+json"


# Cases: links, suggestions, sending, feedback ------------------------------------------------


async def test_linking_an_article_to_a_case(service: Service) -> None:
    article_id = await service.article("Reset a password", "Steps.")
    draft_id = await service.article("Unfinished", "Later.", publish=False)
    case_id = uuid.uuid4()
    agent_id = uuid.uuid4()
    as_agent = bearer(service.app, "agent", subject=str(agent_id))

    first = await service.client.post(f"/cases/{case_id}/articles/{article_id}", headers=as_agent)
    assert first.status_code == 201, first.text
    again = await service.client.post(f"/cases/{case_id}/articles/{article_id}", headers=as_agent)
    assert again.status_code == 200
    refused = await service.client.post(f"/cases/{case_id}/articles/{draft_id}", headers=as_agent)
    assert refused.status_code == 409
    [(key, linked)] = await service.events(c.ArticleLinked)
    assert key == str(case_id)
    assert (linked.article_id, linked.linked_by) == (uuid.UUID(article_id), agent_id)  # type: ignore[attr-defined]


async def test_a_case_gets_suggestions_in_its_language_and_agents_judge_them(
    service: Service,
) -> None:
    refund = await service.article(
        "Refund a duplicate card payment", "Customers charged twice get a refund."
    )
    reembolso = await service.article(
        "Reembolso de pagamento duplicado",
        "Clientes cobrados duas vezes recebem reembolso.",
        language="pt",
    )
    unrelated = _case_opened("Weather on Tuesday")
    await publish_event(service.broker, unrelated, topic=topics.CASES)
    # Applied (the inbox says so) with nothing to suggest.
    assert await service.scalar("SELECT count(*) FROM inbox") == 1

    contact = uuid.uuid4()
    await publish_event(service.broker, _contact(contact, "pt"), topic=topics.INTAKE_CUSTOMERS)
    opened = _case_opened("Pagamento duplicado, quero reembolso", contact_id=contact)
    await publish_event(service.broker, opened, topic=topics.CASES)
    [(key, suggested)] = await service.events(c.ArticlesSuggested)
    assert key == str(opened.case_id)
    assert [str(s.article_id) for s in suggested.suggestions] == [reembolso]  # type: ignore[attr-defined]

    listed = await service.client.get(f"/cases/{opened.case_id}/suggestions", headers=service.agent)
    assert [(s["article_id"], s["rank"]) for s in listed.json()["items"]] == [(reembolso, 1)]
    judged = await service.client.post(
        f"/cases/{opened.case_id}/suggestions/{reembolso}",
        json={"verdict": "used"},
        headers=service.agent,
    )
    assert judged.json()["items"][0]["verdict"] == "used"
    not_suggested = await service.client.post(
        f"/cases/{opened.case_id}/suggestions/{refund}",
        json={"verdict": "used"},
        headers=service.agent,
    )
    assert not_suggested.status_code == 404
    figures = await service.client.get("/suggestions/figures", headers=service.supervisor)
    assert figures.json()["items"] == [
        {"rank": 1, "suggested": 1, "used": 1, "not_useful": 0, "precision": 1.0}
    ]
    unknown = await service.client.get(f"/cases/{uuid.uuid4()}/suggestions", headers=service.agent)
    assert unknown.status_code == 404


async def test_a_language_learnt_after_the_case_opened_suggests_again_in_it(
    service: Service,
) -> None:
    await service.article("Refund a duplicate card payment", "Charged twice? Refund.")
    reembolso = await service.article(
        "Reembolso de pagamento", "Cobrado duas vezes? Reembolso.", language="pt"
    )
    contact = uuid.uuid4()
    opened = _case_opened("refund reembolso", contact_id=contact)
    await publish_event(service.broker, opened, topic=topics.CASES)
    first = await service.events(c.ArticlesSuggested)
    assert len(first[0][1].suggestions) == 2  # type: ignore[attr-defined]
    await publish_event(
        service.broker, _contact(contact, "pt", version=2), topic=topics.INTAKE_CUSTOMERS
    )
    [_, (_, again)] = await service.events(c.ArticlesSuggested, 2)
    assert [str(s.article_id) for s in again.suggestions] == [reembolso]  # type: ignore[attr-defined]
    # An older card does not undo it.
    await publish_event(
        service.broker, _contact(contact, "en", version=1), topic=topics.INTAKE_CUSTOMERS
    )
    assert await service.scalar("SELECT language FROM contact_languages") == "pt"


async def test_a_subject_change_suggests_again(service: Service) -> None:
    printer = await service.article("Printer jams", "Open the tray.")
    opened = _case_opened("Weather on Tuesday")
    await publish_event(service.broker, opened, topic=topics.CASES)
    updated = c.CaseUpdated(
        occurred_at=NOW,
        case_id=opened.case_id,
        number=opened.number,
        changes={"subject": "My printer jams"},
        subject="My printer jams",
    )
    await publish_event(service.broker, updated, topic=topics.CASES)
    [(_, suggested)] = await service.events(c.ArticlesSuggested)
    assert [str(s.article_id) for s in suggested.suggestions] == [printer]  # type: ignore[attr-defined]


async def test_sending_an_article_asks_intake_to_mail_the_customers_translation(
    service: Service,
) -> None:
    english = await service.article("Reset a password", "Open **the portal**.", public=True)
    r = await service.client.post(
        "/articles",
        json={
            "title": "Сброс пароля",
            "body": "Откройте портал.",
            "language": "ru",
            "translation_of": english,
            "public": True,
        },
        headers=service.author,
    )
    russian = r.json()["article_id"]
    await service.client.post(f"/articles/{russian}/publish", headers=service.supervisor)
    internal = await service.article("Internal notes", "Not for customers.")

    contact = uuid.uuid4()
    interaction = uuid.uuid4()
    received = c.sample("interaction.received").model_copy(
        update={"interaction_id": interaction, "contact_id": contact, "language": "ru"}
    )
    await publish_event(service.broker, received, topic=topics.INTAKE_INTERACTIONS)
    opened = _case_opened("Пароль", contact_id=contact, interaction_id=interaction)
    await publish_event(service.broker, opened, topic=topics.CASES)
    await eventually(lambda: _known(service, opened.case_id))

    agent_id = uuid.uuid4()
    as_agent = bearer(service.app, "agent", subject=str(agent_id))
    sent = await service.client.post(
        f"/cases/{opened.case_id}/articles/{english}/send",
        json={"text": "Вот инструкция."},
        headers=as_agent,
    )
    assert sent.status_code == 202, sent.text
    assert (sent.json()["article_id"], sent.json()["language"]) == (russian, "ru")
    [(_, notification)] = await service.events(c.NotificationRequested)
    assert isinstance(notification, c.NotificationRequested)
    assert notification.recipient == c.Recipient(kind=c.RecipientKind.CONTACT, id=contact)
    assert (notification.template, notification.language) == ("article.sent", "ru")
    assert notification.parameters["title"] == "Сброс пароля"
    assert notification.parameters["body"] == "Откройте портал."
    assert notification.parameters["text"] == "Вот инструкция."
    assert notification.parameters["number"] == opened.number
    [(key, event)] = await service.events(c.ArticleSent)
    assert key == str(opened.case_id)
    assert (event.article_id, event.sent_by) == (uuid.UUID(russian), agent_id)  # type: ignore[attr-defined]
    [(_, linked)] = await service.events(c.ArticleLinked)
    assert linked.article_id == uuid.UUID(english)  # type: ignore[attr-defined]

    refused = await service.client.post(
        f"/cases/{opened.case_id}/articles/{internal}/send", headers=as_agent
    )
    assert refused.status_code == 409  # not public
    unknown = await service.client.post(
        f"/cases/{uuid.uuid4()}/articles/{english}/send", headers=as_agent
    )
    assert unknown.status_code == 404
    figures = await service.client.get(f"/articles/{russian}/figures", headers=service.agent)
    assert figures.json()["sent"] == 1


async def _known(service: Service, case_id: uuid.UUID) -> bool | None:
    async with service.app.kit.engine.connect() as conn:
        count = (
            await conn.execute(
                text("SELECT count(*) FROM case_contexts WHERE case_id = :id"), {"id": case_id}
            )
        ).scalar_one()
    return True if count else None


async def test_feedback_and_views_are_counted_per_article(service: Service) -> None:
    article_id = await service.article("Reset a password", "Steps.")
    draft_id = await service.article("Draft", "Later.", publish=False)
    for _ in range(2):
        await service.client.get(f"/articles/{article_id}", headers=service.agent)
    for helpful, comment in ((True, "Saved me"), (False, "Outdated screenshot"), (True, None)):
        r = await service.client.post(
            f"/articles/{article_id}/feedback",
            json={"helpful": helpful, "comment": comment},
            headers=service.agent,
        )
        assert r.status_code == 201, r.text
    refused = await service.client.post(
        f"/articles/{draft_id}/feedback", json={"helpful": True}, headers=service.supervisor
    )
    assert refused.status_code == 409
    figures = (
        await service.client.get(f"/articles/{article_id}/figures", headers=service.agent)
    ).json()
    assert (figures["views"], figures["helpful"], figures["unhelpful"]) == (2, 2, 1)
    listed = await service.client.get(
        f"/articles/{article_id}/feedback", headers=service.supervisor
    )
    assert {f["comment"] for f in listed.json()["items"]} == {
        "Saved me",
        "Outdated screenshot",
        None,
    }
    assert (
        await service.client.get(f"/articles/{article_id}/feedback", headers=service.agent)
    ).status_code == 403


async def test_health_metrics_and_asyncapi(service: Service) -> None:
    assert (await service.client.get("/health/live")).json() == {"status": "ok"}
    ready = await service.client.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok"
    assert "caseflow_http_requests_total" in (await service.client.get("/metrics")).text
    doc = (await service.client.get("/asyncapi.json")).json()
    assert set(doc["channels"]) == {
        "cases.case.v1:consume",
        "intake.customer.v1:consume",
        "intake.interaction.v1:consume",
        "knowledge.article.v1:publish",
        "intake.notification.v1:publish",
    }
