"""The notification templates: every kind in every language, the language fallback, overrides
from configuration and the sandbox around them."""

from __future__ import annotations

from pathlib import Path

import pytest

from intake.adapters.templates import (
    RenderedMail,
    TemplateError,
    TemplateRenderer,
    UnknownTemplate,
)

LANGUAGES = ("en", "ru", "lt", "pt", "cs")

CASE_KINDS = (
    "case.received",
    "case.accepted",
    "case.reply",
    "case.resolved",
    "case.cancelled",
    "case.escalated",
    "case.follow_up",
    "case.assigned",
    "sla.nearing_breach",
    "article.sent",
)
CONTRACT_KINDS = (
    "contract.allotment_low",
    "contract.allotment_exhausted",
    "contract.ending_soon",
)

NUMBER = "CAS-2025-000042"
CONTRACT = "K-2025-017"

FULL = {
    "desk_name": "Caseflow Service Desk",
    "recipient_name": "Anna Berg",
    "number": NUMBER,
    "case_number": NUMBER,
    "subject": "The printer on floor 3 does not print",
    "text": "Please switch the printer off and on again.",
    "agent_name": "Tom Lee",
    "resolution": "The printer driver was updated.",
    "reason": "Sent twice by mistake.",
    "claim": "No answer for three days.",
    "target": "department_head",
    "level": "2",
    "queue": "Hardware",
    "priority": "high",
    "kpi": "first response",
    "due_at": "2025-03-04 14:00",
    "assignee": "Tom Lee",
    "article_number": "KA-01042",
    "title": "How to restart a printer",
    "body": "Switch it off, wait ten seconds, switch it on.",
    "contract_number": CONTRACT,
    "contract_name": "Acme support",
    "line_number": "2",
    "line_name": "On-site visits",
    "allocation": "minutes",
    "allotment": "600",
    "remaining": "45",
    "ends_on": "2025-06-30",
    "days_left": "30",
}


def template(subject: str, body: str) -> str:
    return (
        f"{{% block subject %}}{subject}{{% endblock %}}\n"
        f"{{% block body %}}\n{body}\n{{% endblock %}}\n"
    )


