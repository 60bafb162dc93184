"""The HTML of inbound mail: made safe to show (`sanitize_html`), read as plain text
(`html_texts`), and plain text shown as HTML (`text_to_html`). Pure."""

from __future__ import annotations

import functools
import html as html_escapes
import re
from typing import Any

import lxml.html  # type: ignore[import-untyped]
import nh3
from inscriptis import Inscriptis
from inscriptis.css_profiles import CSS_PROFILES
from inscriptis.model.config import ParserConfig

# Quoted history and signatures as mail clients mark them up: Apple Mail and Thunderbird cite
# with <blockquote type="cite">, Gmail wraps the quote (attribution included) in .gmail_quote,
# Thunderbird puts the attribution in .moz-cite-prefix, Yahoo uses .yahoo_quoted.
_QUOTE_XPATH = (
    "//blockquote[@type='cite']"
    " | //*[contains(concat(' ', normalize-space(@class), ' '), ' gmail_quote ')]"
    " | //*[contains(concat(' ', normalize-space(@class), ' '), ' gmail_signature ')]"
    " | //*[contains(concat(' ', normalize-space(@class), ' '), ' moz-cite-prefix ')]"
    " | //*[contains(concat(' ', normalize-space(@class), ' '), ' moz-signature ')]"
    " | //*[contains(concat(' ', normalize-space(@class), ' '), ' yahoo_quoted ')]"
)
# Outlook marks where the quoted message starts; everything after it in the same container is
# history too (the header block "From: … Sent: …" and the old message).
_HISTORY_START_XPATH = "//*[@id='divRplyFwdMsg' or @id='appendonsend']"

# Presentational styling worth keeping; anything that can move content around (position,
# display, margins) is dropped so a message cannot dress up as the desk's own interface.
_STYLE_PROPERTIES = frozenset(
    {
        "color",
        "background-color",
        "font-weight",
        "font-style",
        "font-size",
        "font-family",
        "text-decoration",
        "text-align",
        "vertical-align",
        "white-space",
    }
)

_TAG = re.compile(r"<[^>]*>")
_BLOCK_BREAK = re.compile(r"<\s*(?:br|/p|/div|/li|/tr|/h\d)\b[^>]*>", re.IGNORECASE)
_INVISIBLE = re.compile(r"<(script|style|head|title)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_MANY_BLANK_LINES = re.compile(r"\n{3,}")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")


def sanitize_html(html: str) -> str:
    """The HTML with nothing that runs or hides: no script, style, event handler or
    javascript: link; inline images (cid:) kept."""
    return _cleaner().clean(html).strip()


def html_texts(html: str) -> tuple[str, str | None]:
    """The visible text of an HTML body and, when the HTML marks a quoted history (a cited
    reply, an Outlook header block), the text without it; else None."""
    try:
        return _tree_texts(html)
    except Exception:
        # lxml refuses some documents and the converter recurses once per nesting level, so
        # thousands of nested <div>s defeat it: read such a body by stripping its tags.
        return _stripped_text(html), None


def _tree_texts(html: str) -> tuple[str, str | None]:
    tree = _tree(html)
    if tree is None:
        return "", None
    text = _tidy(Inscriptis(tree, _text_config()).get_text())
    quoted = list(tree.xpath(_QUOTE_XPATH))
    for start in tree.xpath(_HISTORY_START_XPATH):
        quoted.append(start)
        quoted.extend(start.itersiblings())
    if not quoted:
        return text, None
    for element in quoted:
        if element.getparent() is not None:
            element.drop_tree()
    return text, _tidy(Inscriptis(tree, _text_config()).get_text())


def text_to_html(text: str) -> str:
    """Plain text shown as HTML: escaped, line breaks kept."""
    escaped = html_escapes.escape(text, quote=False)
    return "<div>" + escaped.replace("\n", "<br>\n") + "</div>"


def _tree(html: str) -> Any:
    html = html.strip()
    if not html:
        return None
    if html.startswith("<?xml"):
        # lxml refuses text that declares its own encoding; the text is decoded already.
        html = html[html.find(">") + 1 :]
    return lxml.html.document_fromstring(html, parser=_html_parser())


def _stripped_text(html: str) -> str:
    html = _INVISIBLE.sub("", html)
    html = _BLOCK_BREAK.sub("\n", html)
    return _tidy(html_escapes.unescape(_TAG.sub("", html)))


def _tidy(text: str) -> str:
    text = _TRAILING_SPACE.sub("\n", text.replace("\r\n", "\n"))
    return _MANY_BLANK_LINES.sub("\n\n", text).strip("\n").rstrip()


@functools.cache
def _html_parser() -> Any:
    # Without huge_tree libxml2 silently drops what is nested more than 256 levels deep.
    return lxml.html.HTMLParser(huge_tree=True)


@functools.cache
def _text_config() -> ParserConfig:
    # The strict profile renders like a browser; the relaxed one pads <span> and <div> with
    # spaces, which splits words that mail clients spread over several spans.
    return ParserConfig(css=CSS_PROFILES["strict"], display_links=False, display_images=False)


@functools.cache
def _cleaner() -> nh3.Cleaner:
    attributes = {tag: set(names) for tag, names in nh3.ALLOWED_ATTRIBUTES.items()}
    attributes["*"] = {"style", "dir", "lang", "title"}
    attributes["img"] = attributes.get("img", set()) | {"title"}
    attributes["font"] = {"color", "face", "size"}
    return nh3.Cleaner(
        tags=nh3.ALLOWED_TAGS | {"font", "tfoot"},
        clean_content_tags={"script", "style", "title", "head", "template", "noscript"},
        attributes=attributes,
        url_schemes=nh3.ALLOWED_URL_SCHEMES | {"cid"},
        filter_style_properties=_STYLE_PROPERTIES,
    )
