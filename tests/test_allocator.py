"""Freed memory of the server's threads goes back to the system (the soak's creep)."""

from __future__ import annotations

import subprocess
import sys

# In a process of its own, so that its arenas hold only what this test puts there: a
# thread allocates 125 MiB in blocks below the mmap threshold and keeps one in fifty, so
# the freed space lies between live blocks, where glibc never returns it by itself.
CHURN = """
import threading
import psutil
from vigil import allocator

assert allocator.tune()
kept = []

def churn():
    blocks = [bytearray(64 * 1024) for _ in range(2000)]
    kept.extend(blocks[::50])

thread = threading.Thread(target=churn)
thread.start()
thread.join()
rss = psutil.Process().memory_info().rss
allocator.trim()
print((rss - psutil.Process().memory_info().rss) / 2**20)
"""


def test_a_trim_returns_what_a_thread_freed_between_live_blocks() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHURN], capture_output=True, text=True, check=True, timeout=60
    )
    returned_mib = float(done.stdout)
    assert returned_mib > 100  # of the 122.5 MiB freed


# Eight threads that each allocate while the others do: glibc gives each one an arena of its
# own unless told otherwise. The arenas are counted in malloc_info's report.
ARENAS = """
import ctypes
import threading
from vigil import allocator

if {tune}:
    assert allocator.tune()
libc = ctypes.CDLL("libc.so.6")
libc.open_memstream.restype = ctypes.c_void_p
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
start = threading.Barrier(8)
done = threading.Barrier(9)

def allocate():
    start.wait()
    blocks = [bytearray(4096) for _ in range(20000)]
    done.wait()
    del blocks

threads = [threading.Thread(target=allocate) for _ in range(8)]
for thread in threads:
    thread.start()
done.wait()
text = ctypes.c_char_p()
size = ctypes.c_size_t()
stream = libc.open_memstream(ctypes.byref(text), ctypes.byref(size))
libc.malloc_info(0, stream)
libc.fclose(stream)
print(text.value.decode().count("<heap nr="))
"""


def _arenas(tune: bool) -> int:
    done = subprocess.run(
        [sys.executable, "-c", ARENAS.format(tune=tune)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return int(done.stdout)


def test_the_threads_share_two_arenas_instead_of_one_each() -> None:
    assert _arenas(tune=False) > 4  # glibc's own way: an arena per busy thread
    assert _arenas(tune=True) <= 2
