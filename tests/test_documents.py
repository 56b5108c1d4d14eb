"""faxes.documents: decoding inline base64 and turning what customers send into a faxable PDF.

Every document is generated here; no sample file is kept in the repository.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import struct
import zlib
from collections.abc import Callable

import pikepdf
import pytest
from django.test import override_settings
from PIL import Image

from faxes.documents import (
    ACCEPTED_CONTENT_TYPES,
    MAX_JPEG_PAGE_PIXELS,
    MAX_PAGE_PIXELS,
    MAX_PAGES,
    DocumentError,
    PreparedDocument,
    decode_base64,
    encoding,
    prepare_document,
    sniff_content_type,
)
from tests import attack_documents
from tests.attack_documents import record_decoders

LETTER = [0, 0, 612, 792]
# What MIME tools send: base64 wrapped at 76 columns with CRLF line breaks.
WRAPPED_BASE64 = base64.encodebytes(bytes(range(256)) * 3).decode().replace("\n", "\r\n")


def make_pdf(pages: int = 1, **save_options: object) -> bytes:
    pdf = pikepdf.new()
    for _ in range(pages):
        pdf.add_blank_page(page_size=(612, 792))
    buffer = io.BytesIO()
    pdf.save(buffer, **save_options)
    return buffer.getvalue()


def make_image(
    pil_format: str,
    *,
    mode: str = "RGB",
    size: tuple[int, int] = (40, 30),
    color: object = "gray",
    frames: int = 1,
) -> bytes:
    images = [Image.new(mode, size, color) for _ in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, format=pil_format, save_all=frames > 1, append_images=images[1:])
    return buffer.getvalue()


def with_png_size(png: bytes, *, width: int, height: int) -> bytes:
    """`png` with its header claiming another size (and a matching checksum)."""
    header = b"IHDR" + struct.pack(">II", width, height) + png[24:29]
    return png[:12] + header + struct.pack(">I", zlib.crc32(header)) + png[33:]


def page_count_of(pdf_bytes: bytes) -> int:
    with pikepdf.open(io.BytesIO(pdf_bytes)) as pdf:
        return len(pdf.pages)


def first_image_of(pdf_bytes: bytes) -> Image.Image:
    with pikepdf.open(io.BytesIO(pdf_bytes)) as pdf:
        page = pdf.pages[0]
        (raw,) = page.get_images().values()
        assert "/SMask" not in raw
        return pikepdf.PdfImage(raw).as_pil_image()


def placed_size_of(pdf_bytes: bytes) -> tuple[float, float]:
    """The width and height, in points, at which the first page draws its image."""
    with pikepdf.open(io.BytesIO(pdf_bytes)) as pdf:
        for operands, operator in pikepdf.parse_content_stream(pdf.pages[0]):
            if operator == pikepdf.Operator("cm"):
                return float(operands[0]), float(operands[3])
    raise AssertionError("The page draws no image.")


def refusal(data: bytes, declared_type: str | None = "application/pdf") -> DocumentError:
    with pytest.raises(DocumentError) as caught:
        prepare_document(data, declared_type=declared_type)
    return caught.value


# decode_base64


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("QUJD", b"ABC"),
        ("QUI=", b"AB"),
        ("QQ==", b"A"),
        ("QUJD\n", b"ABC"),
        (WRAPPED_BASE64, bytes(range(256)) * 3),
    ],
    ids=["no-padding", "one-pad", "two-pads", "trailing-newline", "wrapped-at-76-with-crlf"],
)
def test_it_decodes_standard_base64(text: str, expected: bytes) -> None:
    assert decode_base64(text) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty"),
        ("  \r\n\t ", "empty"),
        ("QUJD$QUJD", "'$' (character 5), which is not base64"),
        ("QUJDé", "'é' (character 5)"),
        ("QUJD\tQUJD", "'\\t' (character 5)"),
        ("QU JD", "contains a space (character 3)"),
        ("-_-_", "URL-safe"),
        ("QUI", "padding is wrong"),
        ("QQ=", "padding is wrong"),
        ("Q===", "padding is wrong"),
        ("QQ==QUJD", "'=' may only end"),
        ("data:application/pdf;base64,JVBERi0=", "without the 'data:…;base64,' prefix"),
    ],
    ids=[
        "empty",
        "whitespace-only",
        "junk",
        "non-ascii",
        "tab",
        "space",
        "url-safe",
        "missing-padding",
        "short-padding",
        "too-much-padding",
        "padding-in-the-middle",
        "data-url",
    ],
)
def test_it_refuses_malformed_base64_saying_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(DocumentError) as caught:
        decode_base64(text)
    assert caught.value.param == "document.content"
    assert says in caught.value.message
    assert caught.value.reason == "document_invalid"


@pytest.mark.parametrize("content", [42, 4.2, {"content": "QUJD"}, ["QUJD"], None, b"QUJD"])
def test_it_refuses_content_that_is_not_a_string(content: object) -> None:
    with pytest.raises(DocumentError) as caught:
        decode_base64(content)
    assert caught.value.param == "document.content"
    assert "must be a string of base64" in caught.value.message


def test_it_accepts_base64_of_exactly_max_bytes() -> None:
    assert decode_base64(base64.b64encode(b"x" * 10).decode(), max_bytes=10) == b"x" * 10


def test_it_refuses_base64_over_max_bytes() -> None:
    with pytest.raises(DocumentError) as caught:
        decode_base64(base64.b64encode(b"x" * 11).decode(), max_bytes=10)
    assert caught.value.param == "document.content"
    assert "at most 10 bytes" in caught.value.message


def test_it_refuses_oversized_base64_without_decoding_it(monkeypatch: pytest.MonkeyPatch) -> None:
    def must_not_decode(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("decoded a document that is over the limit")

    monkeypatch.setattr(encoding.binascii, "a2b_base64", must_not_decode)
    with pytest.raises(DocumentError, match="at most 1 KB"):
        decode_base64("QUJD" * 400, max_bytes=1024)


def test_it_limits_base64_to_max_document_bytes_by_default() -> None:
    too_big = "A" * (20 * 1000 * 1000 // 3 * 4 + 4)
    with pytest.raises(DocumentError, match=r"it must be at most 20 MB\."):
        decode_base64(too_big)


# sniff_content_type


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (b"%PDF-1.7\n", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"II*\x00\x08\x00\x00\x00", "image/tiff"),
        (b"MM\x00*\x00\x00\x00\x08", "image/tiff"),
        (b"<!DOCTYPE html><html>", None),
        (b"GIF89a", None),
        (b" %PDF-1.7", None),
        (b"", None),
    ],
    ids=["pdf", "png", "jpeg", "tiff-le", "tiff-be", "html", "gif", "pdf-not-at-start", "empty"],
)
def test_it_sniffs_accepted_types_from_magic_bytes(data: bytes, content_type: str | None) -> None:
    assert sniff_content_type(data) == content_type


# prepare_document: PDFs


def test_it_faxes_a_valid_pdf_as_it_was_sent() -> None:
    pdf = make_pdf(pages=3)

    prepared = prepare_document(pdf, declared_type="application/pdf")

    assert prepared == PreparedDocument(
        pdf=pdf,
        page_count=3,
        content_type="application/pdf",
        size_bytes=len(pdf),
        sha256=hashlib.sha256(pdf).hexdigest(),
    )


def test_it_accepts_a_pdf_of_exactly_max_pages() -> None:
    assert prepare_document(make_pdf(pages=MAX_PAGES), declared_type=None).page_count == MAX_PAGES


@pytest.mark.parametrize(
    ("pages", "says"),
    [
        (0, "The document has no pages."),
        (MAX_PAGES + 1, "has 351 pages; a fax may have at most 350"),
    ],
)
def test_it_refuses_pdfs_with_no_pages_or_too_many(pages: int, says: str) -> None:
    error = refusal(make_pdf(pages=pages))
    assert error.param == "document.content"
    assert says in error.message


@pytest.mark.parametrize(
    ("encryption", "says"),
    [
        (pikepdf.Encryption(user="u", owner="o"), "protected by a password. Remove the password"),
        (pikepdf.Encryption(user="", owner="o"), "restrictions (such as on printing or copying)"),
    ],
    ids=["user-password", "owner-password-only"],
)
def test_it_refuses_encrypted_pdfs(encryption: pikepdf.Encryption, says: str) -> None:
    error = refusal(make_pdf(encryption=encryption))
    assert error.param == "document.content"
    assert says in error.message


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-",
        b"%PDF-1.7\n" + b"\x00garbage\xff" * 100,
        make_pdf(pages=3)[:400],
        make_pdf(pages=3)[:-60],
    ],
    ids=["header-only", "garbage-after-header", "truncated-early", "truncated-late"],
)
def test_it_refuses_damaged_pdfs(data: bytes) -> None:
    error = refusal(data)
    assert error.param == "document.content"
    assert "The PDF is damaged or incomplete" in error.message
    assert "save or export it as a new PDF" in error.message


# prepare_document: images


@pytest.mark.parametrize(
    ("pil_format", "content_type"),
    [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("TIFF", "image/tiff")],
)
@pytest.mark.parametrize("declared", [True, False], ids=["declared", "sniffed"])
def test_it_converts_images_to_a_one_page_pdf(
    pil_format: str, content_type: str, declared: bool
) -> None:
    image = make_image(pil_format)

    prepared = prepare_document(image, declared_type=content_type if declared else None)

    assert prepared.page_count == 1
    assert page_count_of(prepared.pdf) == 1
    assert prepared.content_type == content_type
    assert prepared.size_bytes == len(image)
    assert prepared.sha256 == hashlib.sha256(image).hexdigest()


def test_it_gives_each_tiff_frame_a_page() -> None:
    prepared = prepare_document(make_image("TIFF", frames=3), declared_type="image/tiff")

    assert prepared.page_count == 3
    assert page_count_of(prepared.pdf) == 3


def test_it_shrinks_large_images_onto_letter_pages() -> None:
    prepared = prepare_document(make_image("PNG", size=(3000, 4000)), declared_type="image/png")

    with pikepdf.open(io.BytesIO(prepared.pdf)) as pdf:
        assert list(pdf.pages[0].mediabox) == LETTER


@pytest.mark.parametrize(
    ("pil_format", "mode", "color"),
    [("PNG", "RGBA", (0, 0, 0, 0)), ("PNG", "LA", (0, 0)), ("TIFF", "RGBA", (0, 0, 0, 0))],
)
def test_it_flattens_transparent_images_onto_white(
    pil_format: str, mode: str, color: tuple[int, ...]
) -> None:
    image = make_image(pil_format, mode=mode, color=color, frames=2 if pil_format == "TIFF" else 1)

    prepared = prepare_document(image, declared_type=None)

    assert first_image_of(prepared.pdf).convert("L").getpixel((0, 0)) == 255
    assert page_count_of(prepared.pdf) == prepared.page_count


def test_it_converts_16_bit_tiffs_that_img2pdf_refuses() -> None:
    image = make_image("TIFF", mode="I;16", color=4000)

    prepared = prepare_document(image, declared_type="image/tiff")

    assert prepared.page_count == 1
    assert first_image_of(prepared.pdf).getpixel((0, 0)) == 255


def test_it_refuses_tiffs_with_more_than_max_pages_frames() -> None:
    error = refusal(make_image("TIFF", size=(1, 1), frames=MAX_PAGES + 1), "image/tiff")
    assert error.param == "document.content"
    assert "more than 350 pages" in error.message


def test_it_sets_pillows_decompression_bomb_limit_to_the_largest_page() -> None:
    assert Image.MAX_IMAGE_PIXELS == MAX_JPEG_PAGE_PIXELS == 50_000_000
    assert MAX_PAGE_PIXELS == 16_000_000


def test_it_copies_a_phone_photo_of_a_page_larger_than_a_scan() -> None:
    photo = make_image("JPEG", mode="L", size=(6000, 4000), color="white")

    prepared = prepare_document(photo, declared_type="image/jpeg")

    assert prepared.page_count == 1
    assert first_image_of(prepared.pdf).size == (6000, 4000)


def test_it_refuses_a_jpeg_over_its_page_budget_naming_the_limit() -> None:
    jpeg = make_image("JPEG", mode="L", size=(1, 1))
    huge = jpeg.replace(
        b"\xff\xc0\x00\x0b\x08\x00\x01\x00\x01", b"\xff\xc0\x00\x0b\x08\x27\x10\x1b\x58"
    )

    error = refusal(huge, "image/jpeg")

    assert "7000 × 10000 pixels" in error.message
    assert "at most 50 million" in error.message


@pytest.mark.parametrize(
    ("pil_format", "content_type"),
    [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("TIFF", "image/tiff")],
)
def test_it_refuses_truncated_images(pil_format: str, content_type: str) -> None:
    buffer = io.BytesIO()
    Image.effect_noise((400, 300), 64).save(buffer, format=pil_format)
    image = buffer.getvalue()

    error = refusal(image[: len(image) // 2], content_type)

    assert error.param == "document.content"
    assert f"The {pil_format} image could not be read" in error.message


# prepare_document: pixel budgets, checked from the headers before any pixel is decoded


@pytest.fixture
def decoders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return record_decoders(monkeypatch)


def png_claiming(width: int, height: int) -> bytes:
    return with_png_size(make_image("PNG", mode="1", size=(1, 1)), width=width, height=height)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda: attack_documents.multi_frame_tiff((7000, 7000), MAX_PAGES), "7000 × 7000 pixels"),
        (lambda: attack_documents.transparent_png((7000, 7000)), "7000 × 7000 pixels"),
        (lambda: png_claiming(4001, 4000), "4001 × 4000 pixels"),
        (lambda: png_claiming(100_000, 100_000), "too large"),
    ],
    ids=["group-4-tiff-of-350-huge-frames", "huge-transparent-png", "just-over", "pillows-limit"],
)
def test_it_refuses_a_page_over_the_pixel_budget_without_decoding_it(
    make: Callable[[], bytes], says: str, decoders: list[str]
) -> None:
    error = refusal(make(), None)

    assert error.param == "document"
    assert error.message.startswith(f"The image is {says}; a page may have at most 16 million")
    assert "Scale it down" in error.message
    assert decoders == []


def test_it_refuses_a_later_tiff_frame_over_the_pixel_budget(decoders: list[str]) -> None:
    image = attack_documents.tiff_of_frames(((1728, 2200), (1728, 2200), (4001, 4000)))

    error = refusal(image, "image/tiff")

    assert error.param == "document"
    assert "The image is 4001 × 4000 pixels;" in error.message
    assert decoders == []


@pytest.mark.parametrize(
    ("frames", "mode", "compression", "total"),
    [
        (((4000, 4000),) * 2, "L", "tiff_lzw", "32"),
        (((1728, 2200),) * 27, "1", "group3", "20.5"),
        (((4000, 4000),) * MAX_PAGES, "1", "tiff_lzw", "1120"),
    ],
    ids=["two-grey-pages-at-400-dpi", "27-black-and-white-fax-pages", "350-lzw-pages"],
)
def test_it_refuses_an_image_over_the_decoding_budget_without_decoding_it(
    frames: tuple[tuple[int, int], ...],
    mode: str,
    compression: str,
    total: str,
    decoders: list[str],
) -> None:
    image = attack_documents.tiff_of_frames(frames, mode=mode, compression=compression)

    error = refusal(image, "image/tiff")

    assert error.param == "document"
    assert f"that means decoding {total} million pixels" in error.message
    assert "an image may need at most 20 million" in error.message
    assert "Send it as a PDF" in error.message
    assert decoders == []


def test_it_converts_a_black_and_white_tiff_up_to_the_decoding_budget() -> None:
    image = attack_documents.multi_frame_tiff((1728, 2200), 26, compression="group3")

    prepared = prepare_document(image, declared_type="image/tiff")

    assert prepared.page_count == 26


def test_it_copies_group_4_tiffs_into_the_pdf_without_decoding_them(decoders: list[str]) -> None:
    image = attack_documents.multi_frame_tiff((4000, 4000), MAX_PAGES)

    prepared = prepare_document(image, declared_type="image/tiff")

    assert prepared.page_count == MAX_PAGES
    with pikepdf.open(io.BytesIO(prepared.pdf)) as pdf:
        (raw,) = pdf.pages[0].get_images().values()
        assert pikepdf.PdfImage(raw).filters == ["/CCITTFaxDecode"]
    assert decoders == []


def test_it_redraws_images_it_cannot_copy_in_grey_at_their_resolution() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (1275, 1650), "red").save(buffer, format="TIFF", dpi=(300, 300))

    prepared = prepare_document(buffer.getvalue(), declared_type="image/tiff")

    assert first_image_of(prepared.pdf).mode == "L"
    # 1275 × 1650 pixels at 300 dpi: 4.25 × 5.5 inches, 306 × 396 points.
    assert placed_size_of(prepared.pdf) == pytest.approx((306, 396), abs=0.5)


def test_it_faxes_the_first_frame_of_an_animated_png() -> None:
    frames = [Image.new("RGBA", (40, 30), (0, 0, 0, alpha)) for alpha in (0, 128, 255)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="PNG", save_all=True, append_images=frames[1:])

    prepared = prepare_document(buffer.getvalue(), declared_type="image/png")

    assert prepared.page_count == 1
    assert first_image_of(prepared.pdf).getpixel((0, 0)) == 255


# prepare_document: what was sent, and how much


@pytest.mark.parametrize(
    ("data", "declared_type", "says"),
    [
        (
            b"<!DOCTYPE html><html><body>Log in</body></html>",
            "application/pdf",
            "The content is not a PDF file (it looks like an HTML page).",
        ),
        (
            make_image("PNG"),
            "application/pdf",
            "The content is not a PDF file (it looks like a PNG image). "
            'To send it as it is, set document.content_type to "image/png".',
        ),
        (make_pdf(), "image/jpeg", "The content is not a JPEG image (it looks like a PDF file)."),
        (
            base64.b64encode(make_pdf()),
            "application/pdf",
            "(it looks like a PDF file that was base64-encoded twice)",
        ),
        (b"\x00\x01\x02\x03", "application/pdf", "The content is not a PDF file."),
        (
            b"<html><p>Not found</p></html>",
            None,
            "The document is not a PDF, TIFF, PNG or JPEG file (it looks like an HTML page).",
        ),
        (b"GIF89a\x01\x00", None, "(it looks like a GIF image)"),
        (b"Dear Dr. Smith,\n", None, "(it looks like plain text)"),
    ],
    ids=[
        "html-as-pdf",
        "png-as-pdf",
        "pdf-as-jpeg",
        "double-base64",
        "unknown-as-pdf",
        "html-sniffed",
        "gif-sniffed",
        "text-sniffed",
    ],
)
def test_it_refuses_content_that_is_not_what_it_claims(
    data: bytes, declared_type: str | None, says: str
) -> None:
    error = refusal(data, declared_type)
    assert error.param == "document.content"
    assert says in error.message


@pytest.mark.parametrize(
    "declared_type", ["text/plain", "image/jpg", "application/octet-stream", ""]
)
def test_it_refuses_types_it_cannot_fax_listing_the_accepted_ones(declared_type: str) -> None:
    error = refusal(make_pdf(), declared_type)
    assert error.param == "document.content_type"
    assert ", ".join(ACCEPTED_CONTENT_TYPES) in error.message


def test_it_reads_the_declared_type_without_regard_to_case_or_spaces() -> None:
    prepared = prepare_document(make_pdf(), declared_type=" Application/PDF ")
    assert prepared.content_type == "application/pdf"


@pytest.mark.parametrize("declared_type", ["application/pdf", None])
def test_it_refuses_an_empty_document(declared_type: str | None) -> None:
    error = refusal(b"", declared_type)
    assert error.param == "document.content"
    assert error.message == "The document is empty."


@override_settings(MAX_DOCUMENT_BYTES=2048)
def test_it_refuses_documents_over_max_document_bytes() -> None:
    pdf = make_pdf()
    pdf += b"\n" * (2049 - len(pdf))

    error = refusal(pdf)

    assert error.param == "document.content"
    assert "it must be at most 2 KB" in error.message


def test_it_refuses_images_that_grow_too_large_as_pdf() -> None:
    jpeg = make_image("JPEG", size=(200, 200))

    with override_settings(MAX_DOCUMENT_BYTES=len(jpeg) + 10):
        error = refusal(jpeg, "image/jpeg")

    assert error.param == "document.content"
    assert "Converted to PDF, the image is too large" in error.message


# PHI


def test_it_never_logs_document_content(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret = b"PATIENT Jane Roe DOB 1970-01-01"

    with pytest.raises(DocumentError):
        prepare_document(b"%PDF-1.7\n1 0 obj (" + secret + b") endobj", declared_type=None)
    with pytest.raises(DocumentError):
        prepare_document(make_image("PNG")[:60] + secret, declared_type="image/png")

    assert "Refused a document" in caplog.text
    assert "Jane Roe" not in caplog.text


def test_it_keeps_the_pdf_bytes_out_of_repr() -> None:
    prepared = prepare_document(make_pdf(), declared_type="application/pdf")
    assert "%PDF" not in repr(prepared)
    assert "page_count=1" in repr(prepared)
