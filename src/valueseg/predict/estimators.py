"""``ChurnPredictor`` and ``SpendPredictor``: the learners behind one scikit-learn estimator.

Both take a feature table (:func:`valueseg.features.compute.compute_features` output, or
any frame of numbers; a text column such as ``customer_id`` is left out) or an array, and
a target: churn (1 or True: no purchase in the horizon) or the spend in the horizon. The
``learner`` parameter picks the model (:mod:`valueseg.predict.learners`); ``"btyd"`` is the
value models' baseline, read from the table's ``btyd_p_churn`` or ``btyd_expected_spend``
column (:func:`valueseg.predict.btyd.value_features`).

``contributions(X)`` explains each prediction as one number per feature, plus the bias,
adding up to the model's raw output: LightGBM's own SHAP values (``pred_contrib=True``) in
log-odds (churn) or log-spend (Tweedie) units; for a decision tree or a random forest, the
change of the node value along each tree's path (Saabas' decomposition, in probability or
money; ``method="path"`` decomposes LightGBM the same way); for the linear models,
``coefficient x (value - mean)`` in the standardised space.
"""

from __future__ import annotations

import sys
from typing import Any, Self

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from valueseg.errors import InputError
from valueseg.predict.learners import (
    BASELINE,
    BASELINE_COLUMN,
    LEARNERS,
    learner_params,
    make_learner,
)

__all__ = ["ChurnPredictor", "SpendPredictor"]

_CALIBRATIONS = (None, "isotonic", "sigmoid")


def _numeric_frame(X: Any, names: Any = None) -> Any:
    """A frame's numeric columns (``names`` when given: those the model was fitted on);
    anything else as it is, for scikit-learn's own checks."""
    if not isinstance(X, pd.DataFrame):
        return X
    if names is not None:
        missing = [n for n in names if n not in X.columns]
        if missing:
            raise InputError(
                f"The feature table lacks {len(missing)} column(s) the model was fitted on: "
                f"{', '.join(map(str, missing[:5]))}. Pass the same features as to fit."
            )
        return X[list(names)]
    return X[[c for c in X.columns if _numeric(X[c])]]


def _positive(estimator: Any, matrix: np.ndarray) -> np.ndarray:
    """P(class 1) of a fitted binary learner for a checked matrix. LightGBM's booster is
    asked directly: its scikit-learn wrapper checks the matrix again first, which on the
    few rows of a batch of posted orders costs ten times the prediction."""
    if _is_lightgbm(estimator, "LGBMClassifier"):
        return np.asarray(estimator.booster_.predict(matrix), np.float64)
    return np.asarray(estimator.predict_proba(matrix)[:, 1], np.float64)


def _predicted(estimator: Any, matrix: np.ndarray) -> np.ndarray:
    """A fitted regressor's prediction for a checked matrix (LightGBM's booster directly,
    as :func:`_positive`)."""
    if _is_lightgbm(estimator, "LGBMRegressor"):
        return np.asarray(estimator.booster_.predict(matrix), np.float64)
    return np.asarray(estimator.predict(matrix), np.float64)


def _is_lightgbm(estimator: Any, kind: str) -> bool:
    """Whether ``estimator`` is LightGBM's ``kind`` (lightgbm is imported only by the
    learners that use it: not loaded, it is not one)."""
    module = sys.modules.get("lightgbm")
    return module is not None and isinstance(estimator, getattr(module, kind))


def _numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)


