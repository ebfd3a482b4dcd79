"""tinygrad_mlp.sklearn: scikit-learn's estimator contract (every check of check_estimator as
its own test), its training semantics (with SGD our fits follow sklearn's own MLP epoch for
epoch: same init, batches, penalty, losses, schedules, stopping), and what users rely on:
Pipeline / GridSearchCV, pickle, partial_fit, warm_start, early_stopping, float32."""
import io
import pickle
import warnings
from contextlib import redirect_stdout

import numpy as np
import pytest
from sklearn import neural_network as sk
from sklearn.base import clone
from sklearn.datasets import load_digits, make_classification, make_multilabel_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import estimator_checks_generator

from tinygrad_mlp import nn
from tinygrad_mlp.sklearn import MLPClassifier, MLPRegressor

# ------------------------------------------------------------------ check_estimator
# Checks that cannot apply, left out instead of showing up as skips:
NOT_APPLICABLE = {
    # sklearn's MLPClassifier has no decision_function either; the check skips without one
    "check_classifiers_multilabel_output_format_decision_function",
    # no array API support (as sklearn's MLP); the check only runs when SCIPY_ARRAY_API=1
    # was set before SciPy was first imported, which a test cannot arrange for itself
    "check_array_api_input",
}


def _check_name(check):
    return getattr(check, "func", check).__name__


def _check_id(value):
    if isinstance(value, (MLPClassifier, MLPRegressor)):
        return type(value).__name__
    kwargs = getattr(value, "keywords", {})
    return _check_name(value) + ("(" + ",".join(f"{k}={v}" for k, v in kwargs.items()) + ")" if kwargs else "")


CHECKS = [(est, check) for proto in (MLPClassifier(random_state=0), MLPRegressor(random_state=0))
          for est, check in estimator_checks_generator(proto, legacy=True)
          if _check_name(check) not in NOT_APPLICABLE]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("estimator, check", CHECKS, ids=_check_id)
def test_check_estimator(estimator, check):
    check(estimator)


def test_check_list_is_complete():
    """Both estimators get the classifier / regressor checks, and only the named ones are left out."""
    names = {_check_name(c) for _, c in CHECKS}
    assert {"check_classifiers_train", "check_regressors_train", "check_estimators_pickle",
            "check_fit_idempotent", "check_estimators_dtypes"} <= names
    every = {_check_name(c) for _, c in estimator_checks_generator(MLPClassifier(), legacy=True)}
    assert NOT_APPLICABLE <= every and len(CHECKS) > 100


# ------------------------------------------------------------------ data
def _multiclass(n=150, seed=0):
    return make_classification(n, 6, n_informative=4, n_classes=3, random_state=seed)


def _binary(n=150, seed=0):
    X, y = make_classification(n, 5, random_state=seed)
    return X, np.array(["no", "yes"])[y]


def _multilabel(n=150, seed=0):
    X, Y = make_multilabel_classification(n, 6, n_classes=3, random_state=seed)
    return StandardScaler().fit_transform(X), Y


def _regression(n=150, outputs=1, seed=0):
    X, y = make_regression(n, 5, n_targets=outputs, noise=1.0, random_state=seed)
    return X, y / y.std()


def _poisson(n=150, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4))
    return X, rng.poisson(np.exp(0.5 * X[:, 0] - 0.3 * X[:, 1])).astype(float)


TASKS = {
    "multiclass": (MLPClassifier, sk.MLPClassifier, _multiclass, {}),
    "binary": (MLPClassifier, sk.MLPClassifier, _binary, {}),
    "multilabel": (MLPClassifier, sk.MLPClassifier, _multilabel, {}),
    "regression": (MLPRegressor, sk.MLPRegressor, _regression, {}),
    "regression-3-outputs": (MLPRegressor, sk.MLPRegressor, lambda: _regression(outputs=3), {}),
    "poisson": (MLPRegressor, sk.MLPRegressor, _poisson, {"loss": "poisson"}),
}


