"""Reading inbound mail: charsets, encoded headers and filenames, HTML, files of every kind,
quoted history, automatic mail and delivery reports, built as small messages here (and a few
samples under tests/mail)."""

from __future__ import annotations

import base64
import binascii
import struct
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path

import pytest

from intake.domain.mail_parsing import (
    MailParseError,
    ParsedMail,
    message_ids,
    normalize_message_id,
    parse_mail,
)

pytestmark = pytest.mark.unit

SAMPLES = Path(__file__).parent / "mail"


def raw_mail(body: bytes, *, headers: str = "", content_type: str = "text/plain") -> bytes:
    """A message with the usual headers, `headers` added, and `body` as it goes on the wire."""
    head = (
        "From: Ada Lovelace <ada@example.com>\r\n"
        "To: Support <support@example.com>\r\n"
        "Subject: Printer\r\n"
        "Date: Mon, 03 Mar 2025 10:00:00 +0100\r\n"
        "Message-ID: <m1@example.com>\r\n"
        "MIME-Version: 1.0\r\n"
        f"Content-Type: {content_type}\r\n"
        f"{headers}"
    )
    return head.encode() + b"\r\n" + body


def encoded_word(text: str, charset: str) -> str:
    return f"=?{charset}?B?{base64.b64encode(text.encode(charset)).decode()}?="


def sample(name: str) -> ParsedMail:
    return parse_mail((SAMPLES / name).read_bytes())


# Headers ---------------------------------------------------------------------------------


def test_reads_the_envelope_of_a_message() -> None:
    mail = parse_mail(
        raw_mail(
            b"Hello\r\n",
            headers=(
                'Cc: =?utf-8?Q?J=C3=BCrgen?= <j@example.com>, "Doe, Jane" <jane@example.com>\r\n'
                "Reply-To: replies@example.com\r\n"
                "In-Reply-To: <a@example.com>\r\n"
                "References: <root@example.com>\r\n <a @example.com>\r\n"
            ),
        )
    )
    assert mail.message_id == "<m1@example.com>"
    assert mail.sender is not None
    assert (mail.sender.address, mail.sender.name) == ("ada@example.com", "Ada Lovelace")
    assert mail.from_header == "Ada Lovelace <ada@example.com>"
    assert [(a.address, a.name) for a in mail.cc] == [
        ("j@example.com", "Jürgen"),
        ("jane@example.com", "Doe, Jane"),
    ]
    assert mail.cc_header == '"Jürgen" <j@example.com>, "Doe, Jane" <jane@example.com>'
    assert [a.address for a in mail.reply_to] == ["replies@example.com"]
    assert mail.in_reply_to == ("<a@example.com>",)
    assert mail.references == ("<root@example.com>", "<a@example.com>")
    assert mail.date == datetime(2025, 3, 3, 10, tzinfo=timezone(timedelta(hours=1)))
    assert mail.subject == "Printer"


@pytest.mark.parametrize(
    ("header", "address", "name", "shown"),
    [
        ("john@example.com (John Smith)", "john@example.com", "John Smith", None),
        ("<john@example.com>", "john@example.com", "", "john@example.com"),
        ('"Smith, John" <john@example.com>', "john@example.com", "Smith, John", None),
        ("Team: john@example.com;", "john@example.com", "", "john@example.com"),
        # Malformed: kept as written, the way the common parsers read it.
        ("John john@example.com", "John john@example.com", "", None),
        ("=?iso-8859-2?Q?Namedy=F1ski?= (n@example.com)", "n@example.com", "Namedyński", None),
    ],
)
def test_reads_addresses_in_their_many_forms(
    header: str, address: str, name: str, shown: str | None
) -> None:
    mail = parse_mail(b"From: " + header.encode() + b"\r\nSubject: x\r\n\r\nbody\r\n")
    assert mail.sender is not None
    assert (mail.sender.address, mail.sender.name) == (address, name)
    if shown is not None:
        assert mail.from_header == shown


