"""Datasets: shapes, dtypes, the documented generating processes, seeding, batches."""
import numpy as np
import pytest

from tinygrad_mlp import datasets

GENERATORS = [datasets.circles, datasets.moons, datasets.blobs, datasets.spiral]


def test_xor_and_and():
    X, y = datasets.xor()
    np.testing.assert_array_equal(X, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(y, [0, 1, 1, 0])
    X, y = datasets.logical_and()
    np.testing.assert_array_equal(y, (X[:, 0] * X[:, 1]).astype(int))


@pytest.mark.parametrize("gen", GENERATORS)
def test_shapes_dtypes_and_seeding(gen):
    X, y = gen(n=101, rng=3)
    assert X.shape == (101, 2) and X.dtype == np.float64
    assert y.shape == (101,) and y.dtype.kind == "i"
    X2, y2 = gen(n=101, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(gen(n=101, rng=4)[0], X)
    assert np.isfinite(X).all()


def test_circles_radii_and_labels():
    X, y = datasets.circles(n=200, noise=0.0, factor=0.3, rng=0)
    r = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(r[y == 0], 1.0)
    np.testing.assert_allclose(r[y == 1], 0.3)
    assert (y == 0).sum() == 100 and (y == 1).sum() == 100
    Xn, yn = datasets.circles(n=2000, noise=0.05, rng=1)
    resid = np.hypot(Xn[:, 0], Xn[:, 1]) - np.where(yn == 0, 1.0, 0.5)
    assert abs(resid.std() - 0.05) < 0.005          # Gaussian noise of the stated size
    assert not np.array_equal(yn[:50], np.sort(yn[:50]))   # rows are shuffled


def test_moons_blobs_spiral_processes():
    X, y = datasets.moons(n=100, noise=0.0)
    np.testing.assert_allclose(np.hypot(X[y == 0, 0], X[y == 0, 1]), 1.0)
    np.testing.assert_allclose(np.hypot(X[y == 1, 0] - 1, X[y == 1, 1] - 0.5), 1.0)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    X, y = datasets.blobs(n=3000, centers=centres, std=0.5, rng=0)
    for c in range(3):
        np.testing.assert_allclose(X[y == c].mean(0), centres[c], atol=0.05)
        np.testing.assert_allclose(X[y == c].std(0), 0.5, atol=0.03)
    X, y = datasets.spiral(n=300, classes=3, noise=0.0)
    assert set(np.bincount(y)) == {100} and np.hypot(X[:, 0], X[:, 1]).max() <= 1.0 + 1e-12


def test_argument_errors():
    with pytest.raises(ValueError, match="factor"):
        datasets.circles(factor=1.5)
    with pytest.raises(ValueError, match="noise"):
        datasets.moons(noise=-1)
    with pytest.raises(ValueError, match="centers"):
        datasets.blobs(centers=np.zeros((2, 3)))


def test_batches_cover_every_row_once():
    X = np.arange(20.0).reshape(10, 2)
    y = np.arange(10)
    got = list(datasets.batches(X, y, 4, rng=0))
    assert [len(b[1]) for b in got] == [4, 4, 2]
    order = np.concatenate([b[1] for b in got])
    assert sorted(order) == list(range(10)) and list(order) != list(range(10))
    for Xb, yb in got:
        np.testing.assert_array_equal(Xb, X[yb])
    again = np.concatenate([b[1] for b in datasets.batches(X, y, 4, rng=0)])
    np.testing.assert_array_equal(order, again)
    plain = list(datasets.batches(X, y, 3, shuffle=False))
    assert np.shares_memory(plain[0][0], X) and [len(b[1]) for b in plain] == [3, 3, 3, 1]
    with pytest.raises(ValueError, match="batch_size"):
        next(datasets.batches(X, y, 0))
    with pytest.raises(ValueError, match="rows"):
        next(datasets.batches(X, y[:3], 2))


def test_batches_accept_lists_when_shuffling():
    got = list(datasets.batches([[1, 2], [3, 4], [5, 6]], [0, 1, 0], batch_size=2, rng=0))
    assert [xb.shape for xb, _ in got] == [(2, 2), (1, 2)]
    assert sorted(int(v) for _, yb in got for v in yb) == [0, 0, 1]


@pytest.mark.parametrize("classes", [0, -1, 1.5])
def test_spiral_with_no_classes_is_a_clear_error(classes):
    with pytest.raises(ValueError, match="spiral: classes must be a positive int"):
        datasets.spiral(n=10, classes=classes)
