"""Images (PNG, JPEG, TIFF) become PDF pages, within pixel budgets checked before any decoding."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

import img2pdf
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from PIL import ExifTags, Image, ImageOps, TiffImagePlugin

from faxes.documents.base import (
    BILEVEL_DISCOUNT,
    BUDGET_PARAM,
    CONTENT_PARAM,
    FAX_PAGE_PIXELS,
    MAX_DECODED_PIXELS,
    MAX_JPEG_PAGE_PIXELS,
    MAX_PAGE_PIXELS,
    MAX_PAGES,
    PIL_FORMATS,
    DocumentError,
    human_size,
    library_errors,
    millions,
    too_many_pixels_message,
)

logger = logging.getLogger(__name__)

# Images are drawn on US Letter pages, shrunk to fit when they are larger than the page and
# otherwise kept at the size their resolution gives them, so a small image is not blown up.
_LETTER_LAYOUT = img2pdf.get_layout_fun(
    pagesize=(img2pdf.in_to_pt(8.5), img2pdf.in_to_pt(11)), fit=img2pdf.FitMode.shrink
)
_ALPHA_MODES = ("RGBA", "RGBa", "LA", "La", "PA")
_DEEP_GRAY_MODES = ("I", "I;16", "I;16L", "I;16B", "I;16N", "F")
_STRIP_OFFSETS = TiffImagePlugin.STRIPOFFSETS
_STRIP_BYTE_COUNTS = TiffImagePlugin.STRIPBYTECOUNTS
_PHOTOMETRIC = TiffImagePlugin.PHOTOMETRIC_INTERPRETATION
_FILL_ORDER = TiffImagePlugin.FILLORDER
# An empty EXIF block: see _as_png.
_NO_EXIF = Image.Exif().tobytes()


# Images
#
# Converting an image costs what decoding its pixels costs, and a small file can declare a huge
# number of them, so every image is surveyed first, from its headers alone: the size of each
# frame, whether img2pdf can copy its compressed data into the PDF without decoding it, and how
# many pixels would have to be decoded otherwise. Budgets are checked on that survey before any
# pixel is decoded.


@dataclass(frozen=True)
class _Frame:
    """One frame (page) of an image, as its header declares it."""

    pixels: int
    bilevel: bool
    # img2pdf copies the frame's compressed data into the PDF as it is (JPEG, a single-strip
    # Group 4 TIFF frame, an opaque non-interlaced PNG).
    copied: bool

    @property
    def decoding_cost(self) -> int:
        """What decoding the frame counts against MAX_DECODED_PIXELS."""
        return self.pixels // BILEVEL_DISCOUNT if self.bilevel else self.pixels


def image_to_pdf(data: bytes, *, content_type: str) -> bytes:
    """Convert a PNG, JPEG or TIFF into a PDF with one page per frame.

    JPEGs and TIFFs whose frames are all single-strip Group 4 (the usual fax TIFF) are copied
    into the PDF as they are, without decoding a pixel. Other images are decoded, within
    MAX_DECODED_PIXELS, and redrawn as upright, opaque greyscale (or black-and-white) pages: a
    fax is black and white, and grey costs a third of colour to redraw. An opaque PNG is copied
    in colour, though img2pdf decodes it to read it, so it counts against the budget too.
    """
    pil_format = PIL_FORMATS[content_type]
    unreadable = f"The {pil_format} image could not be read: it is damaged or incomplete."
    with library_errors(unreadable):
        frames = _survey(data, pil_format=pil_format)
        if pil_format == "JPEG":
            _check_jpeg_is_whole(data)
    pdf = None
    if all(frame.copied for frame in frames):
        if pil_format == "PNG":
            _check_decoding_budget(frames)
        pdf = _try_img2pdf(data)
    if pdf is None:
        _check_decoding_budget(frames)
        pages = _redraw(data, pil_format=pil_format, count=len(frames), unreadable=unreadable)
        with library_errors(f"The {pil_format} image could not be converted to PDF."):
            pdf = _convert_with_img2pdf(*pages)
    if len(pdf) > settings.MAX_DOCUMENT_BYTES:
        raise DocumentError(
            f"Converted to PDF, the image is too large ({human_size(len(pdf))}); it must be at "
            f"most {human_size(settings.MAX_DOCUMENT_BYTES)}. Send it as a JPEG, or split it.",
            param=CONTENT_PARAM,
        )
    return pdf


def _survey(data: bytes, *, pil_format: str) -> list[_Frame]:
    """Read every frame's header, decoding no pixel; refuse too many frames or a frame too large.

    Only a TIFF has pages: a PNG or JPEG is faxed as its first frame (an animated PNG's other
    frames can only be reached by decoding every frame before them).
    """
    frames: list[_Frame] = []
    with Image.open(io.BytesIO(data), formats=[pil_format]) as image:
        for index in range(MAX_PAGES + 1 if pil_format == "TIFF" else 1):
            try:
                image.seek(index)
            except EOFError:
                break
            if index == MAX_PAGES:
                raise DocumentError(
                    f"The image has more than {MAX_PAGES} pages; a fax may have at most "
                    f"{MAX_PAGES}. Split it into several faxes.",
                    param=CONTENT_PARAM,
                )
            width, height = image.size
            limit = MAX_JPEG_PAGE_PIXELS if pil_format == "JPEG" else MAX_PAGE_PIXELS
            if width * height > limit:
                raise DocumentError(
                    too_many_pixels_message(f"{width} × {height}", limit=limit), param=BUDGET_PARAM
                )
            frames.append(
                _Frame(
                    pixels=width * height,
                    bilevel=image.mode == "1",
                    copied=_img2pdf_copies(image, data=data),
                )
            )
    return frames


def _img2pdf_copies(image: Image.Image, *, data: bytes) -> bool:
    """Whether img2pdf copies the current frame's data into the PDF instead of re-encoding it
    (the same tests img2pdf makes), and, for a Group 4 strip, whether the strip is in the file."""
    if image.format == "JPEG":
        return True
    if image.format == "PNG":
        interlaced = data[28] != 0
        icc_palette = image.mode == "P" and "icc_profile" in image.info
        return not (interlaced or icc_palette or _has_alpha(image))
    tags = image.tag_v2  # type: ignore[attr-defined]
    offsets, lengths = tags.get(_STRIP_OFFSETS, ()), tags.get(_STRIP_BYTE_COUNTS, ())
    return (
        image.info.get("compression") == "group4"
        and len(offsets) == len(lengths) == 1
        and offsets[0] + lengths[0] <= len(data)
        and tags.get(_PHOTOMETRIC, 0) in (0, 1)
        and tags.get(_FILL_ORDER, 1) in (1, 2)
    )


def _check_jpeg_is_whole(data: bytes) -> None:
    """Read all of a JPEG's compressed data, to refuse a truncated one, without decoding it at
    full size: at an eighth of its width and height, a 64th of the pixels."""
    with Image.open(io.BytesIO(data), formats=["JPEG"]) as image:
        image.draft(image.mode, (max(1, image.width // 8), max(1, image.height // 8)))
        image.load()


def _check_decoding_budget(frames: list[_Frame]) -> None:
    """Refuse an image whose frames would take more than MAX_DECODED_PIXELS to decode."""
    cost = sum(frame.decoding_cost for frame in frames)
    if cost > MAX_DECODED_PIXELS:
        raise DocumentError(
            f"The image is too large to convert: that means decoding {millions(cost)} million "
            "pixels (a black-and-white pixel counts as a fifth), and an image may need at most "
            f"{millions(MAX_DECODED_PIXELS)} million, about "
            f"{MAX_DECODED_PIXELS // FAX_PAGE_PIXELS} pages at fax resolution or "
            f"{MAX_DECODED_PIXELS * BILEVEL_DISCOUNT // FAX_PAGE_PIXELS} in black and white. "
            "Send it as a PDF, or split it into several faxes.",
            param=BUDGET_PARAM,
        )


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in _ALPHA_MODES or "transparency" in image.info


def _try_img2pdf(data: bytes) -> bytes | None:
    """Convert `data` as it is, or return None when img2pdf refuses it. A Celery time limit
    reached meanwhile is not a refusal: it propagates."""
    try:
        return _convert_with_img2pdf(data)
    except SoftTimeLimitExceeded:
        raise
    except Exception as error:
        logger.info("img2pdf refused an image (%s); redrawing it.", type(error).__name__)
        return None


def _convert_with_img2pdf(*images: bytes) -> bytes:
    return img2pdf.convert(*images, layout_fun=_LETTER_LAYOUT, rotation=img2pdf.Rotation.ifvalid)


def _redraw(data: bytes, *, pil_format: str, count: int, unreadable: str) -> list[bytes]:
    """Decode the first `count` frames, one at a time, and redraw each as a PNG page."""
    pages = []
    with Image.open(io.BytesIO(data), formats=[pil_format]) as image:
        for index in range(count):
            with library_errors(unreadable):
                image.seek(index)
                image.load()
            with library_errors(f"The {pil_format} image could not be converted to PDF."):
                pages.append(_as_png(image))
    return pages


def _as_png(frame: Image.Image) -> bytes:
    """`frame` as a PNG that img2pdf copies without decoding: upright, opaque, in mode 1 or L,
    at the frame's resolution, with an empty EXIF chunk ahead of the pixels (without one, img2pdf
    decodes the whole PNG looking for EXIF data after them)."""
    page = _flatten(_upright(frame))
    dpi = frame.info.get("dpi")
    options = {"dpi": dpi} if dpi and min(dpi) > 0 else {}
    buffer = io.BytesIO()
    page.save(buffer, format="PNG", compress_level=1, exif=_NO_EXIF, **options)
    return buffer.getvalue()


def _upright(frame: Image.Image) -> Image.Image:
    """`frame` turned as its EXIF orientation says (exif_transpose copies even an upright one)."""
    if frame.getexif().get(ExifTags.Base.Orientation, 1) == 1:
        return frame
    return ImageOps.exif_transpose(frame)


def _flatten(frame: Image.Image) -> Image.Image:
    """Return `frame` in mode 1 or L, with transparency composited onto white paper."""
    if _has_alpha(frame):
        rgba = frame if frame.mode == "RGBA" else frame.convert("RGBA")
        paper = Image.new("L", rgba.size, 255)
        paper.paste(rgba.convert("L"), mask=rgba.getchannel("A"))
        return paper
    if frame.mode in _DEEP_GRAY_MODES:
        return _to_8_bit_gray(frame)
    if frame.mode in ("1", "L"):
        return frame
    return frame.convert("L")


def _to_8_bit_gray(frame: Image.Image) -> Image.Image:
    """Scale 16- and 32-bit grey so that the brightest sample becomes white.

    Pillow's own conversion clips instead, which turns most deep images white; scaling to the
    brightest sample also keeps 12-bit scans (common in medical imaging) visible.
    """
    wide = frame.convert("F")
    _, brightest = wide.getextrema()
    scale = 255 / brightest if brightest > 0 else 1.0
    return wide.point(lambda value: value * scale).convert("L")
