"""Documents made on the fly for tests: blank PDFs and images, never real paperwork."""

from __future__ import annotations

import base64
import io
import os

import pikepdf
from PIL import Image


def pdf_bytes(pages: int = 1) -> bytes:
    pdf = pikepdf.new()
    for _ in range(pages):
        pdf.add_blank_page(page_size=(612, 792))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def encrypted_pdf_bytes() -> bytes:
    pdf = pikepdf.open(io.BytesIO(pdf_bytes()))
    out = io.BytesIO()
    pdf.save(out, encryption=pikepdf.Encryption(user="user", owner="owner"))
    return out.getvalue()


def png_bytes(size: tuple[int, int] = (200, 100)) -> bytes:
    out = io.BytesIO()
    Image.new("L", size, color=255).save(out, format="PNG")
    return out.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def inline_pdf(pages: int = 1) -> dict[str, str]:
    """The `document` object of a send request carrying a blank PDF."""
    return {"content": b64(pdf_bytes(pages)), "content_type": "application/pdf"}


def text_pdf(*texts: str, page_size: tuple[float, float] = (612, 792), rotate: int = 0) -> bytes:
    """A PDF with one page per text, each page showing its text, so that order can be read back."""
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    drawing = canvas.Canvas(out, pagesize=page_size)
    for text in texts:
        drawing.drawString(72, 300, text)
        drawing.showPage()
    drawing.save()
    if not rotate:
        return out.getvalue()
    pdf = pikepdf.open(io.BytesIO(out.getvalue()))
    for page in pdf.pages:
        page.Rotate = rotate
    rotated = io.BytesIO()
    pdf.save(rotated)
    return rotated.getvalue()


def page_texts(pdf: bytes) -> list[str]:
    """The text of each page, as a PDF text extractor (PDFium) reads it."""
    import pypdfium2

    document = pypdfium2.PdfDocument(pdf)
    try:
        return [" ".join(page.get_textpage().get_text_range().split()) for page in document]
    finally:
        document.close()


def large_pdf_bytes(size: int) -> bytes:
    """A 1-page PDF of about `size` bytes: an image of random samples, stored uncompressed."""
    width = 1000
    pdf = pikepdf.new()
    page = pdf.add_blank_page(page_size=(612, 792))
    image = pdf.make_stream(
        os.urandom(width * (size // width)),
        Type=pikepdf.Name.XObject,
        Subtype=pikepdf.Name.Image,
        Width=width,
        Height=size // width,
        ColorSpace=pikepdf.Name.DeviceGray,
        BitsPerComponent=8,
    )
    page.add_resource(image, pikepdf.Name.XObject, pikepdf.Name.Im0)
    page.obj.Contents = pdf.make_stream(b"q 612 0 0 792 0 0 cm /Im0 Do Q")
    out = io.BytesIO()
    pdf.save(out, compress_streams=False)
    return out.getvalue()


def alter_last_byte(path: str) -> None:
    """Flip a bit of the stored file's last byte, as a disk or an attacker might: its
    authentication tag no longer matches."""
    with open(path, "r+b") as stored:
        stored.seek(-1, 2)
        last = stored.read(1)[0]
        stored.seek(-1, 2)
        stored.write(bytes([last ^ 0x01]))
