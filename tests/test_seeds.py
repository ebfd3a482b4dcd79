"""The tutorials in ../shared/seeds/, replayed on the engine.

- seed 002: the hand-derived gradients of a 2-3-1 sigmoid MLP with binary cross-entropy.
- seed 004: its hand-written NumPy MLP (bias as a constant -1 input, sigmoid everywhere, error
  ½Σ(y-t)², full-batch update averaged over the batch, rows reshuffled every epoch from the
  global RNG seeded with `random_state`), copied inline below, and our nn.MLP + optim.SGD from
  the same initial weights: same weight trajectory, and the same final errors the seed prints.
- seeds 000-002: a 2-3-1 sigmoid MLP separates the concentric circles; more hidden units give a
  rounder decision boundary (3 units draw a triangle-ish boundary, many units a circle).
"""
import numpy as np
import pytest

import tinygrad_mlp as tg
from tinygrad_mlp import nn, optim, functional as F, datasets


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


# ------------------------------------------------------------------ seed 002
def seed002_gradients(x, y, W, b, w_m, b_m):
    """The post's formulas for one point x (2,), label y."""
    h = sigmoid(W @ x + b)
    y_hat = sigmoid(w_m @ h + b_m)
    delta = (y_hat - y) * w_m * (1 - h) * h
    return {"w_m": (y_hat - y) * h, "b_m": y_hat - y, "W": np.outer(delta, x), "b": delta}


