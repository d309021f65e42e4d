"""The scikit-learn estimators: scikit-learn's own estimator checks, pipelines and grid search,
string labels, partial_fit, and pickles that carry no kernels into a fresh process."""
from __future__ import annotations

import pickle
import subprocess
import sys
import warnings

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_iris, make_regression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from symbackprop.sklearn import NetworkClassifier, NetworkRegressor

#: checks that cannot apply, each with the reason (docs/guide.md lists them too)
NOT_APPLICABLE = {
    "check_array_api_input": "the kernels take NumPy arrays; inputs of other array libraries are converted by "
                             "validate_data, there is no array-API code path to check",
}


@parametrize_with_checks([NetworkClassifier(hidden=(32,), random_state=0),
                          NetworkRegressor(hidden=(32,), random_state=0)])
def test_scikit_learn_estimator_checks(estimator, check):
    name = getattr(check, "func", check).__name__
    if name in NOT_APPLICABLE:
        pytest.skip(NOT_APPLICABLE[name])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # batch_size clipped on the checks' tiny data sets
        check(estimator)


def test_grid_search_in_a_pipeline_on_breast_cancer():
    X, y = load_breast_cancer(return_X_y=True)
    pipe = Pipeline([("scale", StandardScaler()), ("net", NetworkClassifier(hidden=(16,), epochs=30, random_state=0))])
    search = GridSearchCV(pipe, {"net__lr": [0.01, 0.05], "net__activation": ["relu", "tanh"]}, cv=5).fit(X, y)
    assert search.best_score_ >= 0.97
    assert search.best_estimator_[-1].n_features_in_ == 30


def test_string_labels_probabilities_and_scores():
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = make_pipeline(StandardScaler(), NetworkClassifier(hidden=(16,), epochs=60, random_state=0)).fit(X, names)
    assert list(clf[-1].classes_) == ["setosa", "versicolor", "virginica"]
    assert set(clf.predict(X)) <= set(names) and clf.score(X, names) > 0.93
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.array_equal(clf[-1].classes_[proba.argmax(axis=1)], clf.predict(X))
    assert len(clf[-1].history_.epochs) == 60 and clf[-1].loss_curve_[-1] < clf[-1].loss_curve_[0]


def test_binary_uses_one_sigmoid_output_and_early_stopping():
    X, y = load_breast_cancer(return_X_y=True)
    clf = make_pipeline(StandardScaler(), NetworkClassifier(hidden=(8,), epochs=200, patience=5,
                                                            random_state=0)).fit(X, y)
    net = clf[-1].model_.network
    assert net.n_outputs == 1 and net.loss.name == "bce"
    assert clf[-1].n_iter_ < 200 and clf[-1].history_.stopped_early
    assert cross_val_score(clf, X, y, cv=3).mean() > 0.95


def test_partial_fit_continues_training():
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    clf = NetworkClassifier(hidden=(16,), random_state=0)
    with pytest.raises(ValueError, match="classes="):
        clf.partial_fit(X, y)
    for _ in range(20):
        clf.partial_fit(X[:100], y[:100], classes=[0, 1, 2])  # the first batch lacks class 2's rows
    assert clf.n_iter_ == 20 and list(clf.classes_) == [0, 1, 2]
    clf.partial_fit(X[100:], y[100:])
    assert clf.n_iter_ == 21


def test_regressor_multi_output():
    X, Y = make_regression(200, 5, n_targets=2, noise=1.0, random_state=0)
    Y = Y / Y.std(axis=0)
    reg = NetworkRegressor(hidden=(32,), epochs=60, random_state=0).fit(X, Y)
    assert reg.predict(X).shape == (200, 2) and reg.score(X, Y) > 0.9