def test_takes_the_from_header_that_holds_an_address() -> None:
    mail = parse_mail(b"From: [broken]\r\nFrom: Bo <bo@example.com>\r\nSubject: x\r\n\r\nhi\r\n")
    assert mail.sender is not None
    assert mail.sender.address == "bo@example.com"


def test_a_date_without_zone_is_read_as_utc() -> None:
    mail = parse_mail(raw_mail(b"x").replace(b"+0100", b"-0000"))
    assert mail.date == datetime(2025, 3, 3, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<abc@example.com>", "<abc@example.com>"),
        ("  < abc@exa\r\n mple.com >  ", "<abc@example.com>"),
        ("abc@example.com", "<abc@example.com>"),
        ("<a@example.com> (comment)", "<a@example.com>"),
        ("", None),
        (None, None),
    ],
)
def test_normalize_message_id(value: str | None, expected: str | None) -> None:
    assert normalize_message_id(value) == expected


def test_message_ids_of_a_references_header() -> None:
    assert message_ids("<a@x> <b@x>\r\n\t<c@x>") == ("<a@x>", "<b@x>", "<c@x>")
    assert message_ids("a@x, b@x") == ("<a@x>", "<b@x>")
    assert message_ids("") == ()


# RFC 2047 and raw 8-bit headers ---------------------------------------------------------


def test_decodes_rfc2047_subjects() -> None:
    # "Grüße" split across two encoded-words in the middle of the "ü" (UTF-8 C3 BC).
    first = base64.b64encode(b"Gr\xc3").decode()
    second = base64.b64encode(b"\xbc" + "ße aus Köln".encode()).decode()
    subject = f"=?UTF-8?B?{first}?=\r\n =?utf-8?B?{second}?= =?iso-8859-1?Q?_und_M=FCnchen?= [#1]"
    mail = parse_mail(raw_mail(b"x").replace(b"Printer", subject.encode()))
    assert mail.subject == "Grüße aus Köln und München [#1]"


def test_whitespace_between_encoded_words_is_dropped_but_not_around_text() -> None:
    subject = "Re: =?utf-8?Q?Caf=C3=A9?= =?utf-8?Q?_au_lait?= today"
    mail = parse_mail(raw_mail(b"x").replace(b"Printer", subject.encode()))
    assert mail.subject == "Re: Café au lait today"


def test_raw_utf8_subject() -> None:
    mail = parse_mail(raw_mail(b"x").replace(b"Printer", "Grüße aus Köln".encode()))
    assert mail.subject == "Grüße aus Köln"


def test_raw_shift_jis_subject_is_read_in_the_message_charset() -> None:
    raw = raw_mail(
        "お問い合わせありがとうございます".encode("shift_jis"),
        content_type="text/plain; charset=iso-2022-jp",
    )
    mail = parse_mail(raw.replace(b"Printer", "お問い合わせ".encode("shift_jis")))
    assert mail.subject == "お問い合わせ"


def test_mislabelled_encoded_word_falls_back_to_a_related_charset() -> None:
    # Shift_JIS bytes labelled ISO-2022-JP, as some Japanese mailers write them.
    word = "=?ISO-2022-JP?B?" + base64.b64encode("ツール".encode("shift_jis")).decode() + "?="
    mail = parse_mail(raw_mail(b"x").replace(b"Printer", word.encode()))
    assert mail.subject == "ツール"


# Body charsets --------------------------------------------------------------------------

LEGACY = [
    ("gb2312", "你好，世界。打印机坏了。"),
    ("gbk", "內應力產生與注塑工藝"),
    ("big5", "繁體中文測試，印表機故障。"),
    ("shift_jis", "日本語のテキストです。"),
    ("iso-2022-jp", "こんにちは、プリンターが壊れました。"),
    ("koi8-r", "Здравствуйте, принтер сломался."),
    ("windows-1250", "Zażółć gęślą jaźń, drukarka nie działa."),
    ("windows-1251", "Здравствуйте, принтер сломался."),
    ("windows-1252", "Grüße – „Drucker“ kostet 50 €."),
    ("iso-8859-13", "Labas, spausdintuvas neveikia: ąčęėįšųūž."),
]


