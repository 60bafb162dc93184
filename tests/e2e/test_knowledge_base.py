"""End to end: the knowledge base, through every service as a process.

An article is written, reviewed and published in English and in Russian; a customer writes in
Russian through the web form, and the case that opens gets the article suggested; the agent
finds it by its number and by a misspelled title, and sends it: the customer receives the
Russian translation by mail. An edit then writes version 2, and version 1 stays readable.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from .conftest import API_KEY, Suite
from .test_case_work import _agent, _ok
from .test_email_channel import _mail_in
from .test_walking_skeleton import eventually

pytestmark = pytest.mark.e2e


async def test_an_article_is_suggested_found_sent_in_the_customers_language_and_versioned(
    suite: Suite,
) -> None:
    knowledge, intake, cases = (suite.http[n] for n in ("knowledge", "intake", "cases"))
    tag = uuid.uuid4().hex[:8]
    author = _agent(suite, uuid.uuid4())
    reviewer = suite.agent()

    # 1. Written, reviewed and published in two languages.
    title = f"Resetting the Zephyr{tag} router"
    english = await _ok(
        await knowledge.post(
            "/articles",
            json={
                "title": title,
                "body": f"Hold the **reset** button of the Zephyr{tag} for ten seconds.",
                "keywords": ["router", "reset"],
                "category": "Network/Routers",
                "public": True,
            },
            headers=author,
        ),
        201,
    )
    russian = await _ok(
        await knowledge.post(
            "/articles",
            json={
                "title": f"Сброс маршрутизатора Zephyr{tag}",
                "body": f"Удерживайте кнопку сброса маршрутизатора Zephyr{tag} десять секунд.",
                "language": "ru",
                "translation_of": english["article_id"],
                "public": True,
            },
            headers=author,
        ),
        201,
    )
    for article in (english, russian):
        await _ok(await knowledge.post(f"/articles/{article['article_id']}/submit", headers=author))
        approved = await _ok(
            await knowledge.post(
                f"/articles/{article['article_id']}/approve",
                json={"note": "Checked."},
                headers=reviewer,
            )
        )
        assert approved["status"] == "published"

    # 2. A customer writes in Russian; the case that opens gets the Russian article suggested.
    customer = f"olga.{tag}@example.ru"
    accepted = await _ok(
        await intake.post(
            "/web-submissions",
            json={
                "name": "Ольга",
                "email": customer,
                "subject": f"Не работает маршрутизатор Zephyr{tag}",
                "body": "Интернет пропал.",
                "locale": "ru-RU",
            },
            headers={"X-Api-Key": API_KEY, "Idempotency-Key": str(uuid.uuid4())},
        ),
        202,
    )

    async def the_case() -> dict[str, Any] | None:
        r = await cases.get(
            "/cases", params={"contact_id": accepted["contact_id"]}, headers=reviewer
        )
        items = (await _ok(r))["items"]
        return items[0] if items else None

    case = await eventually(the_case)

    async def suggested() -> list[dict[str, Any]] | None:
        r = await knowledge.get(f"/cases/{case['case_id']}/suggestions", headers=author)
        if r.status_code == 404:
            return None
        items: list[dict[str, Any]] = (await _ok(r))["items"]
        return items or None

    suggestions = await eventually(suggested)
    assert suggestions[0]["article_id"] == russian["article_id"]

    # 3. The agent finds the article by its number and by a misspelled title.
    by_number = await _ok(
        await knowledge.get(f"/articles/by-number/{english['number']}", headers=author)
    )
    assert by_number["article_id"] == english["article_id"]
    digits = str(int(english["number"].split("-")[1]))
    found = await _ok(await knowledge.get("/articles/search", params={"q": digits}, headers=author))
    assert [h["article_id"] for h in found["items"]] == [english["article_id"]]
    misspelled = f"Reseting the Zephyr{tag} ruoter"
    found = await _ok(
        await knowledge.get(
            "/articles/search", params={"q": misspelled, "language": "en"}, headers=author
        )
    )
    assert found["items"][0]["article_id"] == english["article_id"]

    # 4. The agent sends it; the customer receives the Russian translation by mail.
    sent = await _ok(
        await knowledge.post(
            f"/cases/{case['case_id']}/articles/{english['article_id']}/send",
            json={"text": "Вот инструкция."},
            headers=author,
        ),
        202,
    )
    assert (sent["article_id"], sent["language"]) == (russian["article_id"], "ru")
    async with httpx.AsyncClient(base_url=suite.stack.mailsink_url, timeout=30) as sink:

        async def the_article_mail() -> dict[str, Any] | None:
            for mail in await _mail_in(sink, customer, count=1):
                detail = await _ok(await sink.get(f"/messages/{mail['id']}"))
                if f"Сброс маршрутизатора Zephyr{tag}" in detail["text"]:
                    return detail
            return None

        mail = await eventually(the_article_mail)
    assert "Удерживайте кнопку сброса" in mail["text"]
    assert "Вот инструкция." in mail["text"]
    assert case["number"] in mail["subject"]

    # 5. An edit writes version 2; version 1 stays readable.
    current = await knowledge.get(f"/articles/{english['article_id']}", headers=author)
    edited = await _ok(
        await knowledge.patch(
            f"/articles/{english['article_id']}",
            json={"body": f"Hold the **reset** button of the Zephyr{tag} for thirty seconds."},
            headers={**author, "If-Match": current.headers["ETag"]},
        )
    )
    assert (edited["version"], edited["latest_version"]) == (1, 2)
    await _ok(await knowledge.post(f"/articles/{english['article_id']}/submit", headers=author))
    approved = await _ok(
        await knowledge.post(f"/articles/{english['article_id']}/approve", headers=reviewer)
    )
    assert approved["version"] == 2 and "thirty seconds" in approved["body"]
    first = await _ok(
        await knowledge.get(f"/articles/{english['article_id']}/versions/1", headers=author)
    )
    assert (first["state"], first["body"]) == (
        "superseded",
        f"Hold the **reset** button of the Zephyr{tag} for ten seconds.",
    )