def override(root: Path, name: str, content: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return root


def test_every_kind_is_shipped_in_every_language() -> None:
    renderer = TemplateRenderer()

    assert renderer.kinds() == frozenset(CASE_KINDS + CONTRACT_KINDS)
    for kind in renderer.kinds():
        assert renderer.languages(kind) == frozenset(LANGUAGES), kind


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", CASE_KINDS + CONTRACT_KINDS)
def test_every_kind_renders_in_every_language(kind: str, language: str) -> None:
    mail = TemplateRenderer().render(kind, language, FULL)

    assert mail.language == language
    assert mail.subject
    assert "\n" not in mail.subject
    assert mail.subject == mail.subject.strip()
    assert NUMBER not in mail.subject  # the sender adds it
    assert (CONTRACT if kind in CONTRACT_KINDS else NUMBER) in mail.text
    assert "Caseflow Service Desk" in mail.text
    assert mail.text == mail.text.strip("\n")
    assert "{" not in mail.text + mail.subject
    assert "None" not in mail.text
    assert mail.html is None


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", CASE_KINDS + CONTRACT_KINDS)
def test_a_missing_parameter_renders_as_nothing(kind: str, language: str) -> None:
    mail = TemplateRenderer().render(kind, language, {})

    assert mail.subject
    assert mail.text
    assert "None" not in mail.text


def test_a_parameter_given_as_none_renders_as_nothing() -> None:
    mail = TemplateRenderer().render("case.cancelled", "en", {**FULL, "reason": None})

    assert "None" not in mail.text
    assert "Reason" not in mail.text


def test_the_reply_carries_the_agents_text_verbatim_and_their_name() -> None:
    text = "Line one.\n\n  An indented line.\nLine three."

    mail = TemplateRenderer().render("case.reply", "en", {**FULL, "text": text})

    assert text in mail.text
    assert "Tom Lee\nCaseflow Service Desk" in mail.text


def test_the_greeting_reads_well_without_a_name() -> None:
    mail = TemplateRenderer().render("case.received", "en", {**FULL, "recipient_name": ""})

    assert mail.text.startswith("Hello,\n")


def test_the_escalation_target_is_said_in_the_recipients_language() -> None:
    mail = TemplateRenderer().render("case.escalated", "ru", FULL)

    assert "руководитель отдела" in mail.text
    assert "department_head" not in mail.text


def test_the_resolution_mentions_the_seven_days_to_reopen() -> None:
    mail = TemplateRenderer().render("case.resolved", "en", FULL)

    assert "7 days" in mail.text
    assert "reopen" in mail.text


@pytest.mark.parametrize(
    ("asked", "default", "used"),
    [
        ("ru", "en", "ru"),
        ("RU", "en", "ru"),
        ("pt-BR", "en", "pt"),
        ("pt_BR", "en", "pt"),
        ("cs-CZ", "en", "cs"),
        ("de", "en", "en"),
        ("de", "lt", "lt"),
        ("de", "pt_PT", "pt"),
        ("de", "fr", "en"),
        (None, "cs", "cs"),
        ("", "cs", "cs"),
    ],
)
def test_the_language_falls_back_to_the_default_then_to_english(
    asked: str | None, default: str, used: str
) -> None:
    renderer = TemplateRenderer(default_language=default)

    assert renderer.render("case.received", asked, FULL).language == used


def test_a_regional_template_is_preferred_to_its_language(tmp_path: Path) -> None:
    root = override(tmp_path, "case.received/pt-br.txt", template("Recebemos", "{{ number }}"))
    renderer = TemplateRenderer(override_dir=root)

    assert renderer.render("case.received", "pt-BR", FULL).language == "pt-br"
    assert renderer.render("case.received", "pt-PT", FULL).language == "pt"
    assert "pt-br" in renderer.languages("case.received")


def test_the_case_number_is_known_by_both_names() -> None:
    mail = TemplateRenderer().render("case.received", "en", {"number": NUMBER})
    other = TemplateRenderer().render("case.received", "en", {"case_number": NUMBER})

    assert NUMBER in mail.text
    assert mail.text == other.text


def test_an_unknown_kind_is_refused() -> None:
    renderer = TemplateRenderer()

    with pytest.raises(UnknownTemplate) as raised:
        renderer.render("case.teleported", "en", FULL)

    assert isinstance(raised.value, LookupError)
    assert raised.value.kind == "case.teleported"
    assert renderer.languages("case.teleported") == frozenset()


@pytest.mark.parametrize("kind", ["../case.received", "case.received/../case.reply", ""])
def test_a_kind_that_is_a_path_is_unknown(kind: str) -> None:
    with pytest.raises(UnknownTemplate):
        TemplateRenderer().render(kind, "en", FULL)


def test_an_override_replaces_one_kind_in_one_language(tmp_path: Path) -> None:
    root = override(
        tmp_path,
        "case.received/en.txt",
        template("Got it", "Hi {{ recipient_name }}, your number is {{ number }}."),
    )
    renderer = TemplateRenderer(override_dir=root)

    mail = renderer.render("case.received", "en", FULL)
    shipped = renderer.render("case.received", "ru", FULL)

    assert mail == RenderedMail(
        subject="Got it",
        text=f"Hi Anna Berg, your number is {NUMBER}.",
        html=None,
        language="en",
    )
    assert shipped == TemplateRenderer().render("case.received", "ru", FULL)
    assert renderer.render("case.reply", "en", FULL) == TemplateRenderer().render(
        "case.reply", "en", FULL
    )


def test_an_override_adds_a_kind(tmp_path: Path) -> None:
    root = override(
        tmp_path,
        "survey.invited/en.txt",
        template("How did we do?", "Tell us about {{ number }}: {{ link }}"),
    )
    renderer = TemplateRenderer(override_dir=root)

    mail = renderer.render("survey.invited", "lt", {**FULL, "link": "https://survey.example"})

    assert "survey.invited" in renderer.kinds()
    assert renderer.kinds() > TemplateRenderer().kinds()
    assert renderer.languages("survey.invited") == frozenset({"en"})
    assert mail.subject == "How did we do?"
    assert mail.text == f"Tell us about {NUMBER}: https://survey.example"
    assert mail.language == "en"


def test_a_kind_written_in_other_languages_only_is_sent_in_one_of_them(tmp_path: Path) -> None:
    root = override(tmp_path, "survey.invited/lt.txt", template("Apklausa", "{{ number }}"))

    mail = TemplateRenderer(override_dir=root).render("survey.invited", "fr", FULL)

    assert mail.language == "lt"


def test_files_for_includes_are_not_kinds(tmp_path: Path) -> None:
    override(tmp_path, "_shared/footer.en.txt", "Sent by {{ desk_name }}")
    override(tmp_path, "case.received/_draft.txt", template("Draft", "Draft"))
    root = override(
        tmp_path,
        "case.received/en.txt",
        template("Got it", '{{ number }}\n{% include "_shared/footer.en.txt" %}'),
    )
    renderer = TemplateRenderer(override_dir=root)

    mail = renderer.render("case.received", "en", FULL)

    assert "_shared" not in renderer.kinds()
    assert "_draft" not in renderer.languages("case.received")
    assert mail.text == f"{NUMBER}\nSent by Caseflow Service Desk"


def test_an_absent_override_directory_leaves_the_shipped_templates(tmp_path: Path) -> None:
    renderer = TemplateRenderer(override_dir=tmp_path / "nowhere")

    assert renderer.kinds() == TemplateRenderer().kinds()


def test_the_subject_comes_out_on_one_line_and_the_body_without_blank_edges(
    tmp_path: Path,
) -> None:
    root = override(
        tmp_path,
        "case.received/en.txt",
        "{% block subject %}\n  Received:\n  {{ subject }}\n{% endblock %}"
        "{% block body %}\n\n\n   Indented first line\n\nLast line\n\n\n{% endblock %}",
    )

    mail = TemplateRenderer(override_dir=root).render(
        "case.received", "en", {"subject": "two\nlines"}
    )

    assert mail.subject == "Received: two lines"
    assert mail.text == "   Indented first line\n\nLast line"


def test_attributes_of_a_missing_parameter_render_as_nothing(tmp_path: Path) -> None:
    root = override(
        tmp_path,
        "case.received/en.txt",
        template("[{{ customer.name }}]", "[{{ customer.name.first }}][{{ customer['x'].y }}]"),
    )

    mail = TemplateRenderer(override_dir=root).render("case.received", "en", {})

    assert mail.subject == "[]"
    assert mail.text == "[][]"


def test_the_text_is_not_escaped(tmp_path: Path) -> None:
    mail = TemplateRenderer().render("case.reply", "en", {**FULL, "text": "a < b & c"})

    assert "a < b & c" in mail.text


def test_an_html_template_gives_an_escaped_html_body(tmp_path: Path) -> None:
    override(tmp_path, "case.reply/en.txt", template("Re: {{ subject }}", "{{ text }}"))
    root = override(tmp_path, "case.reply/en.html", "<p>{{ text }}</p>\n<p>{{ desk_name }}</p>")
    hostile = "<script>alert(1)</script>"

    mail = TemplateRenderer(override_dir=root).render("case.reply", "en", {**FULL, "text": hostile})

    assert mail.html == (
        "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n<p>Caseflow Service Desk</p>"
    )
    assert mail.text == hostile


def test_an_html_template_in_another_language_is_not_used(tmp_path: Path) -> None:
    root = override(tmp_path, "case.reply/ru.html", "<p>{{ text }}</p>")

    mail = TemplateRenderer(override_dir=root).render("case.reply", "en", FULL)

    assert mail.html is None


@pytest.mark.parametrize(
    "expression",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ ''['__class__'] }}",
        "{{ recipient_name.__class__.__base__.__subclasses__() }}",
        "{{ lipsum.__globals__ }}",
    ],
)
def test_the_sandbox_refuses_a_template_that_reaches_for_python(
    tmp_path: Path, expression: str
) -> None:
    root = override(tmp_path, "case.received/lt.txt", template("Gavome", expression))
    renderer = TemplateRenderer(override_dir=root)

    with pytest.raises(TemplateError) as raised:
        renderer.render("case.received", "lt", FULL)

    assert isinstance(raised.value, ValueError)
    assert raised.value.kind == "case.received"
    assert raised.value.language == "lt"
    assert "unsafe" in raised.value.message
    assert "case.received" in str(raised.value)


def test_a_template_with_a_syntax_error_is_refused_with_the_reason(tmp_path: Path) -> None:
    root = override(tmp_path, "case.received/en.txt", template("Got it", "{% if number %}"))

    with pytest.raises(TemplateError) as raised:
        TemplateRenderer(override_dir=root).render("case.received", "en", FULL)

    assert raised.value.language == "en"
    assert "TemplateSyntaxError" in raised.value.message
    assert "\n" not in raised.value.message


def test_a_text_template_without_a_subject_block_is_refused(tmp_path: Path) -> None:
    root = override(tmp_path, "case.received/en.txt", "Just a body {{ number }}")

    with pytest.raises(TemplateError) as raised:
        TemplateRenderer(override_dir=root).render("case.received", "en", FULL)

    assert "block subject" in raised.value.message


def test_a_failing_expression_is_refused_not_raised_as_is(tmp_path: Path) -> None:
    root = override(tmp_path, "case.received/en.txt", template("Got it", "{{ 1 // 0 }}"))

    with pytest.raises(TemplateError, match="ZeroDivisionError"):
        TemplateRenderer(override_dir=root).render("case.received", "en", FULL)
