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
