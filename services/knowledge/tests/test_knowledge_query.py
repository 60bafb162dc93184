"""Reading the search box: article numbers, words, and input no search may choke on."""

from __future__ import annotations

import pytest

from knowledge.domain.numbers import format_article_number
from knowledge.domain.query import (
    MAX_TERMS,
    ParsedQuery,
    QueryKind,
    SearchFilters,
    language_group,
    parse_query,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("raw", ["KA-00042", "ka-42", "ka42", "KA 42", "#42", "42", " ka - 42 "])
def test_number_forms_name_the_article(raw: str) -> None:
    query = parse_query(raw)
    assert query.kind is QueryKind.NUMBER
    assert query.number == format_article_number(42) == "KA-00042"


def test_numbers_past_five_digits_keep_their_digits() -> None:
    assert parse_query("KA-123456").number == "KA-123456"


@pytest.mark.parametrize("raw", ["0", "KA-0", "KA-", "#", "ka 42 toner", "4 2", "KA-1234567890123"])
def test_what_is_not_an_article_number_is_text(raw: str) -> None:
    query = parse_query(raw)
    assert query.kind is QueryKind.TEXT
    assert query.number is None


def test_a_number_read_as_text_keeps_its_words() -> None:
    query = parse_query("ka 42").as_text()
    assert query == ParsedQuery("ka 42", QueryKind.TEXT, None, ("ka", "42"))


def test_text_collapses_whitespace_and_keeps_distinct_folded_words() -> None:
    query = parse_query("  Printer\tTONER\n printer  a toner-cartridge ")
    assert query.text == "Printer TONER printer a toner-cartridge"
    assert query.kind is QueryKind.TEXT
    assert query.terms == ("printer", "toner", "cartridge")


@pytest.mark.parametrize("raw", ["& | ! :* ( ) <->", "!!!", "''", "\\\\", ":*", "-", "   "])
def test_operators_alone_have_no_words(raw: str) -> None:
    query = parse_query(raw)
    assert query.kind is QueryKind.TEXT
    assert query.terms == ()


def test_operators_between_words_are_left_out_of_the_words() -> None:
    assert parse_query("printer & !toner | (jam):*").terms == ("printer", "toner", "jam")


def test_long_input_keeps_at_most_the_first_words() -> None:
    words = [f"word{i}" for i in range(1000)]
    query = parse_query(" ".join(words) + "x" * 100_000)
    assert query.terms == tuple(words[:MAX_TERMS])
    assert len(parse_query("a" * 1_000_000).text) == 1_000_000


@pytest.mark.parametrize(
    ("raw", "terms"),
    [
        ("Принтер не печатает", ("принтер", "не", "печатает")),
        ("Falha de impressão", ("falha", "de", "impressão")),
        ("Tiskárna netiskne", ("tiskárna", "netiskne")),
        ("Spausdintuvas nespausdina", ("spausdintuvas", "nespausdina")),
        ("STRASSE Straße", ("strasse",)),
        ("printer 😀🎉 jam", ("printer", "jam")),
        ("😀🎉", ()),
        ("打印机 坏了", ("打印机", "坏了")),
    ],
)
def test_words_in_any_script_are_case_folded(raw: str, terms: tuple[str, ...]) -> None:
    assert parse_query(raw).terms == terms


def test_decomposed_accents_are_composed_into_their_words() -> None:
    assert parse_query("impressa\u0303o").terms == ("impressão",)


def test_characters_no_database_text_may_hold_are_dropped() -> None:
    query = parse_query("toner\x00jam\ud800x\x02y")
    assert query.text == "toner jam x y"
    assert query.terms == ("toner", "jam")


@pytest.mark.parametrize(
    ("tag", "group"),
    [("en", "en"), ("en-GB", "en"), ("pt-BR", "pt"), ("PT_pt", "pt"), ("ru", "ru"),
     ("lt-LT", "lt"), ("cs", "cs"), ("de-DE", "other"), ("", "other")],
)  # fmt: skip
def test_language_tags_map_to_their_group(tag: str, group: str) -> None:
    assert language_group(tag) == group


def test_filters_show_published_articles_by_default() -> None:
    assert SearchFilters().states == ("published",)
