"""The lake run's driver hands freed memory back to the system between steps."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from valueseg.lake import memory


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or memory._trim() is None,
    reason="reads /proc and needs glibc's malloc_trim",
)
def test_freed_small_arrays_go_back_to_the_system() -> None:
    """Many small arrays (as a step's frames leave behind) freed by Python stay in the C
    heap until :func:`memory.release` trims it."""
    memory.release()
    arrays = [np.ones(1_000) for _ in range(40_000)]  # about 330 MB in 8 kB blocks
    kept = np.ones(1_000)  # still held, above them: free() alone cannot shrink the heap
    held = _rss_mb()
    del arrays
    freed = _rss_mb()
    memory.release()
    after = _rss_mb()
    assert held - after > 200, (held, freed, after)
    assert freed - after > 100, (held, freed, after)
    assert kept.sum() == 1_000
