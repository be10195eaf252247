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


def test_fork_map_uses_threads_when_no_cpu_is_spare(monkeypatch):
    monkeypatch.setenv("IMU_FORK", "1")
    monkeypatch.setattr(workers.os, "getloadavg", lambda: (99.0, 99.0, 99.0))
    assert not workers.can_fork()
    assert workers.fork_map(lambda _: os.getpid(), [0, 1]) == [os.getpid()] * 2