def test_pickled_estimator_predicts_identically_in_a_fresh_process(tmp_path):
    X, y = load_iris(return_X_y=True)
    clf = make_pipeline(StandardScaler(), NetworkClassifier(hidden=(16,), epochs=20, random_state=0)).fit(X, y)
    path = tmp_path / "clf.pkl"
    path.write_bytes(pickle.dumps(clf))
    joblib.dump(clf, tmp_path / "clf.joblib")
    assert b"CPUDispatcher" not in path.read_bytes()  # no compiled kernels in the pickle
    np.save(tmp_path / "X.npy", X)
    code = ("import pickle, sys, joblib, numpy as np\n"
            "X = np.load(sys.argv[1] + '/X.npy')\n"
            "a = pickle.loads(open(sys.argv[1] + '/clf.pkl', 'rb').read())\n"
            "b = joblib.load(sys.argv[1] + '/clf.joblib')\n"
            "np.save(sys.argv[1] + '/p.npy', a.predict_proba(X))\n"
            "assert (b.predict_proba(X) == a.predict_proba(X)).all()\n")
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, timeout=300)
    assert np.array_equal(np.load(tmp_path / "p.npy"), clf.predict_proba(X))


def test_bad_settings_are_refused_at_fit_with_a_named_message():
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match="hidden must be positive"):
        NetworkClassifier(hidden=(0,)).fit(X, y)
    with pytest.raises(ValueError, match="unknown optimizer"):
        NetworkClassifier(optimizer="sgdd").fit(X, y)
    with pytest.raises(ValueError, match="only one class"):
        NetworkClassifier().fit(X[:10], y[:10])


def test_settings_that_cannot_apply_are_named():
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    with pytest.raises(ValueError, match="image_shape describes the images of arch"):
        NetworkClassifier(image_shape=(1, 8, 8)).fit(X, y)
    with pytest.raises(ValueError, match=r"must be \(channels, rows, cols\)"):
        NetworkClassifier(arch="conv:4:3", image_shape=(8, 8)).fit(X, y)
    with pytest.raises(ValueError, match="give image_shape"):
        NetworkClassifier(arch="conv:4:3").fit(X, y)
    with pytest.raises(ValueError, match="not both"):
        NetworkClassifier(arch="dense:8", hidden=(8,)).fit(X, y)
    with pytest.raises(ValueError, match="needs a classification loss"):
        NetworkClassifier(loss="mse").fit(X, y)
    with pytest.raises(ValueError, match="independent sigmoids"):
        NetworkClassifier(loss="bce").fit(X, y)
    with pytest.raises(ValueError, match=r"y holds class 2, which is not among the classes \[0, 1\]"):
        NetworkClassifier().partial_fit(X, y, classes=[0, 1])
    cnn = NetworkClassifier(arch="conv:4:3,maxpool:2", image_shape=(1, 8, 8), epochs=2, random_state=0)
    assert cnn.fit(X / 16, y).score(X / 16, y) > 0.5


def test_review_findings_on_the_estimators():
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    fitted = NetworkClassifier(hidden=(8,), epochs=3, random_state=0).fit(X, y)
    before = fitted.predict(X)
    fitted.check(X, np.array(list("abc"))[y])  # checks run on a clone
    assert np.array_equal(fitted.predict(X), before) and list(fitted.classes_) == [0, 1, 2]
    early = NetworkClassifier(hidden=(8,), patience=2, random_state=0)
    early.partial_fit(X, y, classes=[0, 1, 2])  # one epoch at a time: patience does not apply
    with pytest.warns(UserWarning, match="clipped to 5"):
        early.partial_fit(X[:5], y[:5])  # clipped on every call, not only the first
    assert early.n_iter_ == 2
    tiny = NetworkClassifier(hidden=(4,), epochs=3, patience=1, random_state=0)
    tiny.fit(X[::5], y[::5])  # 30 rows, 3 validation rows: too few to stratify, split plainly
    assert tiny.n_iter_ <= 3
    binary = NetworkClassifier(hidden=(4,), epochs=2, loss="binary_crossentropy", random_state=0)
    binary.fit(X[:100], y[:100])
    assert binary.model_.network.n_outputs == 1
    np.testing.assert_allclose(binary.predict_proba(X[:100]).sum(axis=1), 1.0)