@pytest.mark.parametrize(("charset", "text"), LEGACY)
def test_legacy_charsets(charset: str, text: str) -> None:
    raw = raw_mail(
        text.encode(charset),
        content_type=f"text/plain; charset={charset}",
        headers="Content-Transfer-Encoding: 8bit\r\n",
    )
    mail = parse_mail(raw.replace(b"Printer", encoded_word(text, charset).encode()))
    assert mail.text == text
    assert mail.subject == text


def test_microsoft_iso_2022_jp_extensions() -> None:
    # "①" is NEC row 13 (JIS 0x2D21): outside JIS X 0208, written by Outlook all the same.
    body = b"\x1b$B-!#1ET\x1b(B"
    mail = parse_mail(raw_mail(body, content_type="text/plain; charset=ISO-2022-JP"))
    assert mail.text == "①１都"


@pytest.mark.parametrize(
    ("declared", "payload", "expected"),
    [
        ("iso-8859-1", "Grüße aus Köln".encode(), "Grüße aus Köln"),  # UTF-8 labelled Latin-1
        ("gb2312", "內應力產生".encode("gbk"), "內應力產生"),  # GBK labelled GB2312
        ("x-unknown-charset", "Grüße".encode(), "Grüße"),
        (
            "utf-8",
            "Здравствуйте! Принтер на третьем этаже снова не печатает. Пришлите техника, "
            "пожалуйста, как можно скорее.".encode("cp1251"),
            "Здравствуйте! Принтер на третьем этаже снова не печатает. Пришлите техника, "
            "пожалуйста, как можно скорее.",
        ),
    ],
)
def test_mislabelled_charsets(declared: str, payload: bytes, expected: str) -> None:
    mail = parse_mail(raw_mail(payload, content_type=f"text/plain; charset={declared}"))
    assert mail.text == expected


def test_missing_charset_is_detected() -> None:
    text = (
        "Здравствуйте! Принтер на третьем этаже снова не печатает, хотя мы уже заменили "
        "картридж и почистили ролики. Пожалуйста, пришлите техника."
    )
    mail = parse_mail(raw_mail(text.encode("windows-1251"), content_type="text/plain"))
    assert mail.text == text


def test_an_undecodable_text_still_reads() -> None:
    mail = parse_mail(raw_mail(b"caf\xe9 \xff\xfe", content_type="text/plain; charset=utf-8"))
    assert mail.text.startswith("caf")


def test_format_flowed_lines_are_joined() -> None:
    body = b"This is one \r\nparagraph.\r\n\r\n-- \r\nSig\r\n"
    mail = parse_mail(raw_mail(body, content_type="text/plain; charset=utf-8; format=flowed"))
    assert mail.text == "This is one paragraph.\n\n-- \nSig"
    assert mail.new_text == "This is one paragraph."


# HTML -----------------------------------------------------------------------------------


def test_html_only_mail_becomes_readable_text_and_safe_html() -> None:
    html = (
        "<html><head><style>p {color: red}</style><script>alert(1)</script></head>"
        '<body onload="steal()"><p>Hello <b>team</b>,</p><p>the printer is '
        '<a href="javascript:alert(1)">broken</a>.</p><div>Regards<br>Ada</div></body></html>'
    )
    mail = parse_mail(raw_mail(html.encode(), content_type="text/html; charset=utf-8"))
    assert mail.text == "Hello team,\n\nthe printer is broken.\n\nRegards\nAda"
    assert mail.html is not None
    for unsafe in ("<script", "alert", "onload", "javascript:", "<style", "color: red"):
        assert unsafe not in mail.html
    assert "<b>team</b>" in mail.html


def test_alternative_prefers_plain_text_and_keeps_the_html() -> None:
    message = EmailMessage()
    message["From"] = "ada@example.com"
    message["Subject"] = "alt"
    message.set_content("Plain version\n")
    message.add_alternative("<p>HTML <i>version</i></p>", subtype="html")
    mail = parse_mail(message.as_bytes())
    assert mail.text == "Plain version"
    assert mail.html == "<p>HTML <i>version</i></p>"
    assert mail.attachments == ()