def _pair(task, **params):
    ours, theirs, data, extra = TASKS[task]
    X, y = data()
    kw = {"random_state": 0, **extra, **params}
    return ours(**kw), theirs(**kw), X, y


def _fit_quietly(est, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args, **kw)


def _assert_same_fit(ours, theirs, rtol=1e-7):
    """Equal to rounding: the largest difference seen is 1.3e-10 (Poisson, whose loss value
    sklearn computes through y·log(y / exp(z))); a wrong recipe shows at 1e-4 and beyond."""
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=rtol)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_, strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol * 100, atol=rtol * 10)


# ------------------------------------------------------------------ sklearn's semantics
SGD = {"solver": "sgd", "batch_size": 32, "learning_rate_init": 0.05, "max_iter": 12}


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("activation", ["relu", "logistic", "tanh", "identity"])
def test_sgd_follows_sklearn_epoch_for_epoch(task, activation):
    """Same seed, same initial weights, batches, penalty, loss and Nesterov momentum: the
    loss curve and weights equal sklearn's MLP to rounding."""
    ours, theirs, X, y = _pair(task, activation=activation, alpha=0.01, **SGD)
    _assert_same_fit(_fit_quietly(ours, X, y), _fit_quietly(theirs, X, y))


@pytest.mark.parametrize("params", [
    {"nesterovs_momentum": False},
    {"momentum": 0.0},
    {"shuffle": False, "batch_size": 50},
    {"alpha": 0.0, "batch_size": "auto"},
    {"batch_size": 1000},                                                 # clipped to n, warns
    {"momentum": 0.0, "learning_rate": "invscaling", "power_t": 0.3, "learning_rate_init": 0.5},
    {"momentum": 0.0, "learning_rate": "adaptive", "tol": 0.05, "n_iter_no_change": 1, "max_iter": 60},
    {"tol": 0.05, "n_iter_no_change": 2, "max_iter": 200},                # stops on tol
    {"early_stopping": True, "validation_fraction": 0.2, "n_iter_no_change": 3, "max_iter": 100},
])
@pytest.mark.parametrize("task", ["multiclass", "binary", "regression"])
def test_sgd_options_follow_sklearn(task, params):
    ours, theirs, X, y = _pair(task, **{**SGD, **params})
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        _fit_quietly(ours, X, y)
        _fit_quietly(theirs, X, y)
    clipped = [w for w in seen if "It is going to be clipped" in str(w.message)]
    assert len(clipped) == (2 if params.get("batch_size") == 1000 else 0)
    _assert_same_fit(ours, theirs)
    if params.get("early_stopping"):
        np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_)
        assert ours.best_validation_score_ == pytest.approx(theirs.best_validation_score_)
        assert ours.n_iter_ < params["max_iter"]
    if params.get("learning_rate") == "adaptive":     # the schedule really did act
        assert theirs._optimizer.learning_rate < params.get("learning_rate_init", 0.05)
        assert ours._optimizer.lr == pytest.approx(theirs._optimizer.learning_rate)


@pytest.mark.parametrize("task", ["multiclass", "binary", "regression", "poisson"])
def test_sample_weight_follows_sklearn(task):
    ours, theirs, X, y = _pair(task, alpha=0.01, **SGD)
    w = np.random.default_rng(1).uniform(0.1, 3.0, len(X))
    _assert_same_fit(_fit_quietly(ours, X, y, sample_weight=w), _fit_quietly(theirs, X, y, sample_weight=w))


def test_unit_sample_weights_change_nothing():
    X, y = _multiclass()
    a = _fit_quietly(MLPClassifier((8,), random_state=0, max_iter=20), X, y)
    b = _fit_quietly(MLPClassifier((8,), random_state=0, max_iter=20), X, y, sample_weight=np.ones(len(X)))
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-12)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=1e-10)


