"""The process's one thread pool for per-sensor numpy work, and forked workers for work that
holds the GIL.

Algorithms never create a pool per call: they hand independent per-role work to
:func:`pool_map`, which runs it on one shared :class:`~concurrent.futures.ThreadPoolExecutor`
made on first use (numpy releases the GIL in its larger operations, so per-sensor work
overlaps). Work submitted from inside a pool thread runs inline in that thread, so nested use
cannot deadlock. Work that holds the GIL (the compiled fusion filters: ``vqf`` does) goes to
:func:`fork_map`, one forked child process per item. Results are the same as a plain loop's,
in the same order.
"""

from __future__ import annotations

import os
import sys
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


# ------------------------------------------------------------------ forked worker processes --
#: set in a forked child: nested :func:`fork_map` calls run inline there
_in_child = False


def _reset_in_child() -> None:
    """After a fork the child has none of the parent's pool threads: start a fresh pool on
    first use, and never fork again from it."""
    global _pool, _lock, _in_child, _reap_lock
    _pool = None
    _lock = threading.Lock()
    _in_child = True
    _unreaped.clear()  # (the parent's children, not this process's)
    _reap_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_in_child)


def can_fork() -> bool:
    """Whether :func:`fork_map` runs items in child processes here: Linux with more than one
    CPU, not inside a forked child, and not switched off (``IMU_FORK=0``).

    A busy machine is no reason to fall back to threads: the work holds the GIL, so threads
    run it about one core at a time, while forked children share the CPUs with whatever else
    runs (on the 1 h angles bench at a load average of 3 on 2 CPUs, forked workers took 3.9–4.2
    s where threads took 4.5–5.9 s; a fork of the process costs about 4 ms)."""
    mode = os.environ.get("IMU_FORK", "1")
    return (sys.platform.startswith("linux") and hasattr(os, "fork") and not _in_child
            and (os.cpu_count() or 1) > 1 and mode != "0")


#: in a forked child: the pipe its parent sends ``then``'s result through (None: nothing sent)
_inbox_fd: int | None = None
#: in a forked child: ``(result,)`` read from the inbox
_received: tuple | None = None


def received():
    """The result of the ``then`` callable of the :func:`fork_map` running this item: the
    parent computes it while the items run, and this waits for it (in a forked child) or
    returns it (items on threads run after it is known; each item's thread sees its own
    call's). None without a ``then``."""
    global _inbox_fd, _received
    here = getattr(_local, "message", None)
    if here is not None:
        return here[0]
    if _inbox_fd is not None:
        import pickle

        with os.fdopen(_inbox_fd, "rb") as f:
            data = f.read()
        _inbox_fd = None
        if not data:
            raise RuntimeError("the parent process sent nothing (it stopped)")
        _received = (pickle.loads(data),)
    return None if _received is None else _received[0]


def _run_with_message(fn, item, message):
    """``fn(item)`` in this thread, :func:`received` giving ``message[0]`` meanwhile (None:
    nothing was sent)."""
    before = getattr(_local, "message", None)
    _local.message = message
    try:
        return fn(item)
    finally:
        _local.message = before