def test_inline_image_referenced_by_cid() -> None:
    message = EmailMessage()
    message["From"] = "ada@example.com"
    message["Subject"] = "screenshot"
    message.set_content("See the screenshot.\n")
    message.add_alternative('<p>See:</p><img src="cid:shot1@example.com">', subtype="html")
    html_part = message.get_body(preferencelist=("html",))
    assert html_part is not None
    html_part.add_related(b"\x89PNG\r\n\x1a\nfake", "image", "png", cid="<shot1@example.com>")
    mail = parse_mail(message.as_bytes())
    (image,) = mail.attachments
    assert image.content_type == "image/png"
    assert image.content == b"\x89PNG\r\n\x1a\nfake"
    assert image.content_id == "shot1@example.com"
    assert image.inline
    assert image.filename == "file-1.png"
    assert mail.html is not None and 'src="cid:shot1@example.com"' in mail.html


# Files ----------------------------------------------------------------------------------


def test_attachment_with_rfc2231_filename() -> None:
    body = (
        b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee attached.\r\n"
        b"--b\r\nContent-Type: application/pdf\r\n"
        b"Content-Disposition: attachment; filename*=utf-8''%E2%82%AC%20Preise%202025.pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.b64encode(b"%PDF-1.4") + b"\r\n"
        b"--b\r\nContent-Type: text/plain\r\n"
        b"Content-Disposition: attachment; filename*0*=utf-8''Gr%C3%BC; filename*1*=%C3%9Fe.txt\r\n"
        b"\r\nhello\r\n"
        b'--b\r\nContent-Type: application/octet-stream; name="=?utf-8?Q?K=C3=B6ln.bin?="\r\n'
        b"\r\nxyz\r\n"
        b"--b\r\nContent-Type: application/octet-stream\r\n"
        b'Content-Disposition: attachment; filename="C:\\\\Temp\\\\evil.exe"\r\n'
        b"\r\nMZ\r\n"
        b"--b--\r\n"
    )
    mail = parse_mail(raw_mail(body, content_type='multipart/mixed; boundary="b"'))
    assert mail.text == "See attached."
    assert [(f.filename, f.content) for f in mail.attachments] == [
        ("€ Preise 2025.pdf", b"%PDF-1.4"),
        ("Grüße.txt", b"hello"),
        ("Köln.bin", b"xyz"),
        ("evil.exe", b"MZ"),
    ]
    assert not any(f.inline for f in mail.attachments)


def test_raw_8bit_filename_is_read_in_the_message_charset() -> None:
    body = (
        b"--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nAnbei.\r\n"
        b"--b\r\nContent-Type: text/plain\r\n"
        b'Content-Disposition: attachment; filename="M\xfcller.txt"\r\n\r\nx\r\n--b--\r\n'
    )
    mail = parse_mail(raw_mail(body, content_type='multipart/mixed; boundary="b"'))
    assert [f.filename for f in mail.attachments] == ["Müller.txt"]


def test_uuencoded_files_leave_the_text() -> None:
    encoded = binascii.b2a_uu(b"noun,count\none,1\ntwo,2\n").replace(b"\n", b"\r\n")
    body = (
        b"Here is the report:\r\n\r\nbegin 644 report.csv\r\n"
        + encoded
        + b"`\r\nend\r\n\r\nThanks\r\n"
    )
    mail = parse_mail(raw_mail(body, content_type="text/plain; charset=us-ascii"))
    (report,) = mail.attachments
    assert report.filename == "report.csv"
    assert report.content_type == "text/csv"
    assert report.content == b"noun,count\none,1\ntwo,2\n"
    assert mail.text == "Here is the report:\n\n\nThanks"


def tnef_object(level: int, name: int, kind: int, data: bytes) -> bytes:
    checksum = sum(data) & 0xFFFF
    return struct.pack("<BHHI", level, name, kind, len(data)) + data + struct.pack("<H", checksum)


