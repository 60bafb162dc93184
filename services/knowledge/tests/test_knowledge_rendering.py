"""Article bodies in Markdown: sanitised HTML for browsers, plain text for e-mail."""

from __future__ import annotations

import pytest

from knowledge.adapters.rendering import to_html, to_text

pytestmark = pytest.mark.unit

REL = 'rel="noopener noreferrer nofollow"'


def test_a_script_is_dropped_with_its_content() -> None:
    rendered = to_html("Hello <script>alert(1)</script> world\n\n<script>\nalert(2)\n</script>")

    assert "<script" not in rendered
    assert "alert" not in rendered
    assert "Hello" in rendered


def test_an_event_handler_on_raw_html_is_removed() -> None:
    rendered = to_html('Look <img src=x onerror=alert(1)> <p onclick="alert(2)">here</p>')

    assert "onerror" not in rendered
    assert "onclick" not in rendered
    assert "alert" not in rendered


@pytest.mark.parametrize(
    "markdown",
    [
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x]: javascript:alert(1)\n\n[x]",
        '<a href="javascript:alert(1)">x</a>',
        '<a href="&#106;avascript:alert(1)">x</a>',
        '<a href="data:text/html,<script>alert(1)</script>">x</a>',
    ],
)
def test_a_javascript_or_data_link_has_no_href(markdown: str) -> None:
    rendered = to_html(markdown)

    assert "href" not in rendered
    assert "<script" not in rendered


def test_a_raw_iframe_object_and_style_are_dropped() -> None:
    rendered = to_html(
        '<iframe src="https://evil.example">inside</iframe>\n\n'
        '<object data="x.swf"></object><style>p { color: red }</style>text'
    )

    assert "<iframe" not in rendered
    assert "inside" not in rendered
    assert "<object" not in rendered
    assert "<style" not in rendered
    assert "color" not in rendered


@pytest.mark.parametrize(
    "markdown",
    [
        "![pixel](data:image/png;base64,iVBORw0KGgo=)",
        '<img src="data:image/png;base64,iVBORw0KGgo=" alt="pixel">',
        "![pixel](/images/local.png)",
    ],
)
def test_an_image_keeps_only_an_http_source(markdown: str) -> None:
    rendered = to_html(markdown)

    assert "src" not in rendered
    assert 'alt="pixel"' in rendered


def test_an_https_image_and_link_are_kept() -> None:
    rendered = to_html(
        '![Logo](https://cdn.example/logo.png "The logo") [Docs](https://docs.example "Read")'
    )

    assert '<img src="https://cdn.example/logo.png" alt="Logo" title="The logo">' in rendered
    assert f'<a href="https://docs.example" title="Read" {REL}>Docs</a>' in rendered


def test_links_get_rel_whatever_the_author_wrote() -> None:
    rendered = to_html('<a href="https://x.example" rel="opener" target="_blank">x</a>')

    assert f'<a href="https://x.example" {REL}>x</a>' in rendered


def test_a_table_renders() -> None:
    rendered = to_html("| Plan | Price |\n|------|------:|\n| Basic | 10 |\n| Pro | 25 |")

    assert "<table>" in rendered
    assert "<th>Plan</th>" in rendered
    assert "<td>Pro</td>" in rendered
    assert "<td>25</td>" in rendered


def test_common_markdown_renders_to_the_allowed_tags() -> None:
    rendered = to_html(
        "## Steps\n\n*Carefully*, **now**, ~~never~~:\n\n1. Open\n2. Close\n\n"
        "> Quoted\n\n```python\nprint('<hi>')\n```\n\n---\nend"
    )

    assert "<h2>Steps</h2>" in rendered
    assert "<em>Carefully</em>" in rendered
    assert "<strong>now</strong>" in rendered
    assert "<del>never</del>" in rendered
    assert "<ol>\n<li>Open</li>" in rendered
    assert "<blockquote>\n<p>Quoted</p>\n</blockquote>" in rendered
    assert "<pre><code>print('&lt;hi&gt;')\n</code></pre>" in rendered
    assert "<hr>" in rendered


def test_text_has_no_heading_or_emphasis_markup() -> None:
    text = to_text("# Refunds\n\nA **bold** and *quiet* ~~old~~ `code` note.")

    assert text == "Refunds\n\nA bold and quiet old code note."


def test_text_shows_a_link_as_text_and_url() -> None:
    text = to_text("Read [the guide](https://docs.example/guide) or <https://docs.example>.")

    assert text == "Read the guide (https://docs.example/guide) or https://docs.example."


def test_text_lists_keep_their_markers_and_numbers() -> None:
    text = to_text("- tea\n- coffee\n  - black\n\n3. first\n4. second")

    assert text == "- tea\n- coffee\n  - black\n\n3. first\n4. second"


def test_text_keeps_code_blocks_indented() -> None:
    text = to_text("Run:\n\n```sh\nmake install\n\nmake up\n```\n\nDone.")

    assert text == "Run:\n\n    make install\n\n    make up\n\nDone."


def test_text_separates_paragraphs_by_one_blank_line() -> None:
    text = to_text("One\nstill one.\n\n\n\nTwo.\n\n## Three")

    assert text == "One\nstill one.\n\nTwo.\n\nThree"


def test_text_strips_raw_html() -> None:
    text = to_text("<div>Call <b>us</b> &amp; <script>alert(1)</script></div>\n\nThanks")

    assert text == "Call us &\n\nThanks"