@pytest.mark.parametrize("task", TASKS)
def test_adam_follows_sklearn(task):
    """The engine's Adam (PyTorch's, eps after the bias correction) with eps rescaled per
    step is sklearn's Adam (eps before it)."""
    ours, theirs, X, y = _pair(task, hidden_layer_sizes=(16, 8), max_iter=15, batch_size=40,
                               learning_rate_init=0.01, epsilon=1e-4)
    _assert_same_fit(_fit_quietly(ours, X, y), _fit_quietly(theirs, X, y))


@pytest.mark.parametrize("task", TASKS)
def test_fitted_attributes_have_sklearns_structure(task):
    ours, theirs, X, y = _pair(task, hidden_layer_sizes=(7, 5), max_iter=3)
    ours, theirs = _fit_quietly(ours, X, y), _fit_quietly(theirs, X, y)
    for name in ("n_layers_", "n_outputs_", "out_activation_", "n_features_in_", "n_iter_", "t_"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert [c.shape for c in ours.coefs_] == [c.shape for c in theirs.coefs_]
    assert [b.shape for b in ours.intercepts_] == [b.shape for b in theirs.intercepts_]
    assert len(ours.loss_curve_) == len(theirs.loss_curve_) == 3
    assert isinstance(ours.loss_, float) and ours.best_loss_ == min(ours.loss_curve_)
    assert isinstance(ours.module_, nn.MLP)
    assert ours.predict(X).shape == theirs.predict(X).shape
    assert ours.predict(X).dtype == theirs.predict(X).dtype
    if hasattr(theirs, "classes_"):
        np.testing.assert_array_equal(ours.classes_, theirs.classes_)
        assert ours.predict_proba(X).shape == theirs.predict_proba(X).shape
        assert ours.predict_log_proba(X).shape == theirs.predict_log_proba(X).shape
        np.testing.assert_allclose(ours.predict_log_proba(X), np.log(ours.predict_proba(X)), rtol=1e-9)
    if task in ("binary", "multiclass"):
        np.testing.assert_allclose(ours.predict_proba(X).sum(axis=1), 1.0)
    assert isinstance(ours.score(X, y), float)


# ------------------------------------------------------------------ accuracy
def test_digits_accuracy_matches_sklearn():
    """Same hidden sizes, epochs, Adam and batch 200 as sklearn's MLPClassifier, different
    seeds: mean test accuracy over three seeds within 1.5 points."""
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X / 16, y, test_size=0.25, random_state=0)
    kw = {"hidden_layer_sizes": (64,), "max_iter": 40, "batch_size": 200, "tol": 0.0}
    ours = [_fit_quietly(MLPClassifier(random_state=s, **kw), Xtr, ytr).score(Xte, yte) for s in (1, 2, 3)]
    theirs = [_fit_quietly(sk.MLPClassifier(random_state=s + 10, **kw), Xtr, ytr).score(Xte, yte) for s in (1, 2, 3)]
    assert np.mean(theirs) > 0.9
    assert abs(np.mean(ours) - np.mean(theirs)) <= 0.015


# ------------------------------------------------------------------ Pipeline, GridSearchCV, pickle
def test_pipeline_and_grid_search():
    X, y = load_digits(return_X_y=True)
    X, y = X[:400], y[:400]
    pipe = Pipeline([("scale", StandardScaler()),
                     ("mlp", MLPClassifier(max_iter=60, learning_rate_init=0.01, random_state=0))])
    grid = {"mlp__hidden_layer_sizes": [(4,), (32,)], "mlp__alpha": [1e-4, 1.0]}
    search = _fit_quietly(GridSearchCV(pipe, grid, cv=3), X, y)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_params_["mlp__hidden_layer_sizes"] == (32,)   # 4 units cannot hold 10 digits
    assert isinstance(search.best_estimator_.named_steps["mlp"], MLPClassifier)
    assert search.best_score_ > 0.85
    assert (search.predict(X) == y).mean() > 0.95