def tnef(files: list[tuple[str, bytes]]) -> bytes:
    """A minimal TNEF stream (winmail.dat): the version, then per file a rendering record
    that opens it, its title and its data."""
    stream = struct.pack("<IH", 0x223E9F78, 1) + tnef_object(
        1, 0x9006, 8, struct.pack("<I", 0x10000)
    )
    for name, content in files:
        stream += tnef_object(2, 0x9002, 6, bytes(14))
        stream += tnef_object(2, 0x8010, 1, name.encode() + b"\x00")
        stream += tnef_object(2, 0x800F, 6, content)
    return stream


def winmail(data: bytes) -> bytes:
    message = EmailMessage()
    message["From"] = "outlook@example.com"
    message["Subject"] = "tnef"
    message.set_content("Please see the attachments.\n")
    message.add_attachment(data, "application", "ms-tnef", filename="winmail.dat")
    return message.as_bytes()


def test_tnef_files_are_taken_out_of_winmail_dat() -> None:
    mail = parse_mail(winmail(tnef([("quote.txt", b"42 EUR"), ("plan.csv", b"a,b\n1,2\n")])))
    assert [(f.filename, f.content_type, f.content) for f in mail.attachments] == [
        ("quote.txt", "text/plain", b"42 EUR"),
        ("plan.csv", "text/csv", b"a,b\n1,2\n"),
    ]
    assert mail.text == "Please see the attachments."


def test_unreadable_winmail_dat_is_kept_as_it_is() -> None:
    mail = parse_mail(winmail(b"not a TNEF stream at all"))
    assert [(f.filename, f.content) for f in mail.attachments] == [
        ("winmail.dat", b"not a TNEF stream at all")
    ]


def test_forwarded_message_is_an_eml_attachment_not_text() -> None:
    inner = EmailMessage()
    inner["From"] = "someone@example.org"
    inner["Subject"] = "Original"
    inner["Message-ID"] = "<orig@example.org>"
    inner.set_content("The forwarded words.\n")
    outer = EmailMessage()
    outer["From"] = "ada@example.com"
    outer["Subject"] = "Fwd: Original"
    outer.set_content("See below.\n")
    outer.add_attachment(inner)
    raw = outer.as_bytes()
    mail = parse_mail(raw)
    (forwarded,) = mail.attachments
    assert forwarded.filename == "message.eml"
    assert forwarded.content_type == "message/rfc822"
    assert forwarded.content == inner.as_bytes()
    assert mail.text == "See below."
    assert mail.bounce is None


def test_calendar_invitation() -> None:
    mail = sample("invite.eml")
    assert mail.has_calendar
    (invite,) = mail.attachments
    assert invite.filename == "invite.ics"
    assert invite.content_type == "text/calendar"
    assert invite.content.startswith(b"BEGIN:VCALENDAR")
    assert mail.text == "You are invited to the quarterly review on 24 January at 10:00."


def test_pgp_signed_mail_keeps_the_text_not_the_signature() -> None:
    mail = sample("signed-pgp.eml")
    assert mail.signed
    assert mail.attachments == ()
    assert mail.text.startswith("Bom dia, segue o pedido nº 1234.")
    assert mail.new_text == "Bom dia, segue o pedido nº 1234."


def der(tag: int, content: bytes) -> bytes:
    size = len(content)
    length = bytes([size]) if size < 0x80 else bytes([0x82]) + size.to_bytes(2, "big")
    return bytes([tag]) + length + content


def test_smime_signed_data_is_unwrapped() -> None:
    entity = b"Content-Type: text/plain; charset=utf-8\r\n\r\nSigned words.\r\n"
    signed_data_oid = der(0x06, bytes.fromhex("2a864886f70d010702"))
    data_oid = der(0x06, bytes.fromhex("2a864886f70d010701"))
    encapsulated = der(0x30, data_oid + der(0xA0, der(0x04, entity)))
    signed = der(0x30, der(0x02, b"\x01") + der(0x31, b"") + encapsulated + der(0x31, b""))
    blob = der(0x30, signed_data_oid + der(0xA0, signed))
    raw = raw_mail(
        base64.encodebytes(blob),
        content_type='application/pkcs7-mime; smime-type=signed-data; name="smime.p7m"',
        headers="Content-Transfer-Encoding: base64\r\n",
    )
    mail = parse_mail(raw)
    assert mail.signed
    assert mail.text == "Signed words."
    assert mail.attachments == ()


