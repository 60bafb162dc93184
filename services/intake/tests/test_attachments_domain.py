"""Attachments' pure rules: the name a file is kept under, the type it is served as, and how
large it may be; and the use cases over fake ports."""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest

from intake.app.attachments import (
    AttachmentRepository,
    BlobMissing,
    find_attachment,
    read_attachment,
    store_attachment,
)
from intake.domain.attachments import (
    AttachmentLimits,
    AttachmentRecord,
    AttachmentSource,
    AttachmentTooLarge,
    StoredAttachment,
    check_size,
    clean_content_id,
    media_type,
    sanitize_filename,
    sniff_content_type,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 5, 20, 9, 14, 7, tzinfo=UTC)

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<<>>\n%%EOF\n"
TEXT = b"Hello,\nthe printer on floor 3 jams again.\n"
HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
# Starts like nothing any format is known to start like.
UNKNOWN = b"\x13\x37\x00\x42 opaque vendor payload \x00\x01\x02"


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "hi")
    return buffer.getvalue()


# -- names --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\Windows\\system32\\drivers\\etc\\hosts", "hosts"),
        ("C:\\Users\\anna\\Desktop\\invoice 2026.pdf", "invoice 2026.pdf"),
        ("/home/anna/scans/", "attachment"),
        (".htaccess", "htaccess"),
        ("...", "attachment"),
        ("  spaced \t\n out  name .txt ", "spaced out name .txt"),
        ("bell\x07and\x00nul\x1b.txt", "bellandnul.txt"),
        # A right-to-left override would show this as "invoice_fdp.exe" reversed.
        ("invoice_\u202efdp.exe", "invoice_fdp.exe"),
        ('what?<is>"this"|*.txt', "what__is__this___.txt"),
        ("trailing dots...", "trailing dots"),
        ("CON", "_CON"),
        ("con.txt", "_con.txt"),
        ("lpt1.log", "_lpt1.log"),
        ("console.txt", "console.txt"),
        ("Zählerstand März.xlsx", "Zählerstand März.xlsx"),
        ("Überweisung – 报告.pdf", "Überweisung – 报告.pdf"),
        ("", "attachment"),
        (None, "attachment"),
        ("\x00\x01", "attachment"),
    ],
)
def test_a_name_is_cleaned_of_paths_controls_and_what_windows_refuses(
    given: str | None, expected: str
) -> None:
    assert sanitize_filename(given) == expected


def test_a_decomposed_name_is_kept_composed() -> None:
    assert sanitize_filename("Zu\u0308rich.txt") == "Zürich.txt"


def test_the_fallback_is_the_callers() -> None:
    assert sanitize_filename("../", fallback="scan") == "scan"


@pytest.mark.parametrize("letter", ["a", "ä", "报", "😀"])
def test_a_long_name_is_cut_to_255_bytes_keeping_its_extension(letter: str) -> None:
    name = sanitize_filename(letter * 400 + ".pdf")
    assert name.endswith(".pdf")
    assert len(name.encode()) <= 255
    assert len(name.encode()) > 255 - len(letter.encode()) - 1
    assert set(name.removesuffix(".pdf")) == {letter}


def test_a_long_name_without_an_extension_is_cut_whole() -> None:
    name = sanitize_filename("x" * 300)
    assert name == "x" * 255


def test_a_long_tail_after_a_dot_is_no_extension_to_keep() -> None:
    name = sanitize_filename("a" * 200 + "." + "b" * 100)
    assert len(name.encode()) == 255
    assert name.startswith("a" * 200 + ".")


def test_a_cut_never_leaves_half_a_character_or_a_lone_accent() -> None:
    name = sanitize_filename("e\u0301" * 200 + ".txt")  # NFC composes é: two bytes each
    assert name.endswith(".txt")
    assert name.removesuffix(".txt") == "é" * 125


# -- types --------------------------------------------------------------------------------------


def test_png_declared_as_html_is_png() -> None:
    assert sniff_content_type(PNG, declared="text/html", filename="x.html") == "image/png"


def test_a_pdf_is_a_pdf_whatever_it_is_called() -> None:
    declared = "application/octet-stream"
    assert sniff_content_type(PDF, declared=declared, filename="scan") == "application/pdf"
    assert sniff_content_type(PDF, declared="text/plain", filename="a.txt") == "application/pdf"