def test_regressor_in_pipeline_cross_validates():
    X, y = _regression(n=300)
    pipe = make_pipeline(StandardScaler(), MLPRegressor(hidden_layer_sizes=(32,), max_iter=200, learning_rate_init=0.01, random_state=0))
    assert cross_val_score(pipe, X, y, cv=3).mean() > 0.9


@pytest.mark.parametrize("task", ["multiclass", "binary", "regression"])
def test_pickle_round_trip(task):
    """Same predictions after unpickling, and training goes on from the same optimizer state."""
    est, _, X, y = _pair(task, hidden_layer_sizes=(8,), max_iter=5)
    est = _fit_quietly(est, X, y)
    back = pickle.loads(pickle.dumps(est))
    method = "predict_proba" if task != "regression" else "predict"
    np.testing.assert_array_equal(getattr(back, method)(X), getattr(est, method)(X))
    np.testing.assert_array_equal(back.predict(X), est.predict(X))
    assert np.shares_memory(back.coefs_[0], back.module_.layers[0].weight.data)
    est.partial_fit(X, y)
    back.partial_fit(X, y)
    for a, b in zip(est.coefs_, back.coefs_, strict=True):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------ partial_fit, warm_start, early stopping
def test_partial_fit_over_batches_follows_sklearn():
    X, y = _multiclass(n=300)
    ours, theirs = MLPClassifier((16,), **SGD, random_state=0), sk.MLPClassifier((16,), **SGD, random_state=0)
    for epoch in range(3):
        for chunk in np.array_split(np.arange(len(X)), 4):
            ours.partial_fit(X[chunk], y[chunk], classes=[0, 1, 2])
            theirs.partial_fit(X[chunk], y[chunk], classes=[0, 1, 2])
    assert ours.n_iter_ == theirs.n_iter_ == 1 and len(ours.loss_curve_) == 12
    _assert_same_fit(ours, theirs)
    assert ours.score(X, y) > 0.7


def test_partial_fit_equals_fit_without_shuffling():
    X, y = _regression()
    kw = {"hidden_layer_sizes": (8,), "shuffle": False, "random_state": 0}
    fitted = _fit_quietly(MLPRegressor(max_iter=6, **kw), X, y)
    stepped = MLPRegressor(**kw)
    for _ in range(6):
        stepped.partial_fit(X, y)
    np.testing.assert_array_equal(stepped.loss_curve_, fitted.loss_curve_)
    np.testing.assert_array_equal(stepped.predict(X), fitted.predict(X))


def test_partial_fit_errors():
    X, y = _multiclass()
    with pytest.raises(ValueError, match="classes must be passed"):
        MLPClassifier().partial_fit(X, y)
    est = MLPClassifier((4,)).partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="not the same as on last call"):
        est.partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="classes not in"):
        est.partial_fit(X, y + 5)
    with pytest.raises(ValueError, match="early_stopping"):
        MLPClassifier(early_stopping=True).partial_fit(X, y, classes=[0, 1, 2])


def test_warm_start_continues():
    """sgd without momentum or shuffling: 3 epochs, then 3 more with warm_start, is exactly 6
    epochs; without warm_start the second fit starts again from the initial weights."""
    X, y = _multiclass()
    kw = {"hidden_layer_sizes": (8,), "solver": "sgd", "momentum": 0.0, "shuffle": False,
          "learning_rate_init": 0.05, "random_state": 0}
    six = _fit_quietly(MLPClassifier(max_iter=6, **kw), X, y)
    warm = _fit_quietly(MLPClassifier(max_iter=3, warm_start=True, **kw), X, y)
    _fit_quietly(warm, X, y)
    np.testing.assert_allclose(warm.loss_curve_, six.loss_curve_, rtol=1e-12)
    np.testing.assert_allclose(warm.coefs_[0], six.coefs_[0], rtol=1e-12)
    assert warm.n_iter_ == 3
    cold = _fit_quietly(MLPClassifier(max_iter=3, **kw), X, y)
    first = cold.loss_curve_.copy()
    _fit_quietly(cold, X, y)
    assert cold.loss_curve_ == first