def test_a_broken_part_is_kept_as_a_file() -> None:
    body = b"This mail claims to be multipart but has no boundary in it.\r\n"
    mail = parse_mail(raw_mail(body, content_type='multipart/mixed; boundary="nowhere"'))
    (kept,) = mail.attachments
    assert kept.content_type == "application/octet-stream"
    assert kept.content == body
    assert mail.text == ""


def test_odd_mail_does_not_raise() -> None:
    body = (
        b"--b\r\nContent-Type: text/plain; charset=no-such-charset\r\n\r\nhello\r\n"
        b"--b\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"@@@@not base64\r\n"
        b"--b\r\nContent-Type: \r\n\r\nempty type\r\n"
        b"--b\r\nContent-Type: multipart/mixed; boundary=inner\r\n\r\n--inner\r\nno end\r\n"
    )
    mail = parse_mail(raw_mail(body, content_type='multipart/mixed; boundary="b"'))
    assert "hello" in mail.text


# Quoted history -------------------------------------------------------------------------


def reply(text: str) -> ParsedMail:
    return parse_mail(raw_mail(text.encode(), content_type="text/plain; charset=utf-8"))


def test_english_top_posted_reply() -> None:
    mail = reply(
        "Thanks, that fixed it.\n\nAda\n\n"
        "On Mon, 3 Mar 2025 at 10:00, Support <support@example.com> wrote:\n"
        "> Please restart the printer.\n> \n> Support\n"
    )
    assert mail.new_text == "Thanks, that fixed it.\n\nAda"
    assert mail.text.endswith("> Support")


def test_reply_written_below_the_quote() -> None:
    mail = reply(
        "On Mon, 3 Mar 2025, Support <support@example.com>\nwrote:\n"
        "> Which model?\n\nIt is the LaserJet 4000.\n-- \nAda Lovelace\n"
    )
    assert mail.new_text == "It is the LaserJet 4000."


def test_outlook_header_block_in_german() -> None:
    mail = sample("reply-outlook-de.eml")
    assert mail.new_text == (
        "Hallo zusammen,\n\nder Drucker läuft wieder, vielen Dank für die schnelle Hilfe!\n\n"
        "Viele Grüße\nJürgen Müller"
    )
    assert "bitte starten Sie den Drucker" in mail.text
    assert mail.sender is not None and mail.sender.name == "Jürgen Müller"
    assert mail.references == ("<case-42.0@caseflow.example>", "<case-42.1@caseflow.example>")


@pytest.mark.parametrize(
    "attribution",
    [
        "Am 03.03.2025 um 10:00 schrieb Support <support@example.com>:",  # de
        "Dne 3. 3. 2025 v 10:00 Support <support@example.com> napsal(a):",  # cs
        "3 марта 2025 г., в 10:00, Support <support@example.com> написал(а):",  # ru
        "2025-03-03, pr, 10:00, Support <support@example.com> rašė:",  # lt
        "Em seg., 3 de mar. de 2025 às 10:00, Support <support@example.com> escreveu:",  # pt
    ],
)
def test_attribution_lines_in_other_languages(attribution: str) -> None:
    mail = reply(f"Danke!\n\n{attribution}\n> Bitte neu starten.\n")
    assert mail.new_text == "Danke!"


def test_unquoted_history_after_an_attribution_is_cut() -> None:
    mail = reply(
        "Спасибо, всё работает.\n\n"
        "От: Support <support@example.com>\nОтправлено: 3 марта 2025 г. 10:00\n"
        "Кому: Ivan <ivan@example.com>\nТема: Принтер\n\nПерезагрузите принтер.\n"
    )
    assert mail.new_text == "Спасибо, всё работает."


def test_html_reply_without_its_blockquote() -> None:
    html = (
        '<div>Works now, thanks!</div><div class="gmail_quote"><div class="gmail_attr">'
        'On Mon, Support wrote:</div><blockquote class="gmail_quote">Restart it.</blockquote>'
        "</div>"
    )
    mail = parse_mail(raw_mail(html.encode(), content_type="text/html; charset=utf-8"))
    assert mail.new_text == "Works now, thanks!"
    assert "Restart it." in mail.text


