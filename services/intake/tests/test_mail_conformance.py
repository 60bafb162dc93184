"""The mail parser against another help desk's expectations: the public Zammad parser fixtures
(raw `mailNNN.box` with the expected parse in `mailNNN.yml`) kept under
`shared/testdata/mail/zammad` beside the repository (see SOURCE.md there). Skipped when that
folder is absent.

Per fixture, only the keys the yml has are compared: the decoded From/To/Cc headers, the sender's
address and name, the subject, the Message-ID, the attachments (by name and content) and the
body by its visible text. Every field that does not match is listed in KNOWN_MISMATCHES with the
reason, so the list stays true: a new mismatch fails, and so does a listed one that starts to
match.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from intake.domain.mail_html import html_texts
from intake.domain.mail_parsing import ParsedMail, parse_mail

FIXTURES = Path(__file__).resolve().parents[3].parent / "shared" / "testdata" / "mail" / "zammad"

if not FIXTURES.is_dir():
    pytest.skip(f"no Zammad mail fixtures at {FIXTURES}", allow_module_level=True)

MIN_MATCH_RATE = 0.95

_JAPANESE_HEADERS = (
    "Zammad decodes ISO-2022-JP headers as text and leaves the name unquoted; Caseflow renders "
    "a name with non-ASCII characters quoted, as Zammad does for every other charset"
)
_UNTYPED_PART = (
    "a part without Content-Type is text/plain (RFC 2045) and Caseflow reads it as the body; "
    "Zammad keeps it as a file named 'file'"
)
_ENCODED_ADDRESS = (
    "RFC 2047 forbids encoded-words in an addr-spec: Caseflow keeps the address as written, "
    "Zammad strips the encoded-word markers from it"
)

KNOWN_MISMATCHES: dict[tuple[str, str], str] = {
    ("mail003", "body"): (
        "Zammad replaces the text of a mailto: link with its address (the mail shows "
        "john.hinz@example.com, linked to john.smith@example.com); Caseflow keeps the text"
    ),
    ("mail025", "body"): (
        "the uuencoded block becomes the attachment rulesets-report.csv and leaves the text; "
        "Zammad keeps the encoded block in the body"
    ),
    ("mail065", "from"): (
        "the encoded-word holds a comma: Zammad splits the address list inside it and leaves "
        'it encoded; Caseflow decodes "Bürling, Andreas"'
    ),
    ("mail065", "from_display_name"): (
        "Zammad's name is '=20Andreas?=', a piece of the encoded-word it split at the comma"
    ),
    ("mail087", "from_display_name"): (
        "'From: Test test@example.com' has no display name; Zammad repeats the malformed "
        "address as the name"
    ),
    ("mail087", "attachments"): _UNTYPED_PART,
    ("mail087", "body"): _UNTYPED_PART,
    ("mail093", "from"): _JAPANESE_HEADERS,
    ("mail093", "to"): _JAPANESE_HEADERS + " (and keeps the encoded trailing space)",
    ("mail117", "from"): _ENCODED_ADDRESS,
    ("mail117", "from_email"): _ENCODED_ADDRESS,
}


def _ruby_mapping(loader: Any, suffix: str, node: Any) -> dict[Any, Any]:
    assert isinstance(node, yaml.MappingNode)
    mapping: dict[Any, Any] = loader.construct_mapping(node, deep=True)
    return mapping


def _binary(loader: Any, node: Any) -> bytes:
    assert isinstance(node, yaml.ScalarNode)
    return base64.b64decode(loader.construct_scalar(node))


# Reads Psych dumps: `!ruby/hash:...` tags are plain mappings, `!binary` is base64. A subclass,
# so that SafeLoader itself stays as it is.
_RubyYamlLoader: Any = type("_RubyYamlLoader", (yaml.SafeLoader,), {})
_RubyYamlLoader.add_multi_constructor("!ruby/hash:", _ruby_mapping)
_RubyYamlLoader.add_constructor("!binary", _binary)

# Zammad writes this for a body with nothing to show.
_EMPTY_BODY = "no visible content"
_GENERATED_NAME = re.compile(r"file-\d+\.\w+")
_MARKUP = re.compile(r"<(?:p|div|br|span|a|table|strong|b|i)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Outcome:
    field: str
    matched: bool
    reason: str = ""


def _fixtures() -> list[str]:
    return sorted(
        path.stem for path in FIXTURES.glob("mail*.box") if path.with_suffix(".yml").exists()
    )


def _expected(name: str) -> dict[str, Any]:
    with (FIXTURES / f"{name}.yml").open("rb") as source:
        loaded = yaml.load(source, Loader=_RubyYamlLoader)  # noqa: S506 - a SafeLoader subclass
    assert isinstance(loaded, dict)
    return loaded


def _collapsed(text: str) -> str:
    return " ".join(text.split())


def _short(value: object, limit: int = 60) -> str:
    shown = repr(value)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def _exact(field: str, expected: object, actual: object) -> Outcome:
    if expected == actual:
        return Outcome(field, True)
    return Outcome(field, False, f"expected {_short(expected)}, got {_short(actual)}")


def _attachment_name(name: str) -> str:
    # A part that names no file: Zammad calls it "file", Caseflow "file-1.bin", "file-2.txt";
    # both are made up, so they compare equal.
    return "(unnamed)" if name == "file" or _GENERATED_NAME.fullmatch(name) else name


def _attachments(expected: list[dict[str, Any]], mail: ParsedMail) -> Outcome:
    wanted = []
    for item in expected:
        preferences = item.get("preferences") or {}
        if preferences.get("content-alternative") or preferences.get("original-format"):
            continue  # Zammad's copy of the HTML alternative, kept as message.html
        data = item.get("data") or b""
        content = data.encode() if isinstance(data, str) else data  # str for text, else !binary
        wanted.append((_attachment_name(str(item["filename"])), content))
    found = [(_attachment_name(file.filename), file.content) for file in mail.attachments]
    if sorted(wanted) == sorted(found):
        return Outcome("attachments", True)
    names = sorted(name for name, _ in wanted), sorted(name for name, _ in found)
    if names[0] == names[1]:
        return Outcome("attachments", False, f"same names {names[0]}, other content")
    return Outcome("attachments", False, f"expected {names[0]}, got {names[1]}")


def _body(expected: dict[str, Any], mail: ParsedMail) -> Outcome:
    body = str(expected.get("body") or "")
    content_type = expected.get("content_type")
    if content_type is None:
        # The oldest fixtures do not say; their body is HTML when it carries markup.
        content_type = "text/html" if _MARKUP.search(body) else "text/plain"
    is_html = content_type == "text/html"
    wanted = "" if body == _EMPTY_BODY else (_visible(body) if is_html else body)
    # Like with like: Zammad's HTML body against the text of the HTML, not of text/plain.
    actual = _visible(mail.html) if is_html and mail.html is not None else mail.text
    wanted, actual = _collapsed(wanted), _collapsed(actual)
    if wanted == actual:
        return Outcome("body", True)
    pairs = zip(wanted, actual, strict=False)
    at = next((i for i, (a, b) in enumerate(pairs) if a != b), min(len(wanted), len(actual)))
    expected_part, actual_part = _short(wanted[at : at + 30]), _short(actual[at : at + 30])
    return Outcome("body", False, f"at {at}: expected {expected_part}, got {actual_part}")


def compare(name: str) -> list[Outcome]:
    """The fields of fixture `name` that its yml has, each matched or not."""
    expected = _expected(name)
    mail = parse_mail((FIXTURES / f"{name}.box").read_bytes())
    actual: dict[str, object] = {
        "from": mail.from_header,
        "from_email": mail.sender.address if mail.sender else None,
        "from_display_name": mail.sender.name if mail.sender else None,
        "to": mail.to_header,
        "cc": mail.cc_header,
        "subject": mail.subject,
        "message_id": mail.message_id,
    }
    outcomes = [
        _exact(key, expected[key], value) for key, value in actual.items() if key in expected
    ]
    if "attachments" in expected:
        outcomes.append(_attachments(expected["attachments"] or [], mail))
    if "body" in expected:
        outcomes.append(_body(expected, mail))
    return outcomes


@pytest.mark.parametrize("name", _fixtures())
def test_fixture_matches_or_is_a_known_mismatch(name: str) -> None:
    mismatched = {(name, o.field): o.reason for o in compare(name) if not o.matched}
    known = {key for key in KNOWN_MISMATCHES if key[0] == name}
    assert set(mismatched) == known, {
        "mismatches not in KNOWN_MISMATCHES": {
            k: v for k, v in mismatched.items() if k not in known
        },
        "listed in KNOWN_MISMATCHES but matching": sorted(known - set(mismatched)),
    }


def test_match_rate() -> None:
    compared = matched = 0
    mismatched: dict[tuple[str, str], str] = {}
    for name in _fixtures():
        outcomes = compare(name)
        compared += len(outcomes)
        matched += sum(o.matched for o in outcomes)
        mismatched.update({(name, o.field): o.reason for o in outcomes if not o.matched})
    print(f"\nZammad fixtures: {matched}/{compared} fields match ({matched / compared:.1%})")
    for (name, field), seen in sorted(mismatched.items()):
        why = KNOWN_MISMATCHES.get((name, field), "NOT LISTED")
        print(f"{name:8} {field:18} {seen}\n{'':27} why: {why}")
    assert matched / compared >= MIN_MATCH_RATE
    assert set(mismatched) == set(KNOWN_MISMATCHES)


def _visible(html: str) -> str:
    return html_texts(html)[0]