def test_warm_start_follows_sklearn_and_checks_shapes():
    ours, theirs, X, y = _pair("binary", warm_start=True, **SGD)
    for est in (ours, theirs):
        _fit_quietly(est, X, y)
        _fit_quietly(est, X, y)
    _assert_same_fit(ours, theirs)
    ours.set_params(hidden_layer_sizes=(3,))
    with pytest.raises(ValueError, match="layer sizes"):
        ours.fit(X, y)


def test_early_stopping_restores_the_best_weights():
    """The run stops n_iter_no_change epochs after its best validation score; a run that
    ends at that best epoch has the same weights, so they were restored."""
    X, y = _multiclass(n=400, seed=3)
    kw = {"hidden_layer_sizes": (32,), "early_stopping": True, "n_iter_no_change": 4,
          "learning_rate_init": 0.02, "random_state": 0, "tol": 0.0}
    est = MLPClassifier(max_iter=500, **kw).fit(X, y)
    scores = est.validation_scores_
    best = int(np.argmax(scores)) + 1              # the first epoch with the best score
    assert est.n_iter_ < 500 and best < est.n_iter_
    assert max(scores[-kw["n_iter_no_change"] - 1:]) < est.best_validation_score_ == max(scores)
    at_best = _fit_quietly(MLPClassifier(max_iter=best, **kw), X, y)
    for a, b in zip(est.coefs_ + est.intercepts_, at_best.coefs_ + at_best.intercepts_, strict=True):
        np.testing.assert_array_equal(a, b)
    assert est.best_loss_ is None and len(est.loss_curve_) == est.n_iter_


# ------------------------------------------------------------------ precision
@pytest.mark.parametrize("dtype, expected", [(np.float32, np.float32), (np.float64, np.float64),
                                             (np.int64, np.float64)])
def test_precision_follows_the_input(dtype, expected):
    X, y = _multiclass()
    X = (X * 10).astype(dtype)
    clf = _fit_quietly(MLPClassifier((8,), max_iter=5, random_state=0), X, y)
    assert {c.dtype for c in clf.coefs_ + clf.intercepts_} == {np.dtype(expected)}
    assert clf.predict_proba(X).dtype == expected and clf.predict_log_proba(X).dtype == expected
    assert all(p.dtype == expected for p in clf.module_.parameters())
    Xr, yr = _regression()
    reg = _fit_quietly(MLPRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=0), (Xr * 10).astype(dtype), yr)
    assert reg.coefs_[0].dtype == expected and reg.predict((Xr * 10).astype(dtype)).dtype == expected


def test_float32_model_predicts_in_float32():
    X, y = _regression()
    reg = _fit_quietly(MLPRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=0), X.astype(np.float32), y)
    assert reg.predict(X).dtype == np.float32
    np.testing.assert_allclose(reg.predict(X), reg.predict(X.astype(np.float32)))


