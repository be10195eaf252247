"""imu.quat matrix conversions in numpy equal scipy's Rotation (which the angles path no
longer imports)."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from imu import quat as Q


def test_from_matrix_equals_scipy_for_rotations_and_near_rotations():
    m = Rotation.random(500, random_state=3).as_matrix()
    noisy = m + np.random.default_rng(4).normal(0.0, 1e-3, m.shape)  # projected to a rotation
    for mm in (m, noisy):
        want = Q.from_scipy(Rotation.from_matrix(mm))
        assert np.abs(Q.from_matrix(mm) - want).max() < 1e-12
    assert np.allclose(Q.from_matrix(np.eye(3)), [1, 0, 0, 0])
    assert Q.from_matrix(m[0]).shape == (4,)


def test_from_matrix_refuses_a_reflection():
    with pytest.raises(ValueError, match="determinant"):
        Q.from_matrix(np.diag([1.0, 1.0, -1.0]))


def test_to_matrix_equals_scipy_and_normalises():
    q = np.random.default_rng(5).normal(size=(300, 4)) * 3.0
    assert np.abs(Q.to_matrix(q) - Rotation.from_quat(q[:, [1, 2, 3, 0]]).as_matrix()).max() < 1e-12
    assert Q.to_matrix(q[0]).shape == (3, 3)


def test_matrix_elements_are_to_matrix_element_first():
    q = Rotation.random(300, random_state=5).as_quat()[:, [3, 0, 1, 2]] * 1.7  # not unit
    q[7] = np.nan
    m = Q.to_matrix(q)
    e = Q.matrix_elements(q)
    assert e.shape == (3, 3, 300) and e[0, 0].flags["C_CONTIGUOUS"]
    assert np.array_equal(np.moveaxis(e, (0, 1), (-2, -1)), m, equal_nan=True)
    assert np.array_equal(Q.matrix_elements(tuple(q.T)), e, equal_nan=True)
    want = Rotation.from_quat(q[:, [1, 2, 3, 0]][np.arange(300) != 7]).as_matrix()
    assert np.abs(m[np.arange(300) != 7] - want).max() < 1e-12


def test_normalize_gives_unit_rows_for_every_shape():
    rng = np.random.default_rng(6)
    for shape in [(4,), (50, 4), (3, 5, 4), (20, 3)]:
        q = rng.normal(size=shape)
        assert np.allclose(np.linalg.norm(Q.normalize(q), axis=-1), 1.0, atol=1e-15)
        assert np.allclose(Q.normalize(q), q / np.linalg.norm(q, axis=-1, keepdims=True),
                           rtol=0, atol=1e-15)


def test_long_stacks_multiply_block_by_block_with_the_same_numbers():
    from imu.quat import _ROWS, multiply, multiply_parts

    rng = np.random.default_rng(3)
    n = 3 * _ROWS + 17
    a, b = rng.normal(size=(n, 4)), rng.normal(size=(n, 4))
    want = np.stack(multiply_parts(a.T, b.T), axis=-1)  # every row at once
    assert np.array_equal(multiply(a, b), want)
    assert np.array_equal(multiply(a[::-1], b), np.stack(multiply_parts(a[::-1].T, b.T), -1))
    one = rng.normal(size=4)
    assert np.array_equal(multiply(one, b), np.stack(multiply_parts(one, b.T), axis=-1))
    into = a.copy()
    assert multiply(into, b, out=into) is into and np.array_equal(into, want)
    # an output overlapping an input other than row for row: the whole product first
    buf = np.concatenate([a, a[-1:]])
    multiply(buf[:-1], b, out=buf[1:])
    assert np.array_equal(buf[1:], want)


def test_cross_rows_gives_numpys_cross_products_of_strided_rows_with_nan():
    rng = np.random.default_rng(8)
    a, b = rng.standard_normal((2, 2001, 3))
    a[17] = np.nan
    got = Q.cross_rows(a[:2000:2], b[1::2])
    assert np.array_equal(got, np.cross(a[:2000:2], b[1::2]), equal_nan=True)
    assert np.allclose(Q.cross_rows([[1.0, 0, 0]], [[0, 1.0, 0]]), [[0, 0, 1.0]])
    assert Q.cross_rows(np.zeros((0, 3)), np.zeros((0, 3))).shape == (0, 3)
