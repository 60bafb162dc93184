"""Article bodies, written in Markdown, rendered as safe HTML and as plain text for e-mail."""

from __future__ import annotations

import html

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markdown_it.tree import SyntaxTreeNode

# CommonMark with tables and strikethrough; raw HTML is parsed, then sanitised below.
_MARKDOWN = MarkdownIt("commonmark").enable(["table", "strikethrough"])

_TAGS = {
    *("h1", "h2", "h3", "h4", "h5", "h6", "p", "hr", "br", "blockquote", "pre", "code"),
    *("ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td"),
    *("em", "strong", "del", "a", "img"),
}
_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "ol": {"start"}}
# Elements dropped together with their content, not just unwrapped.
_DROPPED_WITH_CONTENT = {"script", "style", "iframe", "object", "embed", "noscript", "template"}
_LINK_SCHEMES = {"http", "https", "mailto"}
_IMAGE_PREFIXES = ("http://", "https://")
_LINK_REL = "noopener noreferrer nofollow"
_CODE_INDENT = "    "


def to_html(markdown: str) -> str:
    """Render Markdown to HTML that is safe to show in a browser."""
    tokens = _MARKDOWN.parse(markdown)
    _strikethrough_as_del(tokens)
    rendered = _MARKDOWN.renderer.render(tokens, _MARKDOWN.options, {})
    return nh3.clean(
        rendered,
        tags=_TAGS,
        clean_content_tags=_DROPPED_WITH_CONTENT,
        attributes=_ATTRIBUTES,
        attribute_filter=_image_source_filter,
        url_schemes=_LINK_SCHEMES,
        link_rel=_LINK_REL,
    )


def to_text(markdown: str) -> str:
    """Render Markdown as plain text for an e-mail body."""
    root = SyntaxTreeNode(_MARKDOWN.parse(markdown))
    return _blocks(root.children, "\n\n")


def _strikethrough_as_del(tokens: list[Token]) -> None:
    """Mark struck-through text with <del> rather than markdown-it's <s>."""
    for token in tokens:
        if token.type in {"s_open", "s_close"}:
            token.tag = "del"
        if token.children:
            _strikethrough_as_del(token.children)


def _image_source_filter(tag: str, attribute: str, value: str) -> str | None:
    """Keep an image's source only when it is an absolute http(s) URL."""
    if tag == "img" and attribute == "src" and not value.lower().startswith(_IMAGE_PREFIXES):
        return None
    return value


def _blocks(nodes: list[SyntaxTreeNode], separator: str) -> str:
    """Render block nodes, skipping those with no text."""
    return separator.join(text for node in nodes if (text := _block(node)))


def _block(node: SyntaxTreeNode) -> str:
    """Render one block node."""
    match node.type:
        case "paragraph" | "heading":
            return _inline(node.children)
        case "bullet_list" | "ordered_list":
            return _list(node)
        case "code_block" | "fence":
            return _indent(node.content.rstrip("\n"), _CODE_INDENT)
        case "blockquote":
            return _indent(_blocks(node.children, "\n\n"), "> ")
        case "table":
            return "\n".join(_table_row(row) for row in node.walk() if row.type == "tr")
        case "hr":
            return "----"
        case "html_block":
            stripped = nh3.clean(node.content, tags=set(), clean_content_tags=_DROPPED_WITH_CONTENT)
            return html.unescape(stripped).strip()
    return _blocks(node.children, "\n\n")


def _list(node: SyntaxTreeNode) -> str:
    """Render a list, numbered from its start when ordered."""
    number = int(node.attrGet("start") or 1)
    tight = any(child.hidden for item in node.children for child in item.children)
    items = []
    for offset, item in enumerate(node.children):
        marker = f"{number + offset}. " if node.type == "ordered_list" else "- "
        body = _blocks(item.children, "\n" if tight else "\n\n")
        items.append(marker + _indent(body, " " * len(marker))[len(marker) :])
    return ("\n" if tight else "\n\n").join(items)


def _table_row(row: SyntaxTreeNode) -> str:
    """Render a table row as its cells separated by bars."""
    return " | ".join(_inline(cell.children) for cell in row.children)


def _inline(nodes: list[SyntaxTreeNode]) -> str:
    """Render inline nodes without markup, links as `text (url)`."""
    parts: list[str] = []
    for node in nodes:
        match node.type:
            case "text" | "code_inline":
                parts.append(node.content)
            case "softbreak" | "hardbreak":
                parts.append("\n")
            case "link":
                parts.append(_with_url(_inline(node.children), str(node.attrGet("href") or "")))
            case "image":
                parts.append(_with_url(_inline(node.children), str(node.attrGet("src") or "")))
            case "html_inline":
                pass
            case _:
                parts.append(_inline(node.children))
    return "".join(parts)


def _with_url(text: str, url: str) -> str:
    """Follow a link's text with its URL unless the text already is the URL."""
    if not url or url in {text, f"mailto:{text}"}:
        return text
    return f"{text} ({url})" if text else url


def _indent(text: str, prefix: str) -> str:
    """Prefix every non-empty line of the text."""
    return "\n".join(prefix + line if line else line for line in text.split("\n"))