def test_html_content_is_html_whatever_was_declared() -> None:
    assert sniff_content_type(HTML, declared="text/plain", filename="a.txt") == "text/html"


def test_plain_text_keeps_its_declared_type_without_parameters() -> None:
    declared = "Text/Plain; charset=UTF-8"
    assert sniff_content_type(TEXT, declared=declared, filename="note") == "text/plain"


def test_plain_text_declared_as_nothing_is_what_its_extension_says() -> None:
    assert sniff_content_type(TEXT, declared=None, filename="notes.txt") == "text/plain"
    assert sniff_content_type(TEXT, declared=None, filename="data.csv") == "text/csv"


def test_unknown_bytes_keep_a_well_formed_declared_type() -> None:
    declared = "application/vnd.acme.telemetry+binary"
    assert sniff_content_type(UNKNOWN, declared=declared, filename="dump") == declared


@pytest.mark.parametrize(
    "declared",
    [
        "image png",
        "image/",
        "/png",
        "*/*",
        "text/html<script>",
        "application/pdf\r\nSet-Cookie: a=b",
        "x" * 300 + "/y",
        "",
    ],
)
def test_a_malformed_declared_type_is_never_kept(declared: str) -> None:
    assert sniff_content_type(UNKNOWN, declared=declared, filename="dump") == (
        "application/octet-stream"
    )
    assert sniff_content_type(UNKNOWN, declared=declared, filename="dump.pdf") == (
        "application/pdf"
    )


def test_declared_octet_stream_says_nothing_and_the_extension_does() -> None:
    declared = "application/octet-stream"
    assert sniff_content_type(UNKNOWN, declared=declared, filename="a.json") == "application/json"


def test_a_compressed_extension_is_the_compression() -> None:
    assert sniff_content_type(UNKNOWN, declared=None, filename="a.tar.gz") == "application/gzip"


def test_empty_content_is_what_was_declared() -> None:
    assert sniff_content_type(b"", declared="text/plain", filename="empty") == "text/plain"


def test_text_that_merely_starts_like_a_format_is_not_taken_for_it() -> None:
    # "BM" opens a bitmap and "MZ" a Windows program: two bytes prove nothing.
    for text in (b"BM is the client's initials", b"MZ-3 escalation notes"):
        assert sniff_content_type(text, declared="text/plain", filename="x") == "text/plain"


def test_a_zip_is_told_apart_from_its_family_by_declaration_or_extension() -> None:
    archive = _zip()
    docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert sniff_content_type(archive, declared=None, filename="letter.docx") == docx
    assert sniff_content_type(archive, declared="application/zip", filename="x") == (
        "application/zip"
    )
    assert sniff_content_type(archive, declared=None, filename="bundle") == "application/zip"
    # Declared as a picture, with a picture's name, it is still the archive it is.
    assert sniff_content_type(archive, declared="image/png", filename="a.png") == (
        "application/zip"
    )


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("text/plain", "text/plain"),
        (" IMAGE/PNG ; name=a.png", "image/png"),
        (
            "application/vnd.ms-excel.sheet.macroEnabled.12",
            "application/vnd.ms-excel.sheet.macroenabled.12",
        ),
        ("text", None),
        ("text/plain/extra", None),
        (None, None),
    ],
)
def test_media_type(given: str | None, expected: str | None) -> None:
    assert media_type(given) == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("<part1.abc@mail.example>", "part1.abc@mail.example"),
        ("  image001.png@01D9  ", "image001.png@01D9"),
        ("<\x00>", None),
        ("", None),
        (None, None),
    ],
)
def test_content_id(given: str | None, expected: str | None) -> None:
    assert clean_content_id(given) == expected


# -- size ---------------------------------------------------------------------------------------


def test_the_default_limit_is_25_mib() -> None:
    assert AttachmentLimits().max_bytes == 25 * 1024 * 1024


def test_a_file_at_the_limit_is_kept_and_one_byte_more_is_not() -> None:
    limits = AttachmentLimits(max_bytes=1000)
    check_size(1000, limits)
    with pytest.raises(AttachmentTooLarge) as raised:
        check_size(1001, limits)
    assert raised.value.max_bytes == 1000
    assert raised.value.problem_members == {"max_bytes": 1000}
    assert isinstance(raised.value, ValueError)


