"""scikit-learn estimators trained by the engine: `MLPClassifier` and `MLPRegressor`.

They take scikit-learn's constructor parameters and defaults, follow its training recipe and
expose its fitted attributes, so they drop into `Pipeline`, `GridSearchCV`, `pickle` and
`check_estimator`; underneath, an `nn.MLP` (`module_`) is trained with `optim.Adam` /
`optim.SGD` and the fused losses of `functional`. What "sklearn's recipe" means here:
- Glorot-uniform weights and biases drawn from `random_state` in sklearn's order (bound
  sqrt(6 / (fan_in + fan_out)), sqrt(2 / ...) for logistic), so a seed gives sklearn's initial
  network; batches of min(200, n) in the same shuffled order.
- The per-batch objective has sklearn's gradient: the mean over samples of the loss summed
  over outputs (half squared error for regression) plus alpha/2·‖W‖²/n_batch on the weights
  only. `loss_` and `loss_curve_` are sklearn's numbers (batch losses weighted by batch size).
- tol / n_iter_no_change stopping on the training loss, or on the validation score with
  `early_stopping` (best weights restored), ConvergenceWarning at max_iter, the "invscaling"
  and "adaptive" learning-rate schedules of "sgd".

Differences: the SGD momentum buffer is the engine's (PyTorch's), without the learning rate in
it, so with momentum the "invscaling" and "adaptive" schedules differ slightly from sklearn's
after each change of rate (constant rates and momentum=0 are identical). `solver="lbfgs"` and
sparse input are not supported (clear errors), and `predict` computes in the precision the
model was trained in (sklearn mixes: float32 weights times float64 input give float64).
"""
from __future__ import annotations

import math
import warnings
from numbers import Integral, Real
from typing import Any, Callable

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import LabelBinarizer
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets, unique_labels
    from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("tinygrad_mlp.sklearn needs scikit-learn: pip install scikit-learn (or "
                      "pip install -e '.[sklearn]' from a clone)") from e

from . import functional as F
from . import nn, optim
from .compile import compile as compile_step
from .mode import no_grad
from .tensor import Tensor

__all__ = ["MLPClassifier", "MLPRegressor"]

# sklearn's activation names -> nn.MLP's
_ACTIVATIONS = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}


# ------------------------------------------------------------------ parameter checks
def _fail(name: str, value: Any, expected: str) -> None:
    raise ValueError(f"The '{name}' parameter must be {expected}. Got {value!r} instead.")


# sklearn's ranges: name -> (low, high or None, brackets, integer)
_RANGES = {
    "alpha": (0, None, "[)", False), "learning_rate_init": (0, None, "()", False),
    "power_t": (0, None, "[)", False), "max_iter": (1, None, "[)", True),
    "tol": (0, None, "[)", False), "momentum": (0, 1, "[]", False),
    "validation_fraction": (0, 1, "[)", False), "beta_1": (0, 1, "[)", False),
    "beta_2": (0, 1, "[)", False), "epsilon": (0, None, "()", False),
    "max_fun": (1, None, "[)", True),
}
_CHOICES = {"activation": tuple(_ACTIVATIONS), "solver": ("adam", "sgd"),
            "learning_rate": ("constant", "invscaling", "adaptive")}
_FLAGS = ("shuffle", "warm_start", "nesterovs_momentum", "early_stopping")


