"""Composing the fax (faxes/documents/compose.py): merging, the cover page, the header line."""

from __future__ import annotations

import io

import pikepdf
import pytest

from faxes.documents import DocumentError
from faxes.documents.compose import (
    CoverPage,
    FaxParties,
    assemble,
    render_cover_page,
    stamp_header,
)
from faxes.documents.prepare import prepare_document
from tests import documents

PARTIES = FaxParties("Acme Clinic", "+15550001111", "+15552223333")


def test_it_merges_documents_in_order() -> None:
    first = prepare_document(documents.text_pdf("alpha one", "alpha two"), declared_type=None)
    second = prepare_document(documents.text_pdf("beta one"), declared_type=None)

    fax = assemble([first, second], cover=None, parties=PARTIES)

    assert fax.page_count == 3
    assert documents.page_texts(fax.pdf) == ["alpha one", "alpha two", "beta one"]


def test_it_puts_the_cover_page_first_and_counts_it() -> None:
    document = prepare_document(documents.text_pdf("body"), declared_type=None)
    cover = CoverPage(to_name="Dr. Who", subject="Referral", message="Please see attached.")

    fax = assemble([document], cover=cover, parties=PARTIES)

    assert fax.page_count == 2
    first, second = documents.page_texts(fax.pdf)
    assert second == "body"
    for text in (
        "To: Dr. Who",
        "Fax number: +15552223333",
        "From: Acme Clinic",
        "From fax number: +15550001111",
        "Subject: Referral",
        "Pages: 2 (including this cover page)",
        "Please see attached.",
    ):
        assert text in first


def test_it_refuses_more_than_350_pages_in_all_cover_included() -> None:
    document = prepare_document(documents.pdf_bytes(pages=350), declared_type=None)

    with pytest.raises(DocumentError) as error:
        assemble([document], cover=CoverPage(), parties=PARTIES)

    assert error.value.param == "documents"
    assert "351 pages" in error.value.message


def test_it_renders_a_long_cover_message_on_one_page() -> None:
    message = "\n".join(f"Line {n} of the message." for n in range(26))

    cover = render_cover_page(
        CoverPage(message=message), account_name="A", from_number="+1", to_number="+2", page_count=1
    )

    [text] = documents.page_texts(cover)
    assert "Line 25 of the message." in text


@pytest.mark.parametrize(
    ("page_size", "rotate"),
    [((612, 792), 0), ((595, 842), 0), ((842, 595), 0), ((595, 842), 90), ((612, 792), 180)],
    ids=["letter", "a4", "a4-landscape", "a4-rotated-90", "letter-rotated-180"],
)
def test_it_stamps_the_header_on_every_page(page_size: tuple[int, int], rotate: int) -> None:
    pdf = documents.text_pdf("one", "two", "three", page_size=page_size, rotate=rotate)

    stamped = stamp_header(pdf, text="2026-11-30 07:23 EST Acme Clinic Fax +15550001111")

    texts = documents.page_texts(stamped)
    assert len(texts) == 3
    bodies = ["one", "two", "three"]
    for number, (text, body) in enumerate(zip(texts, bodies, strict=True), start=1):
        assert "2026-11-30 07:23 EST Acme Clinic Fax +15550001111" in text
        assert f"Page {number}/3" in text
        assert body in text


@pytest.mark.parametrize("page_size", [(612, 792), (595, 842)], ids=["letter", "a4"])
def test_a_long_header_line_ends_before_the_page_number(page_size: tuple[int, int]) -> None:
    import pypdfium2

    line = f"2026-11-30 07:23 EST {'W' * 60} Fax +15550001111"  # a 60-character name of Ws
    stamped = stamp_header(documents.text_pdf("body", page_size=page_size), text=line)

    page = pypdfium2.PdfDocument(stamped)[0]
    chars = page.get_textpage()
    text = chars.get_text_range()
    assert line in text
    line_right = chars.get_charbox(text.index(line) + len(line) - 1)[2]
    number_left = chars.get_charbox(text.index("Page 1/1"))[0]
    assert line_right < number_left < page_size[0]


def test_it_stamps_without_rerasterising_the_pages() -> None:
    pdf = documents.text_pdf("one", "two")
    with pikepdf.open(io.BytesIO(pdf)) as original:
        before = [page.obj.Contents.read_bytes() for page in original.pages]

    stamped = stamp_header(pdf, text="header")

    with pikepdf.open(io.BytesIO(stamped)) as result:
        for page, content in zip(result.pages, before, strict=True):
            contents = page.obj.Contents
            parts = list(contents) if isinstance(contents, pikepdf.Array) else [contents]
            streams = [stream.read_bytes() for stream in parts]
            assert content in b"".join(streams)  # the page's own drawing, kept as it was
            assert not page.get_images()


def test_it_stamps_the_header_at_the_top_of_the_displayed_page() -> None:
    import pypdfium2

    pdf = documents.text_pdf("body", page_size=(595, 842), rotate=90)
    stamped = stamp_header(pdf, text="HEADER")

    page = pypdfium2.PdfDocument(stamped)[0]
    bitmap = page.render(scale=1).to_pil().convert("L")
    width, height = bitmap.size
    assert width > height  # shown rotated: landscape
    top = bitmap.crop((0, 0, width, 20))
    bottom = bitmap.crop((0, height - 40, width, height))
    assert top.getextrema()[0] < 128  # dark pixels: the header is in the top margin
    assert bottom.getextrema()[0] == 255
