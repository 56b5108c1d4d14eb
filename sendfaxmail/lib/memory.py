"""Memory that large requests free goes back to the operating system."""

from __future__ import annotations

import ctypes
import ctypes.util

# glibc's mallopt() parameter for the size from which blocks are mapped (mmap) on their own.
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 1024 * 1024


def return_large_blocks() -> bool:
    """Serve every block of 1 MiB or more with its own mapping, unmapped when freed.

    glibc starts so at 128 KiB, but each large block freed raises the threshold to its size (up
    to 32 MiB): after one 20 MB document, the next request's body, base64 text and document
    came from the heap, whose pages a process keeps, and a web worker stayed about 100 MB larger
    after each run of large sends (bench/faxes_send.py). Setting the threshold turns that
    adjustment off. Returns False where the C library has no mallopt() (not glibc).
    """
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