def test_a_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        AttachmentLimits(max_bytes=0)


# -- the use cases, over fakes ------------------------------------------------------------------


class FakeBlobStore:
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.puts = 0

    async def put(self, content: bytes) -> str:
        self.puts += 1
        sha256 = hashlib.sha256(content).hexdigest()
        self.blobs.setdefault(sha256, content)
        return sha256

    async def get(self, sha256: str) -> bytes:
        try:
            return self.blobs[sha256]
        except KeyError:
            raise BlobMissing(sha256) from None

    async def exists(self, sha256: str) -> bool:
        return sha256 in self.blobs


class FakeAttachmentRepository:
    def __init__(self) -> None:
        self.records: dict[UUID, AttachmentRecord] = {}

    async def add(
        self,
        attachment: StoredAttachment,
        *,
        source: AttachmentSource,
        inline: bool,
        content_id: str | None,
        mail_id: UUID | None,
        interaction_id: UUID | None,
        case_id: UUID | None,
        uploaded_by: UUID | None,
        created_at: datetime,
    ) -> None:
        self.records[attachment.attachment_id] = AttachmentRecord(
            attachment=attachment,
            source=source,
            inline=inline,
            content_id=content_id,
            mail_id=mail_id,
            interaction_id=interaction_id,
            case_id=case_id,
            uploaded_by=uploaded_by,
            created_at=created_at,
        )

    async def get(self, attachment_id: UUID) -> AttachmentRecord | None:
        return self.records.get(attachment_id)


class FakeUnitOfWork:
    def __init__(self, repository: FakeAttachmentRepository) -> None:
        self.attachments: AttachmentRepository = repository
        self.commits = 0

    async def __aenter__(self) -> FakeUnitOfWork:
        return self

    async def __aexit__(self, *_: object) -> None:
        return None

    async def commit(self) -> None:
        self.commits += 1


async def test_a_file_is_stored_cleaned_sniffed_and_recorded() -> None:
    blobs, repository = FakeBlobStore(), FakeAttachmentRepository()
    agent, case_id = uuid4(), uuid4()
    stored = await store_attachment(
        content=PNG,
        filename="../../shot.html",
        declared_type="text/html",
        source="agent",
        case_id=case_id,
        uploaded_by=agent,
        repository=repository,
        blobs=blobs,
        limits=AttachmentLimits(),
        now=NOW,
    )
    assert (stored.filename, stored.content_type, stored.size) == (
        "shot.html",
        "image/png",
        len(PNG),
    )
    assert blobs.blobs[stored.sha256] == PNG
    record = repository.records[stored.attachment_id]
    assert (record.source, record.case_id, record.uploaded_by, record.created_at) == (
        "agent",
        case_id,
        agent,
        NOW,
    )

    found = await read_attachment(stored.attachment_id, uow=FakeUnitOfWork(repository), blobs=blobs)
    assert found is not None
    assert (found.record, found.content) == (record, PNG)
    assert await find_attachment(uuid4(), uow=FakeUnitOfWork(repository)) is None


async def test_a_file_over_the_limit_stores_nothing() -> None:
    blobs, repository = FakeBlobStore(), FakeAttachmentRepository()
    with pytest.raises(AttachmentTooLarge):
        await store_attachment(
            content=os.urandom(101),
            filename="big.bin",
            declared_type=None,
            source="web",
            repository=repository,
            blobs=blobs,
            limits=AttachmentLimits(max_bytes=100),
            now=NOW,
        )
    assert (blobs.puts, repository.records) == (0, {})


async def test_a_record_whose_bytes_are_gone_says_so() -> None:
    blobs, repository = FakeBlobStore(), FakeAttachmentRepository()
    stored = await store_attachment(
        content=TEXT,
        filename="a.txt",
        declared_type="text/plain",
        source="email",
        inline=True,
        content_id="<a@b>",
        repository=repository,
        blobs=blobs,
        limits=AttachmentLimits(),
        now=NOW,
    )
    assert repository.records[stored.attachment_id].content_id == "a@b"
    blobs.blobs.clear()
    with pytest.raises(BlobMissing):
        await read_attachment(stored.attachment_id, uow=FakeUnitOfWork(repository), blobs=blobs)
