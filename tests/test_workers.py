"""imu.workers: the shared thread pool and forked workers give a plain loop's results."""

import os

import numpy as np
import pytest

from imu import workers


@pytest.fixture(autouse=True)
def _fork_whatever_the_load(monkeypatch):
    monkeypatch.setenv("IMU_FORK", "always")  # a busy machine would otherwise use threads


def _square_sum(k):
    return float(np.sum(np.arange(k, dtype=float) ** 2))


def test_fork_map_results_in_order_as_a_loop():
    items = [10, 3, 1000, 7]
    assert workers.fork_map(_square_sum, items) == [_square_sum(k) for k in items]


def test_fork_map_children_see_the_parents_memory():
    big = np.random.default_rng(1).normal(size=(200_000, 3))  # inherited, never pickled

    def col_sum(j):
        return big[:, j].sum()

    assert workers.fork_map(col_sum, [0, 1, 2]) == [col_sum(j) for j in range(3)]


def test_fork_map_raises_the_childs_exception():
    def boom(k):
        if k == 2:
            raise KeyError(f"item {k}")
        return k

    with pytest.raises(KeyError, match="item 2"):
        workers.fork_map(boom, [1, 2, 3])


def test_fork_map_runs_items_in_other_processes():
    if not workers.can_fork():
        pytest.skip("processes cannot fork here")
    pids = workers.fork_map(lambda _: os.getpid(), [0, 1])
    assert os.getpid() not in pids and len(set(pids)) == 2


def test_fork_map_without_fork_uses_threads(monkeypatch):
    monkeypatch.setenv("IMU_FORK", "0")
    assert not workers.can_fork()
    assert workers.fork_map(lambda _: os.getpid(), [0, 1]) == [os.getpid()] * 2


def test_shared_arrays_carry_what_children_write():
    out = workers.shared_empty((4, 3))

    def fill(k):
        out[k] = k + 0.5

    workers.fork_map(fill, range(4))
    assert np.array_equal(out, np.repeat(np.arange(4) + 0.5, 3).reshape(4, 3))


def test_fork_map_forks_on_a_busy_machine_too(monkeypatch):
    # the work holds the GIL: threads would run it one core at a time whatever the load
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one CPU: items run on threads")
    monkeypatch.setenv("IMU_FORK", "1")
    monkeypatch.setattr(workers.os, "getloadavg", lambda: (99.0, 99.0, 99.0))
    assert workers.can_fork()
    pids = workers.fork_map(lambda _: os.getpid(), [0, 1])
    assert os.getpid() not in pids


def _wait_and_read(k):
    return k, workers.received()


@pytest.mark.parametrize("fork", ["always", "0"])
def test_fork_map_then_result_reaches_every_item(monkeypatch, fork):
    monkeypatch.setenv("IMU_FORK", fork)
    calls = []

    def then():
        calls.append(os.getpid())
        return {"windows": [(1.0, 2.5)]}

    out = workers.fork_map(_wait_and_read, [1, 2, 3], then=then)
    assert out == [(k, {"windows": [(1.0, 2.5)]}) for k in (1, 2, 3)]
    assert calls == [os.getpid()]  # computed once, by the parent
    assert workers.received() is None  # nothing left over for a later call


def test_fork_map_then_large_result_and_items_that_never_ask():
    big = "x" * 300_000  # larger than a pipe's buffer
    assert [len(m) for _, m in workers.fork_map(_wait_and_read, [0, 1], then=lambda: big)] \
        == [300_000, 300_000]
    assert workers.fork_map(_square_sum, [3, 4], then=lambda: big) == [5.0, 14.0]


def _child_pids() -> set:
    pids = set()
    for task in os.listdir(f"/proc/{os.getpid()}/task"):
        try:
            with open(f"/proc/{os.getpid()}/task/{task}/children") as f:
                pids.update(int(p) for p in f.read().split())
        except OSError:
            pass
    return pids


def test_fork_map_then_failure_stops_the_children_and_raises():
    def then():
        raise ValueError("no standing found")

    before = _child_pids()
    with pytest.raises(ValueError, match="no standing found"):
        workers.fork_map(_wait_and_read, [1, 2], then=then)
    assert _child_pids() <= before  # its children stopped and reaped


def test_fork_map_then_on_threads_each_call_gets_its_own_result(monkeypatch):
    # e.g. sessions analysed at once on Dask's worker threads: no call sees another's result
    import threading

    monkeypatch.setenv("IMU_FORK", "0")
    out = {}

    def one(k):
        out[k] = workers.fork_map(lambda x: (x, workers.received()), [0, 1, 2],
                                  then=lambda: f"message {k}")

    threads = [threading.Thread(target=one, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == {k: [(x, f"message {k}") for x in range(3)] for k in range(8)}


def test_fork_map_item_failure_with_then_raises_the_items_error():
    def boom(k):
        if k == 1:
            raise KeyError("item 1")
        return workers.received()

    with pytest.raises(KeyError, match="item 1"):
        workers.fork_map(boom, [0, 1, 2], then=lambda: "m")
def test_fork_map_with_the_last_item_here_gives_the_loops_results():
    items = [10, 3, 1000, 7]
    pid = os.getpid()
    assert workers.fork_map(_square_sum, items, last_here=True) == [_square_sum(k) for k in items]
    assert workers.fork_map(lambda k: os.getpid() == pid, items, last_here=True) == [
        False, False, False, True]


def test_fork_map_raises_the_exception_of_the_item_run_here():
    def boom(k):
        if k == 7:
            raise KeyError(f"item {k}")
        return k

    with pytest.raises(KeyError, match="item 7"):
        workers.fork_map(boom, [1, 2, 7], last_here=True)


def test_fork_map_item_run_here_receives_what_then_gave():
    pid = os.getpid()
    got = workers.fork_map(lambda k: (k, workers.received(), os.getpid() == pid), [1, 2, 3],
                           then=lambda: "hold", last_here=True)
    assert got == [(1, "hold", False), (2, "hold", False), (3, "hold", True)]


def test_fork_map_children_left_ending_are_reaped_later_from_any_thread():
    # a child that has sent its result is not waited for; the next calls reap it, from
    # several threads at once without tripping over each other, and none is left at the end
    import threading

    assert workers.fork_map(_square_sum, [1, 2, 3]) == [_square_sum(k) for k in (1, 2, 3)]
    errors = []

    def call():
        try:
            workers.fork_map(_square_sum, [4, 5])
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    workers.reap_finished(wait=True)
    assert errors == [] and workers._unreaped == []
