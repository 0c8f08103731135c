"""glibc malloc settings for a long-running threaded server (no-ops on other C libraries).

Jobs in the embedded store come and go in bursts; what Python frees goes back to
malloc, and whether RSS follows depends on two glibc behaviours:

- arenas: glibc gives threads their own heaps, up to 8 per core, and memory freed in
  one is not reused by another. Under the GIL, threads gain nothing from that, so the
  web process keeps it at 2 (what MALLOC_ARENA_MAX=2 does, which Heroku recommends
  for the same reason); measured after 100 000 expired jobs: RSS 1.19x fresh with
  glibc's default, 1.11x with 2 (BENCHMARKS.md). An operator's MALLOC_ARENA_MAX wins.
- trimming: free pages inside the heap are returned only by malloc_trim.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os

ARENA_MAX = 2
_M_ARENA_MAX = -8  # mallopt's parameter number, from glibc's malloc.h


def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


_LIBC = _libc()


def limit_arenas() -> None:
    """At most ARENA_MAX malloc arenas, unless MALLOC_ARENA_MAX says otherwise.

    Call it before threads start (gunicorn.conf.py does, in the master); forked
    workers inherit it.
    """
    if _LIBC is not None and not os.environ.get("MALLOC_ARENA_MAX"):
        _LIBC.mallopt(_M_ARENA_MAX, ARENA_MAX)


def release_free_heap() -> None:
    """Give free heap pages back to the OS (glibc's malloc_trim)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