def fork_map(fn: Callable[[T], R], items: Iterable[T], min_items: int = 2, *,
             then: Callable[[], object] | None = None, last_here: bool = False) -> list[R]:
    """``[fn(x) for x in items]``, each item in a forked child process.

    For work that holds the GIL (the compiled fusion filters): each child inherits the
    parent's memory (copy-on-write, so large inputs are not copied or pickled), runs
    ``fn(item)`` and sends its result back pickled through a pipe. All children run at once;
    the operating system shares the CPUs between them. Where processes cannot be forked
    (:func:`can_fork` is False) the items run on the thread pool (:func:`pool_map`) instead;
    the results are the same either way, in the order of ``items``.

    An exception in a child is raised again in the parent (the same exception when it can be
    pickled, else a RuntimeError naming it). Call from the main thread: a child of a thread
    that another thread holds a lock against could wait for ever. A child that has sent its
    result is not waited for while the kernel releases its memory: it is reaped by a later
    call (:func:`reap_finished`).

    Parameters
    ----------
    fn : callable
        Returns a picklable result.
    items : iterable
    min_items : int
        Fewer items than this run on the thread pool.
    then : callable, optional
        Work for the parent while the children run (its result, picklable, is what
        :func:`received` returns in each item): the children start first, so their work up
        to their :func:`received` call overlaps it. Where the items run on threads it runs
        first. A child that does not ask for it still waits for it before it ends.
    last_here : bool
        Run the last item in this process (after ``then``) while the children run the
        others: one fork fewer, and its result is not sent through a pipe.
    """
    global _inbox_fd
    reap_finished()
    items = list(items)
    if (len(items) < max(min_items, 2) or not can_fork()
            or threading.current_thread() is not threading.main_thread()):
        if then is None:
            return pool_map(fn, items, min_items)
        message = (then(),)
        return pool_map(lambda x: _run_with_message(fn, x, message), items, min_items)
    import pickle

    children = []  # (pid, read fd)
    inboxes = []  # write ends of the children's inboxes (with then)
    try:
        for item in (items[:-1] if last_here else items):
            r, w = os.pipe()
            box_r, box_w = os.pipe() if then is not None else (None, None)
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:  # the child: compute, send, leave without running the parent's exit
                code = 0
                try:
                    os.close(r)
                    for fd in inboxes + ([box_w] if box_w is not None else []):
                        os.close(fd)  # the other children's inboxes, and its own writing end
                    _inbox_fd = box_r
                    try:
                        result = fn(item)
                        if _inbox_fd is not None:  # never asked: wait for the parent all the same
                            received()
                        payload = (True, result)
                    except BaseException as exc:  # noqa: BLE001 - handed to the parent
                        code = 1
                        try:
                            pickle.dumps(exc)
                            payload = (False, exc)
                        except Exception:  # noqa: BLE001
                            payload = (False, RuntimeError(f"{type(exc).__name__}: {exc}"))
                    with os.fdopen(w, "wb") as f:
                        pickle.dump(payload, f, protocol=pickle.HIGHEST_PROTOCOL)
                    sys.stderr.flush()
                except BaseException:  # noqa: BLE001
                    code = 2
                finally:
                    os._exit(code)
            os.close(w)
            children.append((pid, r))
            if box_r is not None:
                os.close(box_r)
                inboxes.append(box_w)
        message = None
        if then is not None:
            message = (then(),)
            data = pickle.dumps(message[0], protocol=pickle.HIGHEST_PROTOCOL)
            for fd in inboxes:
                try:
                    with os.fdopen(fd, "wb") as f:
                        f.write(data)
                except BrokenPipeError:  # that child has failed already: its error follows
                    pass
            inboxes = []
        here = [(True, _run_with_message(fn, items[-1], message))] if last_here else []
        results = []
        for pid, r in children:
            with os.fdopen(r, "rb", buffering=1 << 20) as f:
                try:
                    ok, value = pickle.load(f)
                except Exception as exc:  # noqa: BLE001 - died, or a result that cannot load
                    ok, value = False, RuntimeError(f"a worker process gave no result ({exc!r})")
            results.append((ok, value))
        results += here
        children_left = children
        children = []
        # every result is in: a child still releasing its memory is not waited for here (the
        # kernel frees it on the other CPU while this process goes on); reaped later
        for pid, _ in children_left:
            _reap_later(pid)
    finally:
        import signal

        for fd in inboxes:  # then() failed: the children read an empty inbox and stop
            try:
                os.close(fd)
            except OSError:
                pass
        for pid, r in children:  # interrupted: stop and reap every child still running
            for act in (lambda: os.close(r), lambda: os.kill(pid, signal.SIGTERM),
                        lambda: os.waitpid(pid, 0)):
                try:
                    act()
                except OSError:
                    pass
    for ok, value in results:
        if not ok:
            raise value
    return [v for _, v in results]


#: children of :func:`fork_map` that sent their result but had not ended when it returned
_unreaped: list[int] = []
_reap_lock = threading.Lock()


def _reap_later(pid: int) -> None:
    """Reap ``pid`` now if it has ended, else remember it for :func:`reap_finished`."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # reaped elsewhere already
        return
    if not done:
        with _reap_lock:
            _unreaped.append(pid)


def reap_finished(wait: bool = False) -> None:
    """Reap the :func:`fork_map` children that have ended since (``wait``: wait for every one;
    at exit, so none is left behind)."""
    with _reap_lock:  # (fork_map may run on several threads at once)
        for pid in list(_unreaped):
            try:
                done, _ = os.waitpid(pid, 0 if wait else os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                _unreaped.remove(pid)


def shared_empty(shape, dtype=float):
    """An uninitialised array in memory shared with forked children (anonymous shared
    mapping): what a :func:`fork_map` child writes into it, the parent sees, with nothing
    pickled. Freed with the array."""
    import mmap

    import numpy as np

    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    dt = np.dtype(dtype)
    n = int(np.prod(shape, dtype=np.int64))
    if n == 0:
        return np.empty(shape, dt)
    buf = mmap.mmap(-1, n * dt.itemsize)
    return np.frombuffer(buf, dtype=dt, count=n).reshape(shape)
