"""Handing the driver's freed memory back to the system between the lake run's steps.

The driver's steps each build large frames and drop them (the value models' patterns, the
learners' cutoff tables); Python frees them, but the C allocator keeps much of the freed
memory for reuse, so the process stays as large as its largest step and the next step's
peak lands on top of it. :func:`release` collects garbage, returns Arrow's unused pool
and asks glibc to trim its heap (``malloc_trim``; nothing on other C libraries).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from collections.abc import Callable
from functools import cache
from typing import Any

__all__ = ["release"]


@cache
def _trim() -> Callable[[int], Any] | None:
    """glibc's ``malloc_trim`` (None where the C library has none)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], Any] = ctypes.CDLL(name).malloc_trim
        return trim
    except (OSError, AttributeError):
        return None


def release() -> None:
    """Free what the driver no longer holds and give it back to the system."""
    gc.collect()
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except ImportError:
        pass
    trim = _trim()
    if trim is not None:
        trim(0)
