"""The learner zoo: one scikit-learn (or LightGBM) estimator per name and task.

=========  ================================  =====================================
name       churn (classifier)                spend (regressor)
=========  ================================  =====================================
``lr``     logistic regression               ridge regression
``tree``   decision tree (depth 6)           decision tree (depth 6)
``rf``     random forest (100 trees)         random forest (100 trees)
``lgbm``   LightGBM, log loss, depth <= 6    LightGBM, Tweedie loss (zero-inflated)
``btyd``   the value model's P(no purchase)  expected purchases x Gamma-Gamma spend
=========  ================================  =====================================

``sequence`` (:class:`valueseg.deep.SequenceLearner`, behind the ``deep`` extra) is asked
for by name (``--learners +sequence``: the defaults and it); it reads each customer's
order sequence besides the feature table, so the leaderboard runs it through
:mod:`valueseg.deep.board` rather than :func:`make_learner` (``docs/deep.md``).

The linear learners see every feature through a signed ``log1p`` (counts and money are
heavy-tailed), median imputation with missing-value indicators, and standardisation; the
trees take the features as they are (missing values included). A random forest draws at
most :data:`RF_MAX_SAMPLES` rows per tree, so a shop of millions of customers fits in
minutes. The hyperparameters are fixed, sensible defaults: the leaderboard compares
learners, it does not tune them. Forests and LightGBM use one thread unless ``n_jobs``
says otherwise: on a busy two-core machine LightGBM's OpenMP threads, spinning against
other work, fitted nine times slower with two threads than with one.

``btyd`` is not an estimator here: it reads the value model's column of the feature table
(:data:`BASELINE_COLUMN`), see :class:`valueseg.predict.estimators.ChurnPredictor`.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np

__all__ = [
    "BASELINE",
    "BASELINE_COLUMN",
    "EXTRA_LEARNERS",
    "LEARNERS",
    "RF_MAX_SAMPLES",
    "SEQUENCE",
    "SEQUENCE_NEEDS_TORCH",
    "make_learner",
]

#: The learners a run compares by default (``--learners``), in leaderboard order.
LEARNERS: Final = ("lr", "tree", "rf", "lgbm")
#: The sequence learner (:mod:`valueseg.deep`): asked for by name only.
SEQUENCE: Final = "sequence"
#: Learners a run accepts besides the defaults (``--learners +sequence``).
EXTRA_LEARNERS: Final = (SEQUENCE,)
#: What asking for the sequence learner without PyTorch says.
SEQUENCE_NEEDS_TORCH: Final = "The sequence learner needs PyTorch: pip install 'valueseg[deep]'."
#: The value models' baseline, always on the leaderboard.
BASELINE: Final = "btyd"
#: Column of the feature table the baseline predicts with, per task.
BASELINE_COLUMN: Final = {"churn": "btyd_p_churn", "spend": "btyd_expected_spend"}
#: Rows a random forest's tree is grown on, at most.
RF_MAX_SAMPLES: Final = 100_000


def signed_log1p(x: np.ndarray) -> np.ndarray:
    """``sign(x) * log1p(|x|)``: heavy tails tamed, sign and zero kept (NaN stays NaN).

    Examples
    --------
    >>> signed_log1p(np.array([-np.e + 1, 0.0, np.e - 1])).round(6).tolist()
    [-1.0, 0.0, 1.0]
    """
    return np.sign(x) * np.log1p(np.abs(x))


def _linear_steps() -> list[tuple[str, Any]]:
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    return [
        ("log", FunctionTransformer(signed_log1p, feature_names_out="one-to-one")),
        ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
        ("scale", StandardScaler()),
    ]


def _rf_samples(n_rows: int) -> float | None:
    return None if n_rows <= RF_MAX_SAMPLES else RF_MAX_SAMPLES / n_rows


def make_learner(
    task: str, name: str, *, n_rows: int, random_state: int | None, n_jobs: int | None = None
) -> Any:
    """A new, unfitted estimator for ``task`` (``"churn"`` or ``"spend"``) named ``name``.

    ``n_rows`` is the training size (a random forest caps its sample by it).

    Examples
    --------
    >>> type(make_learner("churn", "tree", n_rows=100, random_state=0)).__name__
    'DecisionTreeClassifier'
    >>> type(make_learner("spend", "lgbm", n_rows=100, random_state=0)).__name__
    'LGBMRegressor'
    """
    churn = task == "churn"
    if name == "lr":
        from sklearn.linear_model import LogisticRegression, Ridge
        from sklearn.pipeline import Pipeline

        last = LogisticRegression(C=1.0, max_iter=1000) if churn else Ridge(alpha=1.0)
        return Pipeline([*_linear_steps(), ("model", last)])
    if name == "tree":
        from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

        tree = DecisionTreeClassifier if churn else DecisionTreeRegressor
        return tree(max_depth=6, min_samples_leaf=50, random_state=random_state)
    if name == "rf":
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        forest = RandomForestClassifier if churn else RandomForestRegressor
        return forest(
            n_estimators=100,
            min_samples_leaf=20,
            max_features="sqrt",
            max_samples=_rf_samples(n_rows),
            n_jobs=n_jobs or 1,
            random_state=random_state,
        )
    if name == "lgbm":
        from lightgbm import LGBMClassifier, LGBMRegressor

        common: dict[str, Any] = {
            "n_estimators": 150,
            "learning_rate": 0.1,
            "num_leaves": 31,
            "max_depth": 6,
            "min_child_samples": 50,
            "subsample": 0.8,
            "subsample_freq": 1,
            "colsample_bytree": 0.8,
            "reg_lambda": 1.0,
            "random_state": random_state,
            "n_jobs": n_jobs or 1,
            "verbose": -1,
        }
        if churn:
            return LGBMClassifier(**common)
        return LGBMRegressor(objective="tweedie", tweedie_variance_power=1.5, **common)
    raise ValueError(f"unknown learner {name!r}")  # names are checked before


def learner_params(estimator: Any) -> dict[str, Any]:
    """The estimator's hyperparameters as JSON can hold them (its own, not its steps')."""
    if hasattr(estimator, "steps"):
        estimator = estimator.steps[-1][1]
    out: dict[str, Any] = {"class": type(estimator).__name__}
    for key, value in estimator.get_params(deep=False).items():
        if value is None or isinstance(value, bool | int | float | str):
            out[key] = value
    return out