def _is_int(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def _in_range(value: Any, lo: float, hi: float | None, brackets: str, integer: bool) -> bool:
    if not (_is_int(value) if integer else isinstance(value, Real) and not isinstance(value, bool)):
        return False
    above = value >= lo if brackets[0] == "[" else value > lo
    below = hi is None or (value <= hi if brackets[1] == "]" else value < hi)
    return above and below


def _check_params(est: Any) -> None:
    """Every constructor parameter, checked at fit (sklearn's rule: __init__ only stores).
    Values sklearn has but this package does not implement get an error saying so."""
    if est.solver == "lbfgs":
        raise ValueError("solver='lbfgs' is not available in tinygrad_mlp (it trains by "
                         "mini-batches only); use solver='adam' or solver='sgd'")
    for name, options in _CHOICES.items():
        if not isinstance(getattr(est, name), str) or getattr(est, name) not in options:
            _fail(name, getattr(est, name), f"a str among {sorted(options)}")
    for name in _FLAGS:
        if not isinstance(getattr(est, name), (bool, np.bool_)):
            _fail(name, getattr(est, name), "a bool")
    for name, (lo, hi, brackets, integer) in _RANGES.items():
        if not _in_range(getattr(est, name), lo, hi, brackets, integer):
            bounds = f"{brackets[0]}{lo}, {'inf' if hi is None else hi}{brackets[1]}"
            _fail(name, getattr(est, name), f"{'an int' if integer else 'a float'} in the range {bounds}")
    if not isinstance(est.verbose, Integral):
        _fail("verbose", est.verbose, "a bool or an int")
    if not (est.batch_size == "auto" or _is_int(est.batch_size) and est.batch_size >= 1):
        _fail("batch_size", est.batch_size, "'auto' or an int >= 1")
    if not (est.n_iter_no_change == np.inf or _is_int(est.n_iter_no_change) and est.n_iter_no_change >= 1):
        _fail("n_iter_no_change", est.n_iter_no_change, "an int >= 1 or numpy.inf")
    _hidden_sizes(est.hidden_layer_sizes)


def _hidden_sizes(sizes: Any) -> list[int]:
    """hidden_layer_sizes as a list of ints (an int is one hidden layer; () is none)."""
    seq = [sizes] if isinstance(sizes, Integral) else sizes
    try:
        out = list(seq)
    except TypeError:
        out = None
    if out is None or not all(_is_int(s) and s > 0 for s in out):
        _fail("hidden_layer_sizes", sizes, "a positive int or a sequence of positive ints")
    return [int(s) for s in out]


def _batch_size(batch_size: Any, n_samples: int) -> int:
    if batch_size == "auto":
        return min(200, n_samples)
    if batch_size > n_samples:
        warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going "
                      "to be clipped", UserWarning, stacklevel=5)   # the caller of fit
    return int(min(batch_size, n_samples))


def _sample_weight(sample_weight: Any, n_samples: int) -> np.ndarray | None:
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.ndim == 0:
        w = np.full(n_samples, float(w))
    if w.shape != (n_samples,):
        raise ValueError(f"sample_weight.shape == {w.shape}, expected ({n_samples},)!")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("sample_weight must be finite and non-negative")
    if not w.any():
        raise ValueError("sample_weight is zero everywhere: there is nothing to fit")
    return w


# ------------------------------------------------------------------ the network and its training step
def _glorot(rs: np.random.RandomState, sizes: list[int], activation: str) -> dict[str, np.ndarray]:
    """sklearn's initial weights: for each layer, coef (fan_in, fan_out) then intercept, both
    U(-b, b) with b = sqrt(f / (fan_in + fan_out)), f = 2 for logistic and 6 otherwise (Glorot),
    drawn from `rs` in that order. Returned as nn.MLP's state_dict (weights stored (out, in))."""
    factor = 2.0 if activation == "logistic" else 6.0
    state = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        bound = np.sqrt(factor / (fan_in + fan_out))
        state[f"layers.{i}.weight"] = rs.uniform(-bound, bound, (fan_in, fan_out)).T
        state[f"layers.{i}.bias"] = rs.uniform(-bound, bound, fan_out)
    return state


def _build_module(sizes: list[int], activation: str, dtype: np.dtype, rs: np.random.RandomState) -> nn.MLP:
    """An nn.MLP with linear output (logits) and sklearn's initial weights."""
    module = nn.MLP(sizes, activation=_ACTIVATIONS[activation], init="zeros", dtype=dtype)
    module.load_state_dict(_glorot(rs, sizes, activation))
    return module


def _sizes(module: nn.MLP) -> list[int]:
    return [module.layers[0].in_features] + [lin.out_features for lin in module.layers]


def _make_optimizer(est: Any, module: nn.MLP) -> optim.Optimizer:
    """One optimizer for all parameters, without weight decay: sklearn's L2 penalty applies
    to weights only, so the step adds its gradient to theirs (`_make_step`)."""
    params = list(module.parameters())
    if est.solver == "adam":
        return optim.Adam(params, lr=est.learning_rate_init, betas=(est.beta_1, est.beta_2),
                          eps=est.epsilon)
    nesterov = bool(est.nesterovs_momentum) and est.momentum > 0
    return optim.SGD(params, lr=est.learning_rate_init, momentum=est.momentum, nesterov=nesterov)