def test_nothing_quoted_leaves_the_text_as_it_is() -> None:
    mail = reply("Hello,\n\nthe printer > the scanner, as far as I can tell.\n")
    assert mail.new_text == mail.text


# Automatic mail ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("Auto-Submitted: auto-replied", "Auto-Submitted: auto-replied"),
        ("Auto-Submitted: auto-generated", "Auto-Submitted: auto-generated"),
        ("X-Autoreply: yes", "X-Autoreply"),
        ("X-Autorespond: Out of office", "X-Autorespond"),
        ("Precedence: bulk", "Precedence: bulk"),
        ("Precedence: junk", "Precedence: junk"),
        ("List-Id: <printers.lists.example.com>", "List-Id"),
        ("X-Auto-Response-Suppress: All", "X-Auto-Response-Suppress: All"),
    ],
)
def test_automatic_mail(header: str, reason: str) -> None:
    assert parse_mail(raw_mail(b"Away", headers=header + "\r\n")).auto_reply == reason


@pytest.mark.parametrize("header", ["", "Auto-Submitted: no\r\n", "Precedence: normal\r\n"])
def test_a_persons_mail_is_not_automatic(header: str) -> None:
    assert parse_mail(raw_mail(b"Hello", headers=header)).auto_reply is None


# Delivery reports -----------------------------------------------------------------------


def test_delivery_status_notification() -> None:
    mail = sample("dsn-bounce.eml")
    assert mail.bounce is not None
    assert mail.bounce.original_message_id == "<case-42.1@caseflow.example>"
    assert mail.bounce.recipients == ("nobody@customer.example",)
    assert mail.bounce.status == "5.1.1"
    assert mail.bounce.reason == (
        "550 5.1.1 <nobody@customer.example>: Recipient address rejected: User unknown"
    )
    assert mail.auto_reply == "Auto-Submitted: auto-replied"
    assert {f.content_type for f in mail.attachments} == {
        "message/delivery-status",
        "text/rfc822-headers",
    }


def test_a_delay_warning_is_no_bounce() -> None:
    raw = (SAMPLES / "dsn-bounce.eml").read_bytes().replace(b"Action: failed", b"Action: delayed")
    assert parse_mail(raw).bounce is None


def test_a_mailer_daemon_returning_a_message_without_a_report() -> None:
    body = (
        b"Hi. This is the qmail-send program at mx.example.net.\r\n"
        b"I'm afraid I wasn't able to deliver your message.\r\n\r\n"
        b"<gone@customer.example>:\r\n550 5.1.1 mailbox unavailable\r\n\r\n"
        b"--- Below this line is a copy of the message.\r\n\r\n"
        b"Message-ID: <case-7.3@caseflow.example>\r\nSubject: Your case\r\n"
    )
    raw = raw_mail(body).replace(b"Ada Lovelace <ada@example.com>", b"MAILER-DAEMON@mx.example.net")
    bounce = parse_mail(raw).bounce
    assert bounce is not None
    assert bounce.original_message_id == "<case-7.3@caseflow.example>"
    assert bounce.recipients == ("gone@customer.example",)
    assert bounce.status == "5.1.1"


def test_a_notice_from_the_mail_system_is_no_bounce() -> None:
    raw = raw_mail(b"Your mailbox is almost full.\r\n").replace(
        b"Ada Lovelace <ada@example.com>", b"postmaster@example.net"
    )
    assert parse_mail(raw).bounce is None


# Not mail at all --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"   \r\n",
        b"just some words without any header\r\n",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        bytes(range(256)),
    ],
)
def test_not_a_mail_message(raw: bytes) -> None:
    with pytest.raises(MailParseError):
        parse_mail(raw)


def test_an_mbox_envelope_line_is_allowed() -> None:
    mail = parse_mail(b"From ada@example.com  Mon Mar  3 10:00:00 2025\nSubject: hi\n\nhello\n")
    assert mail.subject == "hi"
    assert mail.text == "hello"