# ------------------------------------------------------------------ details
def test_module_outputs_logits_and_coefs_are_its_weights():
    X, y = _multiclass()
    clf = _fit_quietly(MLPClassifier((8,), max_iter=5, random_state=0), X, y)
    logits = clf.module_(X).data
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(clf.predict_proba(X), p / p.sum(axis=1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(clf.predict_proba(X)), rtol=1e-10)
    assert np.shares_memory(clf.coefs_[1], clf.module_.layers[1].weight.data)
    clf.coefs_ = [np.zeros_like(c) for c in clf.coefs_]
    clf.intercepts_ = [np.zeros_like(b) for b in clf.intercepts_]
    np.testing.assert_allclose(clf.predict_proba(X), 1 / 3)


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_extreme_inputs_leak_no_numpy_warnings(task):
    est, _, X, y = _pair(task, hidden_layer_sizes=(8,), max_iter=20, learning_rate_init=0.1)
    est = _fit_quietly(est, X * 1e3, y)
    logp = est.predict_log_proba(X * 1e4)
    assert np.isfinite(logp).all() and logp.max() <= 0
    assert (est.predict_proba(X * 1e4) >= 0).all()


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
def test_divergence_is_a_clear_error_not_numpy_warnings(loss):
    X, y = _regression()
    est = MLPRegressor(loss, solver="sgd", learning_rate_init=1.0, max_iter=20, random_state=0)
    with pytest.raises(ValueError, match="non-finite parameter weights"):
        _fit_quietly(est, X * 1e3, np.abs(y))


def test_convergence_warning_and_tol_stopping():
    X, y = _multiclass()
    with pytest.warns(ConvergenceWarning, match="Maximum iterations \\(3\\)") as seen:
        MLPClassifier((8,), max_iter=3, random_state=0).fit(X, y)
    assert seen[0].filename == __file__   # points at the caller's fit
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = MLPClassifier((8,), max_iter=100, tol=10.0, n_iter_no_change=4, random_state=0).fit(X, y)
    # the first epoch improves on inf; then 5 (> n_iter_no_change) that do not improve by tol
    assert est.n_iter_ == 6 == sk.MLPClassifier((8,), max_iter=100, tol=10.0, n_iter_no_change=4).fit(X, y).n_iter_


def test_verbose_prints_progress():
    X, y = _multiclass()
    out = io.StringIO()
    with redirect_stdout(out):
        _fit_quietly(MLPClassifier((4,), max_iter=2, verbose=True, random_state=0), X, y)
    assert out.getvalue().startswith("Iteration 1, loss = ") and "Iteration 2" in out.getvalue()


@pytest.mark.parametrize("params, match", [
    ({"solver": "lbfgs"}, "lbfgs"),
    ({"activation": "softmax"}, "activation"),
    ({"learning_rate": "cosine"}, "learning_rate"),
    ({"hidden_layer_sizes": (4, 0)}, "hidden_layer_sizes"),
    ({"batch_size": 0}, "batch_size"),
    ({"alpha": -1.0}, "alpha"),
    ({"n_iter_no_change": 0}, "n_iter_no_change"),
    ({"validation_fraction": 1.0}, "validation_fraction"),
    ({"beta_2": 1.0}, "beta_2"),
    ({"epsilon": 0.0}, "epsilon"),
    ({"max_iter": 0}, "max_iter"),
    ({"max_iter": 2.5}, "max_iter"),
    ({"momentum": 1.5}, "momentum"),
    ({"shuffle": "yes"}, "shuffle"),
])
def test_bad_parameters_raise_clear_errors(params, match):
    X, y = _multiclass()
    with pytest.raises(ValueError, match=match):
        MLPClassifier(**params).fit(X, y)


def test_regressor_loss_errors():
    X, y = _regression()
    with pytest.raises(ValueError, match="loss"):
        MLPRegressor(loss="huber").fit(X, y)
    with pytest.raises(ValueError, match="negative"):
        MLPRegressor(loss="poisson").fit(X, y)


@pytest.mark.parametrize("ours, theirs", [(MLPClassifier, sk.MLPClassifier), (MLPRegressor, sk.MLPRegressor)])
def test_constructor_is_sklearns(ours, theirs):
    """Same parameter names, defaults and positional order as scikit-learn's."""
    assert ours().get_params() == theirs().get_params()
    assert ours._get_param_names() == theirs._get_param_names()
    positional = ("poisson", (5,)) if ours is MLPRegressor else ((5,), "tanh")
    assert ours(*positional).get_params() == theirs(*positional).get_params()


def test_clone_keeps_parameters_and_drops_the_fit():
    X, y = _multiclass()
    est = _fit_quietly(MLPClassifier((5,), alpha=0.5, max_iter=2), X, y)
    fresh = clone(est)
    assert fresh.get_params() == est.get_params() and not hasattr(fresh, "coefs_")