class _Predictor(BaseEstimator):
    """What the two predictors share: learner choice, the matrix, contributions."""

    _task = "churn"

    def __init__(
        self,
        *,
        learner: str = "lgbm",
        random_state: int | None = None,
        n_jobs: int | None = None,
    ) -> None:
        self.learner = learner
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _check_learner(self) -> None:
        names = (*LEARNERS, BASELINE)
        if self.learner not in names:
            raise InputError(
                f"The 'learner' parameter of {type(self).__name__} must be one of "
                f"{', '.join(names)}. Got {self.learner!r}."
            )

    def _fit_matrix(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        self._check_learner()
        matrix, target = validate_data(
            self,
            _numeric_frame(X),
            y,
            dtype=np.float64,
            ensure_all_finite="allow-nan",
            y_numeric=self._task != "churn",
        )
        if self.learner == BASELINE:
            self._baseline_index()
        return matrix, target

    def matrix(self, X: Any) -> np.ndarray:
        """``X`` checked and made the float64 matrix the learner reads (its columns
        ``feature_names_in_``, in order): what every prediction checks, and what callers
        that apply two predictors fitted on the same columns check once (real-time
        scoring)."""
        check_is_fitted(self, "n_features_in_")
        names = getattr(self, "feature_names_in_", None)
        frame = _numeric_frame(X, names) if isinstance(X, pd.DataFrame) else X
        matrix: np.ndarray = validate_data(
            self, frame, reset=False, dtype=np.float64, ensure_all_finite="allow-nan"
        )
        return matrix

    def _baseline_index(self) -> int:
        column = BASELINE_COLUMN[self._task]
        names = [str(n) for n in getattr(self, "feature_names_in_", [])]
        if column not in names:
            raise InputError(
                f"learner='btyd' reads the value model's column '{column}', which the "
                "feature table lacks. Add valueseg.predict.btyd.value_features to it, or "
                "pick another learner."
            )
        return names.index(column)

    def _new_learner(self, n_rows: int) -> Any:
        return make_learner(
            self._task,
            self.learner,
            n_rows=n_rows,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
        )

    def learner_params(self) -> dict[str, Any]:
        """The fitted learner's hyperparameters, JSON-ready (``{"class": ...}`` for btyd)."""
        check_is_fitted(self, "n_features_in_")
        if self.learner == BASELINE:
            return {"class": "btyd", "column": BASELINE_COLUMN[self._task]}
        return learner_params(self.estimator_)

    def contributions(self, X: Any, *, method: str = "shap") -> pd.DataFrame:
        """Each prediction as one contribution per feature plus ``bias`` (see the module).

        Columns: the features, then ``bias``; the row sums are the model's raw output.
        ``method="path"`` explains LightGBM by Saabas' path decomposition instead of its
        exact SHAP values: the same additivity, hundreds of times faster (TreeSHAP took
        about half a millisecond per row here, 150 trees of depth 6).
        """
        from valueseg.predict.reasons import contributions

        if method not in ("shap", "path"):
            raise InputError(
                f"The 'method' parameter of contributions must be 'shap' or 'path'. Got {method!r}."
            )
        return contributions(self, self.matrix(X), method)


class ChurnPredictor(ClassifierMixin, _Predictor):
    """Probability that a customer makes no purchase in the horizon.

    Parameters
    ----------
    learner : {"lgbm", "lr", "tree", "rf", "btyd"}, default "lgbm"
        The model (:mod:`valueseg.predict.learners`); ``"btyd"`` reads the feature table's
        ``btyd_p_churn`` column.
    calibration : {None, "isotonic", "sigmoid"}, default None
        Calibrate the probabilities with scikit-learn's ``CalibratedClassifierCV``
        (three folds, one model refitted on all rows: ``ensemble=False``).
    random_state : int or None
    n_jobs : int or None
        Threads of the random forest and LightGBM.

    Attributes
    ----------
    estimator_ : the fitted learner (calibrated, when asked); absent for ``"btyd"``
    classes_ : array ``[0, 1]`` (1: no purchase in the horizon)
    feature_names_in_, n_features_in_

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"customer_id": [f"c{i}" for i in range(400)],
    ...                   "days_since_last_order": rng.uniform(0, 300, 400)})
    >>> y = rng.random(400) < X["days_since_last_order"] / 300
    >>> model = ChurnPredictor(learner="lr").fit(X, y)
    >>> model.feature_names_in_.tolist()
    ['days_since_last_order']
    >>> bool(model.predict_proba(X)[:, 1].max() > 0.7)
    True
    """

    _task = "churn"

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.input_tags.allow_nan = True
        return tags

    def __init__(
        self,
        *,
        learner: str = "lgbm",
        calibration: str | None = None,
        random_state: int | None = None,
        n_jobs: int | None = None,
    ) -> None:
        super().__init__(learner=learner, random_state=random_state, n_jobs=n_jobs)
        self.calibration = calibration

    def fit(self, X: Any, y: Any) -> Self:
        """Fit the learner on the feature table ``X`` and churn labels ``y``."""
        if self.calibration not in _CALIBRATIONS:
            raise InputError(
                "The 'calibration' parameter of ChurnPredictor must be None, 'isotonic' or "
                f"'sigmoid'. Got {self.calibration!r}."
            )
        matrix, target = self._fit_matrix(X, y)
        check_classification_targets(target)
        labels = np.unique(target)
        if len(labels) != 2:
            raise InputError(
                "ChurnPredictor.fit needs customers of both classes (churned and not). "
                f"Only binary classification is supported. Got {len(labels)} class(es) "
                f"({', '.join(map(repr, labels[:5].tolist()))}) in {len(target)} rows"
                + (": one class only." if len(labels) == 1 else ".")
            )
        self.classes_ = labels
        if self.learner == BASELINE:
            return self
        y01 = (target == labels[1]).astype(np.int64)
        estimator = self._new_learner(len(matrix))
        if self.calibration is not None:
            from sklearn.calibration import CalibratedClassifierCV

            estimator = CalibratedClassifierCV(
                estimator, method=self.calibration, cv=3, ensemble=False
            )
        self.estimator_ = estimator.fit(matrix, y01)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """``[P(buys again in the horizon), P(no purchase)]`` per row."""
        return self.predict_proba_matrix(self.matrix(X))

    def predict_proba_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """:meth:`predict_proba` of a matrix :meth:`matrix` made (not checked again)."""
        check_is_fitted(self, "n_features_in_")
        if self.learner == BASELINE:
            churn = np.clip(matrix[:, self._baseline_index()], 0.0, 1.0)
        else:
            churn = _positive(self.estimator_, matrix)
        return np.column_stack([1.0 - churn, churn])

    def predict(self, X: Any) -> np.ndarray:
        """The class with the higher probability (threshold 1/2)."""
        churn = self.predict_proba(X)[:, 1] >= 0.5
        return np.asarray(self.classes_[churn.astype(np.int64)])


class SpendPredictor(RegressorMixin, _Predictor):
    """A customer's spend in the horizon (0 for most of those who will not buy).

    Parameters
    ----------
    learner : {"lgbm", "lr", "tree", "rf", "btyd"}, default "lgbm"
        ``"lr"`` is ridge regression; ``"lgbm"`` minimises the Tweedie deviance, which suits
        a target with many zeros and a long tail; ``"btyd"`` reads ``btyd_expected_spend``.
    random_state : int or None
    n_jobs : int or None

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"spend_90d": rng.gamma(1.0, 50.0, 500)})
    >>> y = np.where(rng.random(500) < 0.5, 0.0, X["spend_90d"] * 1.2)
    >>> model = SpendPredictor(learner="tree").fit(X, y)
    >>> bool(model.predict(X).min() >= 0)
    True
    """

    _task = "spend"

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def fit(self, X: Any, y: Any) -> Self:
        """Fit the learner on the feature table ``X`` and the spend ``y``."""
        matrix, target = self._fit_matrix(X, y)
        target = target.astype(np.float64)
        self.nonnegative_ = bool(np.all(target >= 0))
        if self.learner == BASELINE:
            return self
        if self.learner == "lgbm" and (target < 0).any():
            raise InputError(
                "SpendPredictor(learner='lgbm') minimises the Tweedie deviance, which needs "
                f"a spend of 0 or more. Got {int((target < 0).sum())} negative values."
            )
        self.estimator_ = self._new_learner(len(matrix)).fit(matrix, target)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """The expected spend in the horizon (never below 0 when no spend fitted on was)."""
        return self.predict_matrix(self.matrix(X))

    def predict_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """:meth:`predict` of a matrix :meth:`matrix` made (not checked again)."""
        check_is_fitted(self, "n_features_in_")
        if self.learner == BASELINE:
            out = np.asarray(matrix[:, self._baseline_index()], np.float64)
        else:
            out = _predicted(self.estimator_, matrix)
        return np.maximum(out, 0.0) if self.nonnegative_ else out