@pytest.mark.parametrize("loss_kind", ["prob", "logits"])
def test_seed002_gradients_equal_the_hand_derived_formulas(loss_kind):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(7, 2))
    y = np.array([0, 1, 1, 0, 1, 0, 0])
    model = nn.MLP([2, 3, 1], activation="sigmoid",
                   output_activation="sigmoid" if loss_kind == "prob" else None, rng=0)
    first, meta = model.layers
    out = model(X)
    if loss_kind == "prob":     # the post's L = -(1/n) Σ y log ŷ + (1 - y) log(1 - ŷ)
        loss = F.binary_cross_entropy(out, y.reshape(-1, 1))
    else:
        loss = F.binary_cross_entropy_with_logits(out, y.reshape(-1, 1))
    loss.backward()
    W, b, w_m, b_m = first.weight.data, first.bias.data, meta.weight.data[0], meta.bias.data[0]
    per_point = [seed002_gradients(x, t, W, b, w_m, b_m) for x, t in zip(X, y)]
    mean = {k: np.mean([g[k] for g in per_point], axis=0) for k in per_point[0]}
    np.testing.assert_allclose(meta.weight.grad.data[0], mean["w_m"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(meta.bias.grad.data[0], mean["b_m"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(first.weight.grad.data, mean["W"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(first.bias.grad.data, mean["b"], rtol=0, atol=1e-10)
    assert np.abs(mean["W"]).max() > 1e-3        # the check is not vacuous


# ------------------------------------------------------------------ seed 004
class Seed004MLP:
    """Seed 004's `MLP` class, as printed in the tutorial, with its global `np.random` calls
    bound to one `RandomState(random_state)` (the same stream `np.random.seed` gives), and the
    per-epoch weights and shuffles recorded."""

    def init_weights(self, layer_sizes, rng):
        self.weights = [rng.rand(layer_sizes[l - 1] + 1, layer_sizes[l]) * (2 / np.sqrt(layer_sizes[l - 1]))
                        - (1 / np.sqrt(layer_sizes[l - 1])) for l in range(1, len(layer_sizes))]

    def forward(self, A_0):
        self.outputs = [A_0]
        A_l = A_0
        for weight in self.weights:
            A_lbias = np.concatenate((-np.ones((A_l.shape[0], 1)), A_l), axis=1)
            A_l = sigmoid(np.matmul(A_lbias, weight))
            self.outputs.append(A_l)
        return A_l

    def backward(self, T, learning_rate):
        A_L = self.outputs[-1]
        delta_l_next = (A_L - T) * (A_L * (1 - A_L))
        for i in range(len(self.weights) - 1, -1, -1):
            A_l = self.outputs[i]
            delta_l = A_l * (1 - A_l) * (np.matmul(delta_l_next, np.transpose(self.weights[i][1:, :])))
            A_lbias = np.concatenate((-np.ones((A_l.shape[0], 1)), A_l), axis=1)
            self.weights[i] = self.weights[i] - (1 / T.shape[0]) * (
                learning_rate * (np.matmul(np.transpose(A_lbias), delta_l_next)))
            delta_l_next = delta_l

    def train(self, input_data, input_target, epochs, layer_sizes=(100,), learning_rate=0.01,
              random_state=0):
        A_0, T = np.array(input_data), np.array(input_target)
        layer_sizes = [A_0.shape[1], *layer_sizes, 1]
        rng = np.random.RandomState(random_state)
        self.init_weights(layer_sizes, rng)
        self.initial = [w.copy() for w in self.weights]
        self.orders, self.trajectory = [], []
        for _ in range(epochs):
            idx = np.arange(0, T.shape[0])
            rng.shuffle(idx)
            self.orders.append(idx)
            A_0, T = A_0[idx], T[idx]
            A_L = self.forward(A_0)
            self.backward(T, learning_rate)
            self.trajectory.append([w.copy() for w in self.weights])
        self.error = np.sum((A_L - T) ** 2) / T.shape[0]   # what the seed prints


def engine_replay(initial, orders, X, T, lr, on_epoch=None):
    """nn.MLP + optim.SGD from seed-004 weights (row 0 is the weight of the -1 bias input, so
    our bias is its negative), same row order each epoch, loss ½ mean (y - t)²."""
    model = nn.MLP([2, 2, 1], activation="sigmoid", output_activation="sigmoid")
    for layer, w in zip(model.layers, initial):
        layer.weight.data[...] = w[1:].T
        layer.bias.data[...] = -w[0]
    opt = optim.SGD(model.parameters(), lr=lr)
    X, T = X.astype(float), T.astype(float)
    for epoch, idx in enumerate(orders):
        X, T = X[idx], T[idx]
        opt.zero_grad()
        out = model(X)
        loss = 0.5 * F.mse_loss(out, T)
        loss.backward()
        opt.step()
        if on_epoch:
            on_epoch(epoch, model)
    error = float(np.sum((out.data - T) ** 2) / T.shape[0])
    return model, error


def confmat(model, X, T):
    """The seed's confusion matrix [[tp, fp], [fn, tn]] at threshold 0.5."""
    with tg.no_grad():
        out = (model(X.astype(float)).data > 0.5) * 1
    T = T.reshape(out.shape)
    return np.array([[((T == 1) & (out == 1)).sum(), ((T == 0) & (out == 1)).sum()],
                     [((T == 1) & (out == 0)).sum(), ((T == 0) & (out == 0)).sum()]])


INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])


def test_seed004_xor_same_weight_trajectory_and_reported_result():
    T = np.array([[0], [1], [1], [0]])
    ref = Seed004MLP()
    ref.train(INPUTS, T, 5001, layer_sizes=(2,), learning_rate=1, random_state=0)
    assert ref.error == pytest.approx(0.008145708816099705, rel=1e-9)   # the seed's printout
    worst = []

    def compare(epoch, model):
        w = ref.trajectory[epoch]
        worst.append(max(max(np.abs(layer.weight.data - wi[1:].T).max(),
                             np.abs(layer.bias.data + wi[0]).max())
                         for layer, wi in zip(model.layers, w)))

    model, error = engine_replay(ref.initial, ref.orders, INPUTS, T, lr=1.0, on_epoch=compare)
    assert len(worst) == 5001 and max(worst) < 1e-9
    assert error == pytest.approx(0.008145708816099705, rel=1e-9)
    np.testing.assert_array_equal(confmat(model, INPUTS, T), [[2, 0], [0, 2]])


def test_seed004_and_is_solved_as_reported():
    T = np.array([[0], [0], [0], [1]])
    rng = np.random.RandomState(27)            # the seed's random_state=27
    sizes = [2, 2, 1]
    initial = [rng.rand(sizes[l - 1] + 1, sizes[l]) * (2 / np.sqrt(sizes[l - 1])) - (1 / np.sqrt(sizes[l - 1]))
               for l in range(1, 3)]
    orders = []
    for _ in range(5001):
        idx = np.arange(4)
        rng.shuffle(idx)
        orders.append(idx)
    model, error = engine_replay(initial, orders, INPUTS, T, lr=1.0)
    assert error == pytest.approx(0.0004818608199957538, rel=1e-9)
    np.testing.assert_array_equal(confmat(model, INPUTS, T), [[1, 0], [0, 3]])


# ------------------------------------------------------------------ seeds 000-002: circles
def train_circles(hidden, seed, epochs=500):
    """Full-batch Adam(lr=0.05) on BCE: about 0.2 s for 2-3-1 (found by a sweep over seeds
    0-5: every run reached >= 99% training accuracy)."""
    X, y = datasets.circles(n=200, noise=0.05, factor=0.5, rng=0)
    model = nn.MLP([2, hidden, 1], activation="sigmoid", output_activation="sigmoid", rng=seed)
    opt = optim.Adam(model.parameters(), lr=0.05)
    Y = y.reshape(-1, 1)
    for _ in range(epochs):
        opt.zero_grad()
        F.binary_cross_entropy(model(X), Y).backward()
        opt.step()
    return model


def accuracy(model, X, y):
    with tg.no_grad():
        return ((model(X).data[:, 0] > 0.5) == y).mean()


def boundary_radii(model, n_angles=180):
    """Along each ray from the centre, the radius where the prediction turns from inner (1)
    to outer (0), searched on [0.3, 1.3] in steps of 0.0025."""
    theta = np.linspace(0, 2 * np.pi, n_angles, endpoint=False)
    r = np.linspace(0.3, 1.3, 401)
    pts = (r[None, :, None] * np.stack([np.cos(theta), np.sin(theta)], 1)[:, None, :]).reshape(-1, 2)
    with tg.no_grad():
        inner = model(pts).data.reshape(n_angles, len(r)) > 0.5
    assert inner[:, 0].all() and (~inner).any(axis=1).all()   # one boundary crossing per ray
    return r[np.argmax(~inner, axis=1)]


@pytest.fixture(scope="module")
def small_models():
    return [train_circles(3, seed) for seed in (0, 1)]


def test_2_3_1_sigmoid_mlp_classifies_the_circles(small_models):
    X, y = datasets.circles(n=200, noise=0.05, factor=0.5, rng=0)
    X_new, y_new = datasets.circles(n=400, noise=0.05, factor=0.5, rng=123)
    for model in small_models:
        assert accuracy(model, X, y) >= 0.97
        assert accuracy(model, X_new, y_new) >= 0.97     # not memorised: fresh points too


def test_more_hidden_units_round_the_decision_boundary(small_models):
    """Roundness = coefficient of variation of the boundary radius over 180 directions. Three
    sigmoid units can only cut a triangle-ish region (measured CV 0.16-0.18, corners out near
    radius 1); sixteen draw a near circle between the rings (measured CV 0.03-0.04)."""
    cv = lambda r: r.std() / r.mean()
    small = [cv(boundary_radii(m)) for m in small_models]
    wide = [cv(boundary_radii(train_circles(16, seed))) for seed in (0, 1)]
    assert min(small) > 0.12
    assert max(wide) < 0.05
    assert max(wide) < min(small) / 3
