import numpy as np

from imu.live.ringbuffer import RingBuffer


def test_ring_buffer_keeps_newest_rows_in_time_order_across_wraps():
    rb = RingBuffer(["a", "b"], capacity=5)
    for k in range(3):          # 12 rows in blocks of 4: wraps twice
        t = np.arange(4 * k, 4 * k + 4, dtype=float)
        rb.append(t, np.column_stack([t * 10, -t]))
    t, cols = rb.window()
    assert list(t) == [7, 8, 9, 10, 11]
    assert list(cols["a"]) == [70, 80, 90, 100, 110]
    assert list(cols["b"]) == [-7, -8, -9, -10, -11]
    assert rb.latest() == (11.0, {"a": 110.0, "b": -11.0})


def test_ring_buffer_window_selects_span_ending_at_given_time():
    rb = RingBuffer(["x"], capacity=100)
    t = np.arange(50) * 0.1
    rb.append(t, t[:, None])
    tw, cols = rb.window(1.0, end_s=3.0)
    assert np.allclose(tw, np.arange(21, 31) * 0.1)
    assert np.allclose(cols["x"], tw)


def test_ring_buffer_block_larger_than_capacity_keeps_its_tail():
    rb = RingBuffer(["x"], capacity=3)
    rb.append(np.arange(10.0), np.arange(10.0)[:, None])
    t, cols = rb.window()
    assert list(t) == [7, 8, 9] and len(rb) == 3
