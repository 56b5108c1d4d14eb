"""Composing the fax (faxes/documents/compose.py): merging, the cover page, the header line."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pikepdf
import pytest
import time_machine

from faxes.documents import DocumentError
from faxes.documents.compose import (
    CoverPage,
    FaxParties,
    assemble,
    first_page_stamped,
    header_line,
    merge_pdfs,
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


SENT_AT = datetime(2026, 11, 30, 12, 23, tzinfo=UTC)
HEADER = header_line(
    sent_at=SENT_AT,
    time_zone="America/New_York",
    business_name="Acme Clinic",
    from_number="+15550100001",
)
LETTER, A4, LEGAL = (612, 792), (595, 842), (612, 1008)


def assert_headed(texts: list[str], bodies: list[str]) -> None:
    """Each page carries its body and the whole header line: date and time, name, number and
    "Page n/N"."""
    assert len(texts) == len(bodies)
    for number, (text, body) in enumerate(zip(texts, bodies, strict=True), start=1):
        assert body in text
        assert "2026-11-30 07:23 EST" in text
        assert "Acme Clinic" in text
        assert "Fax +15550100001" in text
        assert f"Page {number}/{len(bodies)}" in text


@pytest.mark.parametrize(
    ("page_size", "rotate"),
    [
        (LETTER, 0),
        (A4, 0),
        (LEGAL, 0),
        ((792, 612), 0),
        ((842, 595), 0),
        (A4, 90),
        (LETTER, 180),
        (LEGAL, 270),
        ((842, 595), 90),
    ],
    ids=[
        "letter",
        "a4",
        "legal",
        "letter-landscape",
        "a4-landscape",
        "a4-rotated-90",
        "letter-rotated-180",
        "legal-rotated-270",
        "a4-landscape-rotated-90",
    ],
)
def test_it_stamps_the_header_on_every_page(page_size: tuple[int, int], rotate: int) -> None:
    pdf = documents.text_pdf("one", "two", "three", page_size=page_size, rotate=rotate)

    stamped = stamp_header(pdf, text=HEADER)

    assert_headed(documents.page_texts(stamped), ["one", "two", "three"])


def test_it_stamps_pages_of_different_sizes_and_rotations_in_one_document() -> None:
    parts = [
        documents.text_pdf("letter", page_size=LETTER),
        documents.text_pdf("a4 turned", page_size=A4, rotate=90),
        documents.text_pdf("legal", page_size=LEGAL),
        documents.text_pdf("landscape upside down", page_size=(792, 612), rotate=180),
        documents.text_pdf("legal turned back", page_size=LEGAL, rotate=270),
    ]
    pdf = merge_pdfs(parts)

    stamped = stamp_header(pdf, text=HEADER)

    bodies = ["letter", "a4 turned", "legal", "landscape upside down", "legal turned back"]
    assert_headed(documents.page_texts(stamped), bodies)


@pytest.mark.parametrize("rotate", [0, 90, 180, 270])
def test_it_stamps_the_top_of_the_page_as_displayed(rotate: int) -> None:
    import pypdfium2

    pdf = documents.text_pdf("body", page_size=LEGAL, rotate=rotate)
    stamped = stamp_header(pdf, text="HEADER")

    page = pypdfium2.PdfDocument(stamped)[0]
    bitmap = page.render(scale=1).to_pil().convert("L")
    width, height = bitmap.size
    assert (width > height) == (rotate in (90, 270))
    assert bitmap.crop((0, 0, width, 20)).getextrema()[0] < 128
    assert bitmap.crop((0, height - 40, width, height)).getextrema()[0] == 255


def test_it_stamps_a_page_whose_media_box_is_not_at_the_origin() -> None:
    pdf = documents.text_pdf("offset")
    with pikepdf.open(io.BytesIO(pdf)) as moved:
        for page in moved.pages:
            page.obj.MediaBox = pikepdf.Array([100, 100, 712, 892])
            page.contents_add(b"1 0 0 1 100 100 cm\n", prepend=True)
        out = io.BytesIO()
        moved.save(out)

    stamped = stamp_header(out.getvalue(), text=HEADER)

    assert_headed(documents.page_texts(stamped), ["offset"])


def test_stamping_twice_gives_the_same_bytes() -> None:
    pdf = documents.text_pdf("one", "two", page_size=A4, rotate=90)

    first = stamp_header(pdf, text=HEADER)
    with time_machine.travel(datetime(2027, 1, 1, tzinfo=UTC)):
        second = stamp_header(pdf, text=HEADER)

    assert first == second


def test_the_first_page_stamped_alone_renders_as_in_the_whole_document() -> None:
    from faxes.documents.render import render_page_png

    pdf = documents.text_pdf("one", "two", "three", page_size=A4, rotate=270)

    alone = first_page_stamped(pdf, text=HEADER)

    assert documents.page_texts(alone) == [documents.page_texts(stamp_header(pdf, text=HEADER))[0]]
    whole = render_page_png(stamp_header(pdf, text=HEADER), page_number=1)
    assert render_page_png(alone, page_number=1) == whole


def test_the_header_line_is_in_the_time_zone_given() -> None:
    text = header_line(
        sent_at=SENT_AT, time_zone="Europe/Paris", business_name="A", from_number="+15550100001"
    )

    assert text == "2026-11-30 13:23 CET   A   Fax +15550100001"


def test_an_unknown_time_zone_falls_back_to_utc() -> None:
    text = header_line(
        sent_at=SENT_AT, time_zone="Mars/Olympus", business_name="A", from_number="+15550100001"
    )

    assert text.startswith("2026-11-30 12:23 UTC")


def test_a_business_name_over_60_characters_is_cut_in_the_header_line() -> None:
    name = "clinic-front-desk-and-referrals@" + "x" * 60 + ".example.com"

    text = header_line(
        sent_at=SENT_AT, time_zone="UTC", business_name=name, from_number="+15550100001"
    )

    assert f"   {name[:59]}…   Fax +15550100001" in text


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


def test_a_header_with_parentheses_a_backslash_and_accents_is_drawn_as_given() -> None:
    line = "2026-11-30 07:23 EST Dr. Zoë (Main) \\ Café… Fax +15550100001"

    stamped = stamp_header(documents.text_pdf("body"), text=line)

    assert line in documents.page_texts(stamped)[0]
