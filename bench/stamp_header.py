"""What does stamping the header line cost? `stamp_header` on a 350-page document (the most a fax
may have), pages of text and pages carrying a scanned image, as they come from customers.

It builds the document, stamps it once to warm up, then `--rounds` times, and prints the median
time and the peak resident memory the stamping added (VmHWM after minus VmRSS before, with the
document already in memory). Goal: under 2 s and under 200 MB on the 2-core test machine.
`--size-mb 19` stamps instead a one-page document of that many MB (an uncompressed scan), the
largest a download stamps. Needs nothing but the venv:

    .venv/bin/python bench/stamp_header.py [--rounds 5] [--pages 350] [--size-mb 19]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _memory(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) * 1024
    return 0


def _document(pages: int) -> bytes:
    """Half text pages, half pages with a 1700 x 2200 greyscale image (a scanned page)."""
    from PIL import Image
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    scan = io.BytesIO()
    Image.effect_noise((1700, 2200), 40).save(scan, format="PNG")
    image = ImageReader(io.BytesIO(scan.getvalue()))
    out = io.BytesIO()
    drawing = canvas.Canvas(out, pagesize=(612, 792))
    for number in range(pages):
        if number % 2:
            drawing.drawImage(image, 0, 0, width=612, height=792)
        else:
            for line in range(50):
                drawing.drawString(72, 720 - line * 13, f"Page {number} line {line} " * 4)
        drawing.showPage()
    drawing.save()
    return out.getvalue()


def _large_document(size: int) -> bytes:
    """One page carrying an uncompressed greyscale image of about `size` bytes."""
    import pikepdf

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pages", type=int, default=350)
    parser.add_argument("--size-mb", type=float, default=None)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    from faxes.documents.compose import stamp_header

    if args.size_mb:
        document = _large_document(int(args.size_mb * 1e6))
        args.pages = 1
    else:
        document = _document(args.pages)
    text = "2026-11-30 07:05 EST   Acme Clinic   Fax +15550100001"
    before = _memory("VmRSS:")
    stamp_header(document, text=text)
    peak = _memory("VmHWM:") - before
    times = []
    for _ in range(args.rounds):
        started = time.perf_counter()
        stamp_header(document, text=text)
        times.append(time.perf_counter() - started)
    print(f"document: {args.pages} pages, {len(document) / 1e6:.1f} MB")
    print(f"stamp_header: median {statistics.median(times):.2f} s over {args.rounds} rounds")
    print(f"peak memory added: {peak / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
