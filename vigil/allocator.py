"""Memory that the C allocator keeps after Python frees it, handed back to the system.

A long-running server creeps without this. Its threads (SQLite connections, the probe of
each new segment, snapshot decoding, frames handed to the detector's workers) each
allocate from a glibc arena of their own, and glibc returns a freed block to the system
only from the top of an arena; and after a large block is freed it raises its mmap
threshold (up to 32 MiB), so later large buffers land in the arenas too. The soak
benchmark (``bench/soak.py``: the demo's four cameras with detection, viewers and API
polling) saw the server's RSS grow about 16 MiB an hour while the Python heap
(tracemalloc) stayed flat, and glibc's ``malloc_stats`` showed thread arenas of 8-11 MB
each with 0.3 MB in use; ``malloc_trim(0)`` gave 33 MB back at once.

So: a fixed mmap threshold sends every block of 320 KiB or more (frames, decoded pictures,
file reads) to its own mapping, returned to the system when freed; the threads share two
arenas at most instead of one each (glibc makes up to eight per core); and a trim every
minute returns what the arenas hold free. Where the C library is not glibc, nothing is done.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import functools
import logging

log = logging.getLogger(__name__)

# mallopt(3) parameters (glibc's malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
# Blocks from this size get a mapping of their own, fixed (setting it turns off glibc's
# dynamic raise, up to 32 MiB). Above 256 KiB: asyncio reads a socket into a fresh 256 KiB
# block each time, and at glibc's initial 128 KiB each of those was a mapping faulted in page
# by page and unmapped again (interrupting every core): a server receiving a 2 GiB upload
# spent 13.5 s in the kernel and took half the speed. Not much higher: the detector's frames
# (345,600 bytes at 640x360) and other large buffers keep mappings of their own, which is
# what held the soak's memory (at 4 MiB it crept twice as fast). A free block at the top of
# the heap is kept up to ``TRIM_THRESHOLD`` (4 MiB: no shrinking and growing again for each
# read); the minute's trim returns the rest.
MMAP_THRESHOLD = 320 * 1024
TRIM_THRESHOLD = 4 * 1024 * 1024
# The main thread's arena and one that every other thread shares. Each arena keeps its own
# free space between live blocks, which no trim returns: over the soak's hours the thread
# arenas (up to 16 on two cores) were what still grew. The threads here are few and spend
# little time in malloc, so sharing one costs nothing measurable.
ARENA_MAX = 2
TRIM_SECONDS = 60.0


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim, nor macOS)
        return None
    return libc


def tune() -> bool:
    """Fix the mmap and trim thresholds and the number of arenas; False where the allocator
    is not glibc's. Arenas made before stay: call it before threads start."""
    libc = _glibc()
    if libc is None:
        return False
    return bool(
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
        and libc.mallopt(M_ARENA_MAX, ARENA_MAX)
    )


def trim() -> bool:
    """Return the free memory of every arena to the system; True if some was."""
    libc = _glibc()
    return libc is not None and bool(libc.malloc_trim(0))


async def trim_every(seconds: float = TRIM_SECONDS) -> None:
    """Trim until cancelled (in steady state a trim takes about a millisecond: a minute's
    freed memory; the first after a large release, e.g. 480 MiB, some 170 ms)."""
    if not tune():
        log.debug("not glibc's allocator: freed memory is left to the C library")
        return
    while True:
        await asyncio.sleep(seconds)
        await asyncio.to_thread(trim)  # off the event loop: it locks each arena in turn
