"""Why a customer got the score: contributions per feature, top three in plain words.

:func:`contributions` splits a predictor's raw output into one number per feature plus a
bias (see :mod:`valueseg.predict.estimators`): LightGBM's SHAP values (``pred_contrib``),
Saabas' path decomposition for scikit-learn trees and forests, ``coefficient x (value -
mean)`` for the linear models. The BTYD baseline is explained through a linear surrogate of
its log-odds on the customer's purchase history (:func:`surrogate_contributions`).

:func:`top_reasons` keeps each customer's three largest contributions (by size, either
sign) and writes each as a fact about the customer (:mod:`valueseg.predict.texts`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import sparse

from valueseg.predict.texts import describe

if TYPE_CHECKING:
    from valueseg.predict.estimators import _Predictor

__all__ = [
    "SURROGATE_FEATURES",
    "Surrogate",
    "contributions",
    "fit_surrogate",
    "importance",
    "surrogate_contributions",
    "top_reasons",
]

#: Rows explained at a time (contributions of a million customers are built in pieces).
CHUNK = 50_000
#: The history the baseline's surrogate explains it by.
SURROGATE_FEATURES = (
    "days_since_last_order",
    "frequency",
    "tenure_days",
    "ipt_mean_days",
    "orders_90d",
    "monetary_value",
)


def contributions(predictor: _Predictor, matrix: np.ndarray, method: str = "shap") -> pd.DataFrame:
    """Per-feature contributions and ``bias`` of ``predictor``'s raw output on ``matrix``.

    ``method``: ``"shap"`` (LightGBM's exact TreeSHAP) or ``"path"`` (Saabas' path
    decomposition, for LightGBM as for scikit-learn's trees); scikit-learn's trees and
    the linear models have one method each and ignore it.
    """
    default = [f"x{i}" for i in range(predictor.n_features_in_)]
    names = [str(n) for n in getattr(predictor, "feature_names_in_", default)]
    if predictor.learner == "btyd":
        out = np.zeros((len(matrix), len(names) + 1))
        column = predictor._baseline_index()
        out[:, column] = matrix[:, column]
        return pd.DataFrame(out, columns=[*names, "bias"])
    estimator = _base_estimator(predictor.estimator_)
    explain = _explainer(estimator, matrix.shape[1], method)
    parts = [explain(matrix[i : i + CHUNK]) for i in range(0, len(matrix), CHUNK)]
    values = np.vstack(parts) if parts else np.zeros((0, len(names) + 1))
    return pd.DataFrame(values, columns=[*names, "bias"])


def _base_estimator(estimator: Any) -> Any:
    """The model inside a calibration wrapper (its contributions explain the raw score)."""
    calibrated = getattr(estimator, "calibrated_classifiers_", None)
    return calibrated[0].estimator if calibrated else estimator


def _explainer(estimator: Any, n_features: int, method: str) -> Callable[[np.ndarray], np.ndarray]:
    """A function from a chunk of rows to their contributions (bias last)."""
    if method not in ("shap", "path"):
        raise ValueError(f"unknown contribution method {method!r}")
    if hasattr(estimator, "booster_"):  # LightGBM
        booster = estimator.booster_
        if method == "shap":
            return lambda m: np.asarray(booster.predict(m, pred_contrib=True), np.float64)
        paths = _lgbm_paths(booster, n_features)
        return lambda m: paths.contributions(booster.predict(m, pred_leaf=True))
    if hasattr(estimator, "steps"):
        return lambda m: _linear(estimator, m)
    trees = getattr(estimator, "estimators_", [estimator])

    def forest(m: np.ndarray) -> np.ndarray:
        total = np.zeros((len(m), n_features + 1))
        for tree in trees:
            total += _saabas(tree, m)
        return total / len(trees)

    return forest


@dataclass
class _Paths:
    """Saabas' decomposition of a LightGBM model: per leaf of every tree, the value changes
    along its path by split feature (``step``: every tree's leaves x features)."""

    step: sparse.csr_matrix
    offset: np.ndarray  # the first row of each tree's leaves in ``step``
    bias: float  # the trees' root values, summed

    def contributions(self, leaves: np.ndarray) -> np.ndarray:
        leaves = np.asarray(leaves, np.int64).reshape(len(leaves), -1)
        n, trees = leaves.shape
        rows = (leaves + self.offset[None, :trees]).ravel()
        pick = sparse.csr_matrix(
            (np.ones(n * trees), rows, np.arange(0, n * trees + 1, trees)),
            shape=(n, self.step.shape[0]),
        )
        out = np.empty((n, self.step.shape[1] + 1))
        out[:, :-1] = (pick @ self.step).toarray()
        out[:, -1] = self.bias
        return out


def _value(node: dict[str, Any]) -> float:
    return float(node["internal_value"] if "internal_value" in node else node["leaf_value"])


def _lgbm_paths(booster: Any, n_features: int) -> _Paths:
    """Walk every tree of ``booster`` (its JSON dump) once: each leaf's path steps."""
    rows: list[int] = []
    cols: list[int] = []
    data: list[float] = []
    offset, bias, start = [], 0.0, 0
    for tree in booster.dump_model()["tree_info"]:
        offset.append(start)
        root = tree["tree_structure"]
        bias += _value(root)
        stack: list[tuple[dict[str, Any], list[tuple[int, float]]]] = [(root, [])]
        while stack:
            node, path = stack.pop()
            if "leaf_index" in node:
                for feature, change in path:
                    rows.append(start + int(node["leaf_index"]))
                    cols.append(feature)
                    data.append(change)
                continue
            here = _value(node)
            for side in ("left_child", "right_child"):
                child = node[side]
                stack.append((child, [*path, (int(node["split_feature"]), _value(child) - here)]))
        start += int(tree["num_leaves"])
    step = sparse.csr_matrix((data, (rows, cols)), shape=(max(start, 1), n_features))
    return _Paths(step, np.asarray(offset, np.int64), bias)


def _saabas(tree: Any, matrix: np.ndarray) -> np.ndarray:
    """Saabas' decomposition of one tree: value change along the path, per split feature."""
    t = tree.tree_
    value = t.value[:, 0, 1] if t.value.shape[2] > 1 else t.value[:, 0, 0]
    parent = np.full(t.node_count, -1)
    for side in (t.children_left, t.children_right):
        inner = side >= 0
        parent[side[inner]] = np.flatnonzero(inner)
    child = np.flatnonzero(parent >= 0)
    step = sparse.csr_matrix(
        (value[child] - value[parent[child]], (child, t.feature[parent[child]])),
        shape=(t.node_count, matrix.shape[1]),
    )
    path = tree.decision_path(matrix.astype(np.float32))
    out = np.empty((len(matrix), matrix.shape[1] + 1))
    out[:, :-1] = (path @ step).toarray()
    out[:, -1] = value[0]
    return out


def _linear(pipeline: Any, matrix: np.ndarray) -> np.ndarray:
    """``coef x (z - mean z)`` per input feature (indicator columns added to their feature)."""
    transform = pipeline[:-1]
    model = pipeline.steps[-1][1]
    z = transform.transform(matrix)
    coef = np.ravel(model.coef_)
    n = matrix.shape[1]
    per_column = z * coef  # the scaler centres z on the training mean
    out = np.zeros((len(matrix), n + 1))
    out[:, :n] = per_column[:, :n]
    indicator = pipeline.named_steps["impute"].indicator_
    if indicator is not None:
        for k, feature in enumerate(indicator.features_):
            out[:, feature] += per_column[:, n + k]
    out[:, -1] = float(np.ravel(model.intercept_)[0])
    return out


@dataclass
class Surrogate:
    """A ridge fit of a score's log-odds on :data:`SURROGATE_FEATURES`: fitted once
    (:func:`fit_surrogate`), it explains any customers' scores (the lake run fits it on the
    driver's sample and applies it on the executors)."""

    pipeline: Any
    names: list[str]
    r2: float

    def contributions(self, features: pd.DataFrame) -> pd.DataFrame:
        """Per-feature contributions and ``bias`` of the fitted log-odds of ``features``."""
        matrix = features[self.names].to_numpy(np.float64, na_value=np.nan)
        values = _linear(self.pipeline, matrix)
        return pd.DataFrame(values, columns=[*self.names, "bias"], index=features.index)


def fit_surrogate(features: pd.DataFrame, score: np.ndarray) -> Surrogate:
    """The :class:`Surrogate` of ``score`` (probabilities, one per row of ``features``)."""
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline

    from valueseg.predict.learners import _linear_steps

    names = [c for c in SURROGATE_FEATURES if c in features.columns]
    matrix = features[names].to_numpy(np.float64, na_value=np.nan)
    p = np.clip(np.asarray(score, np.float64), 1e-6, 1 - 1e-6)
    target = np.log(p / (1 - p))
    pipe = Pipeline([*_linear_steps(), ("model", Ridge(alpha=1.0))]).fit(matrix, target)
    r2 = float(pipe.score(matrix, target)) if len(target) > 1 else 0.0
    return Surrogate(pipe, names, r2)


def surrogate_contributions(
    features: pd.DataFrame, score: np.ndarray
) -> tuple[pd.DataFrame, float]:
    """(contributions, R²) of a ridge fit of ``logit(score)`` on :data:`SURROGATE_FEATURES`.

    The BTYD baseline is a closed form of frequency, recency and age; the surrogate says
    it in the features a person reads, and its R² says how faithfully.
    """
    surrogate = fit_surrogate(features, score)
    return surrogate.contributions(features), surrogate.r2


def importance(contrib: pd.DataFrame) -> pd.DataFrame:
    """``feature, mean_abs_contribution`` (mean |contribution| over customers), largest first."""
    table = contrib.drop(columns="bias").abs().mean()
    return (
        table.sort_values(ascending=False, kind="stable")
        .rename_axis("feature")
        .reset_index(name="mean_abs_contribution")
    )


def top_reasons(
    contrib: pd.DataFrame,
    features: pd.DataFrame,
    *,
    k: int = 3,
    context: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """``customer_id, rank, feature, value, contribution, text``: each customer's ``k`` largest.

    ``contrib`` and ``features`` are aligned row by row; ``features`` holds ``customer_id``
    and the values the texts cite. ``context`` (``horizon_days``, ``unit``) goes to the texts.
    """
    names = [c for c in contrib.columns if c != "bias"]
    values = contrib[names].to_numpy(np.float64)
    k = min(k, len(names))
    if len(values) == 0 or k == 0:
        return pd.DataFrame(
            columns=["customer_id", "rank", "feature", "value", "contribution", "text"]
        )
    top = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :k]
    rows = np.repeat(np.arange(len(values)), k)
    cols = top.ravel()
    feature = np.asarray(names, dtype=object)[cols]
    raw = features.reset_index(drop=True)
    cited = [n for n in names if n in raw.columns]
    position = {n: i for i, n in enumerate(cited)}
    matrix = raw[cited].to_numpy(np.float64, na_value=np.nan)
    where = np.array([position.get(n, -1) for n in names])[cols]
    value = np.where(where >= 0, matrix[rows, np.maximum(where, 0)], np.nan)
    out = pd.DataFrame(
        {
            "customer_id": raw["customer_id"].to_numpy()[rows],
            "rank": np.tile(np.arange(1, k + 1), len(values)),
            "feature": feature,
            "value": value,
            "contribution": values[rows, cols],
        }
    )
    out["text"] = _texts(out, raw, rows, context or {})
    return out


def _texts(
    out: pd.DataFrame, raw: pd.DataFrame, rows: np.ndarray, context: dict[str, Any]
) -> list[str]:
    texts: list[str] = [""] * len(out)
    for name, idx in out.groupby("feature", sort=False).indices.items():
        ctx = raw.iloc[rows[idx]]
        written = describe(str(name), out["value"].to_numpy()[idx], ctx, context)
        for i, text in zip(idx, written, strict=True):
            texts[i] = text
    return texts