def _poisson(z: Tensor, t: Any, reduction: str = "mean") -> Tensor:
    """exp(z) - t·z: the half Poisson deviance with log link, less a term free of z."""
    per = z.exp() - t * z
    return per.mean() if reduction == "mean" else per


# output activation -> (loss on the network's raw output, its elementwise factor)
_LOSSES: dict[str, tuple[Callable[..., Tensor], float]] = {
    "softmax": (F.cross_entropy, 1.0),
    "logistic": (F.binary_cross_entropy_with_logits, 1.0),
    "identity": (F.mse_loss, 0.5),
    "exp": (_poisson, 1.0),
}


def _make_loss(out_activation: str, n_outputs: int, weighted: bool) -> Callable[..., Tensor]:
    """The per-batch objective with sklearn's gradient: the mean over samples (or the
    weighted mean, given normalised weights w) of the loss summed over outputs."""
    base, factor = _LOSSES[out_activation]
    if weighted:
        def weighted_loss(z: Tensor, t: Any, w: np.ndarray) -> Tensor:
            total = (base(z, t, reduction="none") * w).sum()
            return total if factor == 1 else total * factor
        return weighted_loss
    scale = factor * (1 if out_activation == "softmax" else n_outputs)   # mean over n·k -> over n
    if scale == 1:
        return base
    return lambda z, t: base(z, t, reduction="mean") * scale


def _make_step(module: nn.MLP, optimizer: optim.Optimizer, loss_fn: Callable[..., Tensor],
               l2: np.ndarray | None) -> Callable[..., Tensor]:
    """One mini-batch update as one small function of its arrays only (ready for
    `tg.compile`): forget old gradients, forward, loss, backward, add the L2 penalty's
    gradient l2·W to the weights' (l2 = alpha / the batch's size or weight sum: a 0-d array
    set before each batch, which a replay reads), update."""
    def step(xb: np.ndarray, yb: np.ndarray, *weights: np.ndarray) -> Tensor:
        optimizer.zero_grad()
        loss = loss_fn(module(xb), yb, *weights)
        loss.backward()
        if l2 is not None:
            for lin in module.layers:
                lin.weight.grad.data += l2 * lin.weight.data
        optimizer.step()
        return loss
    return step


