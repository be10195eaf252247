"""The process's one thread pool for per-sensor numpy work.

Algorithms never create a pool per call: they hand independent per-role work to
:func:`pool_map`, which runs it on one shared :class:`~concurrent.futures.ThreadPoolExecutor`
made on first use (numpy and the compiled fusion filters release the GIL, so per-sensor work
overlaps). Work submitted from inside a pool thread runs inline in that thread, so nested use
cannot deadlock. Results are the same as a plain loop's, in the same order.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: workers of the shared pool: one per sensor role at least (4), else one per CPU
MAX_WORKERS = max(4, os.cpu_count() or 1)

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_local = threading.local()


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=MAX_WORKERS, thread_name_prefix="imu-worker",
                                       initializer=_mark_worker)
        return _pool


def _mark_worker() -> None:
    _local.in_pool = True


def pool_map(fn: Callable[[T], R], items: Iterable[T], min_items: int = 2) -> list[R]:
    """``[fn(x) for x in items]``, the items in parallel on the shared pool.

    Parameters
    ----------
    fn : callable
    items : iterable
    min_items : int
        Fewer items than this run inline (no hand-over cost for a single item).

    Returns
    -------
    list
        Results in the order of ``items``.
    """
    items = list(items)
    if len(items) < max(min_items, 2) or getattr(_local, "in_pool", False):
        return [fn(x) for x in items]
    return list(_executor().map(fn, items))
