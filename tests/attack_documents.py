"""Small files that declare a great many pixels, built in memory for the upload-budget tests.

Pillow would take seconds to encode such files frame by frame, so they are assembled by hand: a
TIFF whose frames all point at one compressed strip, and a PNG whose rows are compressed as a
stream. Both are valid files that any decoder would decode in full. Each is built once per run.
"""

from __future__ import annotations

import functools
import io
import struct
import zlib

import pytest
from PIL import Image, TiffImagePlugin

# TIFF tag numbers and field types.
_WIDTH, _HEIGHT, _BITS, _COMPRESSION, _PHOTOMETRIC = 256, 257, 258, 259, 262
_STRIP_OFFSETS, _SAMPLES, _ROWS_PER_STRIP, _STRIP_BYTES = 273, 277, 278, 279
_SHORT, _LONG = 3, 4
_COMPRESSION_CODES = {"group3": 3, "group4": 4, "tiff_lzw": 5, "raw": 1}


@functools.cache
def multi_frame_tiff(
    size: tuple[int, int], frames: int, *, mode: str = "1", compression: str = "group4"
) -> bytes:
    """A little-endian TIFF of `frames` blank frames of `size`, all sharing one strip.

    `mode` is "1" (black and white) or "L" (grey).
    """
    return tiff_of_frames((size,) * frames, mode=mode, compression=compression)


@functools.cache
def tiff_of_frames(
    sizes: tuple[tuple[int, int], ...], *, mode: str = "1", compression: str = "group4"
) -> bytes:
    """A little-endian TIFF with a blank frame of each size; frames of one size share a strip."""
    out = bytearray(b"II*\x00\x00\x00\x00\x00")
    strips: dict[tuple[int, int], tuple[int, int]] = {}
    for size in dict.fromkeys(sizes):
        strip = _one_strip(size, mode=mode, compression=compression)
        strips[size] = (len(out), len(strip))
        out += strip + b"\x00" * (len(strip) % 2)
    struct.pack_into("<I", out, 4, len(out))
    for index, (width, height) in enumerate(sizes):
        offset, length = strips[(width, height)]
        tags = [
            (_WIDTH, _LONG, width),
            (_HEIGHT, _LONG, height),
            (_BITS, _SHORT, 1 if mode == "1" else 8),
            (_COMPRESSION, _SHORT, _COMPRESSION_CODES[compression]),
            (_PHOTOMETRIC, _SHORT, 1),  # Black is zero, as Pillow writes it.
            (_STRIP_OFFSETS, _LONG, offset),
            (_SAMPLES, _SHORT, 1),
            (_ROWS_PER_STRIP, _LONG, height),
            (_STRIP_BYTES, _LONG, length),
        ]
        out += struct.pack("<H", len(tags))
        for tag, kind, value in tags:
            packed = struct.pack("<HH", value, 0) if kind == _SHORT else struct.pack("<I", value)
            out += struct.pack("<HHI", tag, kind, 1) + packed
        last = index == len(sizes) - 1
        out += struct.pack("<I", 0 if last else len(out) + 4)
    return bytes(out)


def _one_strip(size: tuple[int, int], *, mode: str, compression: str) -> bytes:
    """The compressed data of a blank (white) frame, encoded by Pillow as a single strip."""
    buffer = io.BytesIO()
    options = {} if compression == "raw" else {"compression": compression}
    Image.new(mode, size, 255).save(buffer, format="TIFF", strip_size=2**31 - 1, **options)
    data = buffer.getvalue()
    # Read the tags without Image.open, whose decompression-bomb check refuses large frames.
    tags = TiffImagePlugin.ImageFileDirectory_v2(data[:8])
    buffer.seek(struct.unpack("<I", data[4:8])[0])
    tags.load(buffer)
    (offset,), (length,) = tags[_STRIP_OFFSETS], tags[_STRIP_BYTES]
    return data[offset : offset + length]


@functools.cache
def transparent_png(size: tuple[int, int]) -> bytes:
    """A fully transparent 8-bit RGBA PNG of `size`: under a megabyte for tens of millions of
    pixels (zlib's fastest level: a tighter one takes seconds longer to build it)."""
    width, height = size
    row = b"\x00" * (1 + 4 * width)  # Filter type 0, then RGBA samples of 0.
    compressor = zlib.compressobj(1)
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", pixels)
        + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def record_decoders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the name of every pixel decoder Pillow creates from now on (one per frame it
    decodes, in any plugin, img2pdf's use included); decoding still works."""
    created: list[str] = []
    real = Image._getdecoder

    def spy(mode: str, decoder_name: str, *args: object, **kwargs: object) -> object:
        created.append(decoder_name)
        return real(mode, decoder_name, *args, **kwargs)

    monkeypatch.setattr(Image, "_getdecoder", spy)
    return created