# ------------------------------------------------------------------ estimators
class _BaseMLP(BaseEstimator):
    """What the classifier and the regressor share: parameters, fit / partial_fit, the
    training loop and its stopping rules. Subclasses turn targets into the network's training
    target (`_encode`) and its output into predictions."""

    def __init__(self, hidden_layer_sizes: Any = (100,), activation: str = "relu", *,
                 solver: str = "adam", alpha: float = 0.0001, batch_size: Any = "auto",
                 learning_rate: str = "constant", learning_rate_init: float = 0.001,
                 power_t: float = 0.5, max_iter: int = 200, shuffle: bool = True,
                 random_state: Any = None, tol: float = 1e-4, verbose: bool = False,
                 warm_start: bool = False, momentum: float = 0.9, nesterovs_momentum: bool = True,
                 early_stopping: bool = False, validation_fraction: float = 0.1,
                 beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-8,
                 n_iter_no_change: Any = 10, max_fun: int = 15000) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun

    # ---------------------------------------------------------------- sklearn's weight views
    @property
    def coefs_(self) -> list[np.ndarray]:
        """Weight matrices (fan_in, fan_out) per layer: views of module_'s parameters."""
        return [lin.weight.data.T for lin in self._fitted_module().layers]

    @coefs_.setter
    def coefs_(self, values: list[Any]) -> None:
        for lin, v in zip(self._fitted_module().layers, values, strict=True):
            lin.weight.data[...] = np.asarray(v).T

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """Bias vectors (fan_out,) per layer: views of module_'s parameters."""
        return [lin.bias.data for lin in self._fitted_module().layers]

    @intercepts_.setter
    def intercepts_(self, values: list[Any]) -> None:
        for lin, v in zip(self._fitted_module().layers, values, strict=True):
            lin.bias.data[...] = v

    def _fitted_module(self) -> nn.MLP:
        if "module_" not in self.__dict__:   # hasattr(est, "coefs_") is False before fit
            raise AttributeError(f"This {type(self).__name__} instance is not fitted yet")
        return self.module_

    # ---------------------------------------------------------------- fitting
    def _fit(self, X: Any, y: Any, sample_weight: Any, incremental: bool) -> "_BaseMLP":
        _check_params(self)
        hidden = _hidden_sizes(self.hidden_layer_sizes)
        first_pass = "module_" not in self.__dict__ or (not self.warm_start and not incremental)
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        X, y = validate_data(self, X, y, multi_output=True, dtype=(np.float64, np.float32),
                             y_numeric=not isinstance(self, ClassifierMixin), reset=first_pass)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        dtype = X.dtype if first_pass else self.module_.layers[0].weight.dtype
        X = X.astype(dtype, copy=False)
        target = self._encode(y, dtype, incremental)
        w = _sample_weight(sample_weight, X.shape[0])
        rs = check_random_state(self.random_state)
        sizes = [X.shape[1], *hidden, target.shape[1]]
        if first_pass:
            self._initialize(sizes, dtype, rs)
        elif _sizes(self.module_) != sizes:
            raise ValueError(f"warm_start / partial_fit: the network has layer sizes "
                             f"{_sizes(self.module_)} but this fit needs {sizes} (hidden_layer_sizes "
                             "or the number of outputs changed); fit from scratch instead")
        if not incremental or "_optimizer" not in self.__dict__:
            self._optimizer = _make_optimizer(self, self.module_)
            self._l2 = np.zeros((), dtype)       # the penalty's factor for this batch
            self._n_updates = 0
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):   # diverging: see below
            self._fit_stochastic(X, target, y, w, rs, incremental)
        if not all(np.isfinite(p.data).all() for p in self.module_.parameters()):
            raise ValueError("Solver produced non-finite parameter weights. The input data may "
                             "contain large values and need to be preprocessed.")
        return self

    def _initialize(self, sizes: list[int], dtype: np.dtype, rs: np.random.RandomState) -> None:
        """A fresh network and fresh training records (sklearn's _initialize)."""
        self.module_ = _build_module(sizes, self.activation, dtype, rs)
        self.n_outputs_ = sizes[-1]
        self.n_layers_ = len(sizes)
        self.out_activation_ = self._out_activation()
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_: list[float] = []
        self._no_improvement_count = 0
        self._best_state = self.module_.state_dict()
        if self.early_stopping:
            self.validation_scores_: list[float] | None = []
            self.best_validation_score_: float | None = -np.inf
            self.best_loss_: float | None = None
        else:
            self.validation_scores_ = self.best_validation_score_ = None
            self.best_loss_ = np.inf

    def _split(self, n: int, target: np.ndarray, rs: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
        """Training and validation indices for early stopping (stratified for a single
        binary output, as sklearn does)."""
        stratify = target if isinstance(self, ClassifierMixin) and self.n_outputs_ == 1 else None
        train, val = train_test_split(np.arange(n), random_state=rs,
                                      test_size=self.validation_fraction, stratify=stratify)
        if len(val) < 2:
            raise ValueError("The validation set is too small. Increase 'validation_fraction' "
                             "or the size of your dataset.")
        return train, val

    def _fit_stochastic(self, X: np.ndarray, target: np.ndarray, y: np.ndarray, w: np.ndarray | None,
                        rs: np.random.RandomState, incremental: bool) -> None:
        """Epochs of mini-batch updates with sklearn's stopping rules."""
        val = None
        if self.early_stopping:
            train, vi = self._split(X.shape[0], target, rs)
            val = (X[vi], y[vi], None if w is None else w[vi])
            X, target, w = X[train], target[train], None if w is None else w[train]
        n = X.shape[0]
        batch = _batch_size(self.batch_size, n)
        loss_fn = _make_loss(self.out_activation_, self.n_outputs_, w is not None)
        step = compile_step(_make_step(self.module_, self._optimizer, loss_fn,   # traced once
                                       self._l2 if self.alpha else None))         # per batch size
        scale = self._loss_scale()
        order = np.arange(n)
        self.n_iter_ = 0
        try:
            for _ in range(self.max_iter):
                if self.shuffle:
                    order = order[rs.permutation(n)]   # sklearn.utils.shuffle's draw
                total = self._epoch(step, X, target, w, order, batch, scale)
                total += self._loss_offset(target, w, order, batch)
                if self._end_epoch(total / n, n, val) or incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) "
                                  "reached and the optimization hasn't converged yet.",
                                  ConvergenceWarning, stacklevel=4)
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.", stacklevel=4)
        if self.early_stopping:
            self.module_.load_state_dict(self._best_state)

    def _epoch(self, step: Callable[..., Tensor], X: np.ndarray, target: np.ndarray,
               w: np.ndarray | None, order: np.ndarray, batch: int, scale: float) -> float:
        """One pass in `order`; returns the sum over batches of batch size × sklearn's batch
        loss (the objective × `scale`, plus the penalty). Each batch's rows are gathered with
        `take` (faster than fancy indexing, and no shuffled copy of the whole data set)."""
        column = self.out_activation_ != "softmax"
        weights = [lin.weight.data for lin in self.module_.layers]   # updated in place
        total = 0.0
        for start in range(0, X.shape[0], batch):
            idx = order[start:start + batch]
            extra, norm = _batch_weights(None if w is None else w.take(idx), len(idx), X.dtype, column)
            if norm == 0:
                continue   # an all-zero-weight batch carries no information: no update
            penalty = self._prepare_update(norm, weights)
            loss = step(X.take(idx, axis=0), target.take(idx, axis=0), *extra)
            total += (float(loss.data) * scale + penalty) * len(idx)
        return total

    def _prepare_update(self, norm: float, weights: list[np.ndarray]) -> float:
        """Set the optimizer settings that change between batches; return this batch's L2
        penalty alpha/2·‖W‖²/norm (norm: batch size or weight sum); alpha/norm·W is its
        gradient. Adam's eps / sqrt(1 - beta_2^t) turns the engine's (PyTorch's) Adam, which
        adds eps after the bias correction, into sklearn's, which adds it before."""
        self._n_updates += 1
        if self.solver == "adam":
            self._optimizer.eps = self.epsilon / math.sqrt(1.0 - self.beta_2 ** self._n_updates)
        if not self.alpha:
            return 0.0
        self._l2[...] = self.alpha / norm
        return 0.5 * self.alpha * sum(float(np.vdot(W, W)) for W in weights) / norm

    def _loss_scale(self) -> float:
        """sklearn's loss_ is the trained objective times this (its squared error is averaged
        over outputs, while its gradient is that of the sum)."""
        return 1.0

    def _loss_offset(self, target: np.ndarray, w: np.ndarray | None, order: np.ndarray, batch: int) -> float:
        """What sklearn's loss_ adds to an epoch's total that the objective leaves out."""
        return 0.0

    def _end_epoch(self, loss: float, n: int, val: tuple | None) -> bool:
        """Record the epoch, update the schedule and the no-improvement count; True to stop."""
        self.loss_ = loss
        self.n_iter_ += 1
        self.t_ += n
        self.loss_curve_.append(loss)
        if self.verbose:
            print(f"Iteration {self.n_iter_}, loss = {loss:.8f}")
        self._update_no_improvement(val)
        if self.learning_rate == "invscaling" and self.solver == "sgd":
            self._set_lr(self.learning_rate_init / (self.t_ + 1) ** self.power_t)
        return self._no_improvement_count > self.n_iter_no_change and self._stop_or_slow_down()

    def _update_no_improvement(self, val: tuple | None) -> None:
        if val is not None:
            score = self._validation_score(*val)
            self.validation_scores_.append(score)
            if self.verbose:
                print(f"Validation score: {score:f}")
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_state = self.module_.state_dict()
        else:
            last = self.loss_curve_[-1]
            if last > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            self.best_loss_ = min(self.best_loss_, last)

    def _stop_or_slow_down(self) -> bool:
        """No improvement for n_iter_no_change epochs: stop, or with sgd's "adaptive" rate
        divide the learning rate by 5 and go on (stop once it is below 1e-6)."""
        what = "Validation score" if self.early_stopping else "Training loss"
        msg = (f"{what} did not improve more than tol={self.tol:f} for "
               f"{self.n_iter_no_change} consecutive epochs.")
        lr = self._optimizer.lr
        if self.solver != "sgd" or self.learning_rate != "adaptive" or lr <= 1e-6:
            if self.verbose:
                print(msg + " Stopping.")
            return True
        self._set_lr(lr / 5.0)
        self._no_improvement_count = 0
        if self.verbose:
            print(msg + f" Setting learning rate to {lr / 5.0:f}")
        return False

    def _set_lr(self, lr: float) -> None:
        self._optimizer.lr = lr

    # ---------------------------------------------------------------- prediction
    def _forward(self, X: Any, check_input: bool = True) -> Tensor:
        """The network's raw output (logits for the classifier) in the model's dtype."""
        check_is_fitted(self)
        if check_input:
            X = validate_data(self, X, dtype=(np.float64, np.float32), reset=False)
        X = np.asarray(X, dtype=self.module_.layers[0].weight.dtype)
        with no_grad():
            return self.module_(X)


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier with scikit-learn's API, trained by tinygrad_mlp.

    Softmax cross-entropy for multiclass targets, a logistic output with binary
    cross-entropy for binary and multilabel (indicator matrix) targets. `module_` is the
    trained `nn.MLP`; it outputs logits, `predict_proba` applies `out_activation_`.
    Parameters and fitted attributes are sklearn's (see its MLPClassifier); `solver` is
    "adam" or "sgd"."""

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> "MLPClassifier":
        """Train a fresh network (or continue the current one with warm_start=True)."""
        return self._fit(X, y, sample_weight, incremental=False)

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None, classes: Any = None) -> "MLPClassifier":
        """One epoch over (X, y), continuing the network and optimizer state. The first call
        needs `classes`, every label that will ever be seen."""
        first = "classes_" not in self.__dict__
        if first and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        if classes is not None and not first and not np.array_equal(self.classes_, unique_labels(classes)):
            raise ValueError(f"`classes={classes!r}` is not the same as on last call to "
                             f"partial_fit, was: {self.classes_!r}")
        if first:
            y_arr = np.asarray(y)
            multilabel = y_arr.ndim == 2 and y_arr.shape[1] > 1
            self._label_binarizer = LabelBinarizer().fit(y_arr if multilabel else classes)
            self.classes_ = self._label_binarizer.classes_
        return self._fit(X, y, sample_weight, incremental=True)

    def _encode(self, y: np.ndarray, dtype: np.dtype, incremental: bool) -> np.ndarray:
        """Labels -> a 0/1 matrix in the model's dtype: one-hot rows for softmax (the fused
        cross-entropy is faster with them than with class indices), one column per output
        for logistic outputs."""
        check_classification_targets(y)
        if "classes_" not in self.__dict__ or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            seen = unique_labels(y)
            if self.warm_start and not incremental and set(seen) != set(self.classes_):
                raise ValueError("warm_start can only be used where `y` has the same classes as "
                                 f"in the previous call to fit. Previously got {self.classes_}, "
                                 f"`y` has {seen}")
            if len(np.setdiff1d(seen, self.classes_)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has "
                                 f"{self.classes_}. 'y' has {seen}.")
        return self._label_binarizer.transform(y).astype(dtype)

    def _out_activation(self) -> str:
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _validation_score(self, X: np.ndarray, y: np.ndarray, w: np.ndarray | None) -> float:
        pred = self._predict(self._forward(X, check_input=False))
        return float(accuracy_score(y, pred, sample_weight=w))

    def _predict(self, out: Tensor) -> np.ndarray:
        return self._label_binarizer.inverse_transform(self._proba(out))

    def _proba(self, out: Tensor) -> np.ndarray:
        if self.out_activation_ == "softmax":
            return F.softmax(out, axis=-1).data
        p = F.sigmoid(out).data
        return p[:, 0] if self.n_outputs_ == 1 else p

    def predict(self, X: Any) -> np.ndarray:
        """Class labels (an indicator matrix for multilabel targets)."""
        return self._predict(self._forward(X))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities (n_samples, n_classes) in the order of `classes_`."""
        p = self._proba(self._forward(X))
        return np.stack([1 - p, p], axis=1) if p.ndim == 1 else p

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """log(predict_proba(X)), computed from the logits, so it stays finite where a
        probability rounds to 0."""
        out = self._forward(X)
        if self.out_activation_ == "softmax":
            return F.log_softmax(out, axis=-1).data
        if self.n_outputs_ == 1:
            return np.concatenate([-F.softplus(out).data, -F.softplus(-out).data], axis=1)
        return -F.softplus(-out).data

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor with scikit-learn's API, trained by tinygrad_mlp.

    loss="squared_error" (identity output, half squared error) or "poisson" (exp output, half
    Poisson deviance; y >= 0). `module_` is the trained `nn.MLP` (its output is before the exp
    for Poisson). Parameters and fitted attributes are sklearn's (see its MLPRegressor);
    `solver` is "adam" or "sgd"."""

    def __init__(self, loss: str = "squared_error", hidden_layer_sizes: Any = (100,),
                 activation: str = "relu", *, solver: str = "adam", alpha: float = 0.0001,
                 batch_size: Any = "auto", learning_rate: str = "constant",
                 learning_rate_init: float = 0.001, power_t: float = 0.5, max_iter: int = 200,
                 shuffle: bool = True, random_state: Any = None, tol: float = 1e-4,
                 verbose: bool = False, warm_start: bool = False, momentum: float = 0.9,
                 nesterovs_momentum: bool = True, early_stopping: bool = False,
                 validation_fraction: float = 0.1, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-8, n_iter_no_change: Any = 10, max_fun: int = 15000) -> None:
        super().__init__(hidden_layer_sizes, activation, solver=solver, alpha=alpha,
                         batch_size=batch_size, learning_rate=learning_rate,
                         learning_rate_init=learning_rate_init, power_t=power_t,
                         max_iter=max_iter, shuffle=shuffle, random_state=random_state, tol=tol,
                         verbose=verbose, warm_start=warm_start, momentum=momentum,
                         nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
                         validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2,
                         epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun)
        self.loss = loss

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> "MLPRegressor":
        """Train a fresh network (or continue the current one with warm_start=True)."""
        return self._fit(X, y, sample_weight, incremental=False)

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> "MLPRegressor":
        """One epoch over (X, y), continuing the network and optimizer state."""
        return self._fit(X, y, sample_weight, incremental=True)

    def _encode(self, y: np.ndarray, dtype: np.dtype, incremental: bool) -> np.ndarray:
        if self.loss not in ("squared_error", "poisson"):
            _fail("loss", self.loss, "a str among ['poisson', 'squared_error']")
        if self.loss == "poisson" and np.any(y < 0):
            raise ValueError("Some value(s) of y are negative which is not allowed for Poisson "
                             "regression.")
        return y.reshape(len(y), -1).astype(dtype)

    def _out_activation(self) -> str:
        return "exp" if self.loss == "poisson" else "identity"

    def _loss_scale(self) -> float:
        return 1.0 / self.n_outputs_ if self.out_activation_ == "identity" else 1.0

    def _loss_offset(self, target: np.ndarray, w: np.ndarray | None, order: np.ndarray, batch: int) -> float:
        """Poisson: the deviance's z-free term xlogy(y, y) - y, summed over outputs, weighted
        within each batch as the loss is."""
        if self.out_activation_ != "exp":
            return 0.0
        t = target.astype(np.float64)
        const = (np.where(t > 0, t * np.log(np.where(t > 0, t, 1)), 0) - t).sum(axis=1)
        if w is None:
            return float(const.sum())
        return _batch_weighted_sum(const[order], w[order], batch)

    def _validation_score(self, X: np.ndarray, y: np.ndarray, w: np.ndarray | None) -> float:
        pred = self._predict(self._forward(X, check_input=False))
        if not np.isfinite(pred).all():
            return np.nan
        return float(r2_score(y, pred, sample_weight=w))

    def _predict(self, out: Tensor) -> np.ndarray:
        with np.errstate(over="ignore"):   # exp of a huge output is inf, as in sklearn
            pred = out.exp().data if self.out_activation_ == "exp" else out.data
        return pred[:, 0] if pred.shape[1] == 1 else pred

    def predict(self, X: Any) -> np.ndarray:
        """Predicted values, (n_samples,) for one output, else (n_samples, n_outputs)."""
        return self._predict(self._forward(X))


def _batch_weights(wb: np.ndarray | None, size: int, dtype: np.dtype,
                   column: bool) -> tuple[tuple[np.ndarray, ...], float]:
    """The loss's extra argument for a batch (its sample weights divided by their sum, as a
    column for per-output losses) and the batch's normaliser (its size when unweighted)."""
    if wb is None:
        return (), float(size)
    norm = float(wb.sum())
    if norm == 0:
        return (), 0.0
    wb = (wb / norm).astype(dtype)
    return ((wb[:, None] if column else wb),), norm


def _batch_weighted_sum(values: np.ndarray, w: np.ndarray, batch: int) -> float:
    """Σ over batches of batch size × the weighted mean of `values` in the batch."""
    starts = np.arange(0, len(values), batch)
    sizes = np.diff(np.append(starts, len(values)))
    wsum = np.add.reduceat(w, starts)
    keep = wsum > 0
    means = np.add.reduceat(w * values, starts)[keep] / wsum[keep]
    return float((means * sizes[keep]).sum())
