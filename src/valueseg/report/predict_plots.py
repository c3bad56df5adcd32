"""Displays of the predict stage, each keeping the numbers it draws.

The churn curves are scikit-learn's own displays (``RocCurveDisplay``,
``PrecisionRecallDisplay``, ``CalibrationDisplay``, ``ConfusionMatrixDisplay``) drawn for
every learner on one Axes; these classes keep their numbers (``curves_``, ``table_``,
``matrix_``) as the displays of :mod:`valueseg.report.plots` do. The gain curve of the
spend learners and the summary of the contributions (SHAP for LightGBM) are drawn here.

Every display is built from the validation fold's predictions: ``from_predictions(y,
{model: scores})``, or ``from_validation(cv)`` with a task's
:class:`~valueseg.predict.evaluate.CrossValidation` (``PredictResult.validation``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from valueseg.errors import InputError
from valueseg.report.plots import AxesLike, _Display, _new_axes

if TYPE_CHECKING:
    from valueseg.predict.evaluate import CrossValidation

__all__ = [
    "ChurnCalibrationDisplay",
    "ChurnConfusionDisplay",
    "ContributionSummaryDisplay",
    "GainCurveDisplay",
    "PrecisionRecallCurvesDisplay",
    "RocCurvesDisplay",
]


def _scores(scores: Mapping[str, ArrayLike], n: int) -> dict[str, np.ndarray]:
    out = {str(k): np.asarray(v, np.float64).ravel() for k, v in scores.items()}
    if not out:
        raise InputError("No predictions to draw: pass {model name: scores}.")
    for name, values in out.items():
        if len(values) != n:
            raise InputError(
                f"The scores of '{name}' have {len(values):,} values for {n:,} labels."
            )
    return out


def _from_cv(cv: CrossValidation) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    return cv.target, {str(c): cv.predictions[c].to_numpy() for c in cv.predictions}


class _Curves(_Display):
    """Per-model curves of binary scores against labels (``curves_``, ``summary_``)."""

    curves_: pd.DataFrame
    summary_: pd.DataFrame
    _y: np.ndarray
    _scores: dict[str, np.ndarray]

    @classmethod
    def from_predictions(cls, y: ArrayLike, scores: Mapping[str, ArrayLike]) -> Self:
        """``y``: 1 (or True) for the positive class; ``scores``: model name -> scores."""
        labels = np.asarray(y).astype(bool).ravel()
        if labels.all() or not labels.any():
            raise InputError(
                f"{cls.__name__} needs both classes among the labels. Got {len(labels):,} "
                f"labels, {int(labels.sum()):,} positive."
            )
        table = _scores(scores, len(labels))
        curves, summary = cls._numbers(labels, table)
        out = cls(curves=curves, summary=summary)
        out._y, out._scores = labels, table
        return out

    @classmethod
    def from_validation(cls, cv: CrossValidation) -> Self:
        """From the churn task's out-of-fold predictions (``PredictResult.validation``)."""
        y, scores = _from_cv(cv)
        return cls.from_predictions(y, scores)

    @classmethod
    def _numbers(
        cls, y: np.ndarray, scores: dict[str, np.ndarray]
    ) -> tuple[pd.DataFrame, pd.DataFrame]:  # pragma: no cover - overridden
        raise NotImplementedError


class RocCurvesDisplay(_Curves):
    """ROC curves of every churn model on one chart (scikit-learn's ``RocCurveDisplay``).

    Attributes
    ----------
    curves_ : pandas.DataFrame
        ``model, fpr, tpr, threshold``: the points of each curve (``roc_curve``).
    summary_ : pandas.DataFrame
        ``model, roc_auc``.

    Examples
    --------
    >>> from valueseg.report.predict_plots import RocCurvesDisplay
    >>> y = [0, 0, 1, 1]
    >>> disp = RocCurvesDisplay.from_predictions(y, {"a": [0.1, 0.4, 0.35, 0.8]})
    >>> disp.summary_
      model  roc_auc
    0     a     0.75
    """

    @classmethod
    def _numbers(
        cls, y: np.ndarray, scores: dict[str, np.ndarray]
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        from sklearn.metrics import roc_auc_score, roc_curve

        parts, rows = [], []
        for name, s in scores.items():
            fpr, tpr, thr = roc_curve(y, s)
            parts.append(pd.DataFrame({"model": name, "fpr": fpr, "tpr": tpr, "threshold": thr}))
            rows.append({"model": name, "roc_auc": float(roc_auc_score(y, s))})
        return pd.concat(parts, ignore_index=True), pd.DataFrame(rows)

    def plot(self, ax: AxesLike = None) -> Self:
        """Draw one ROC curve per model and the chance line; return ``self``."""
        from sklearn.metrics import RocCurveDisplay

        self.figure_, (self.ax_,) = _new_axes(ax)
        for row in self.summary_.itertuples():
            part = self.curves_[self.curves_["model"] == row.model]
            RocCurveDisplay(
                fpr=part["fpr"].to_numpy(),
                tpr=part["tpr"].to_numpy(),
                roc_auc=float(row.roc_auc),  # type: ignore[arg-type]
                name=str(row.model),
            ).plot(ax=self.ax_)
        self.ax_.plot([0, 1], [0, 1], color="grey", linestyle=":", label="chance")
        self.ax_.set_title("Churn: ROC curves on the validation fold")
        self.ax_.legend(loc="lower right")
        return self


class PrecisionRecallCurvesDisplay(_Curves):
    """Precision-recall curves of every churn model (``PrecisionRecallDisplay``).

    Attributes
    ----------
    curves_ : pandas.DataFrame
        ``model, recall, precision``.
    summary_ : pandas.DataFrame
        ``model, pr_auc`` (average precision) and the churn rate as ``prevalence``.
    """

    @classmethod
    def _numbers(
        cls, y: np.ndarray, scores: dict[str, np.ndarray]
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        from sklearn.metrics import average_precision_score, precision_recall_curve

        parts, rows = [], []
        for name, s in scores.items():
            precision, recall, _ = precision_recall_curve(y, s)
            parts.append(pd.DataFrame({"model": name, "recall": recall, "precision": precision}))
            rows.append(
                {
                    "model": name,
                    "pr_auc": float(average_precision_score(y, s)),
                    "prevalence": float(y.mean()),
                }
            )
        return pd.concat(parts, ignore_index=True), pd.DataFrame(rows)

    def plot(self, ax: AxesLike = None) -> Self:
        """Draw one precision-recall curve per model; return ``self``."""
        from sklearn.metrics import PrecisionRecallDisplay

        self.figure_, (self.ax_,) = _new_axes(ax)
        for row in self.summary_.itertuples():
            part = self.curves_[self.curves_["model"] == row.model]
            PrecisionRecallDisplay(
                precision=part["precision"].to_numpy(),
                recall=part["recall"].to_numpy(),
                average_precision=float(row.pr_auc),  # type: ignore[arg-type]
                name=str(row.model),
                prevalence_pos_label=float(row.prevalence),  # type: ignore[arg-type]
            ).plot(ax=self.ax_)
        self.ax_.set_title("Churn: precision and recall on the validation fold")
        return self


class ChurnCalibrationDisplay(_Display):
    """Predicted against observed churn by quantile bins (scikit-learn's ``CalibrationDisplay``).

    Attributes
    ----------
    table_ : pandas.DataFrame
        ``bin, customers, predicted, actual`` (:func:`valueseg.predict.metrics.calibration_table`).
    name_ : str

    Examples
    --------
    >>> from valueseg.report.predict_plots import ChurnCalibrationDisplay
    >>> disp = ChurnCalibrationDisplay.from_predictions([0, 1, 0, 1], [0.2, 0.8, 0.3, 0.6],
    ...                                                 n_bins=2)
    >>> disp.table_
       bin  customers  predicted  actual
    0    1          2       0.25     0.0
    1    2          2       0.70     1.0
    """

    table_: pd.DataFrame
    name_: str

    @classmethod
    def from_predictions(
        cls, y: ArrayLike, proba: ArrayLike, *, n_bins: int = 10, name: str = "chosen"
    ) -> ChurnCalibrationDisplay:
        """``y``: churned (1) or not; ``proba``: predicted churn probability."""
        from valueseg.predict.metrics import calibration_table

        labels = np.asarray(y).astype(np.float64).ravel()
        p = np.asarray(proba, np.float64).ravel()
        if len(p) != len(labels) or len(p) == 0:
            raise InputError(f"Got {len(p):,} probabilities for {len(labels):,} labels.")
        return cls(table=calibration_table(labels, p, n_bins), name=name)

    def plot(self, ax: AxesLike = None) -> Self:
        """Draw the calibration curve and the diagonal; return ``self``."""
        from sklearn.calibration import CalibrationDisplay

        self.figure_, (self.ax_,) = _new_axes(ax)
        t = self.table_
        CalibrationDisplay(
            prob_true=t["actual"].to_numpy(),
            prob_pred=t["predicted"].to_numpy(),
            y_prob=t["predicted"].to_numpy(),
            estimator_name=self.name_,
        ).plot(ax=self.ax_)
        self.ax_.set_title("Churn: predicted vs observed by decile")
        return self


class ChurnConfusionDisplay(_Display):
    """Confusion matrix at a threshold (scikit-learn's ``ConfusionMatrixDisplay``).

    Attributes
    ----------
    matrix_ : numpy.ndarray
        2 x 2 counts: rows the truth (stayed, churned), columns the prediction.
    threshold_ : float

    Examples
    --------
    >>> from valueseg.report.predict_plots import ChurnConfusionDisplay
    >>> disp = ChurnConfusionDisplay.from_predictions([0, 1, 1, 0], [0.2, 0.8, 0.4, 0.6], 0.5)
    >>> disp.matrix_.tolist()
    [[1, 1], [1, 1]]
    """

    matrix_: np.ndarray
    threshold_: float

    @classmethod
    def from_predictions(
        cls, y: ArrayLike, proba: ArrayLike, threshold: float = 0.5
    ) -> ChurnConfusionDisplay:
        """Count stayed/churned against ``proba >= threshold``."""
        from sklearn.metrics import confusion_matrix

        said = np.asarray(proba, np.float64).ravel() >= threshold
        truth = np.asarray(y).astype(bool).ravel()
        matrix = confusion_matrix(truth, said, labels=[False, True])
        return cls(matrix=matrix, threshold=float(threshold))

    def plot(self, ax: AxesLike = None) -> Self:
        """Draw the matrix; return ``self``."""
        from sklearn.metrics import ConfusionMatrixDisplay

        self.figure_, (self.ax_,) = _new_axes(ax)
        ConfusionMatrixDisplay(self.matrix_, display_labels=["stayed", "churned"]).plot(
            ax=self.ax_, colorbar=False
        )
        self.ax_.set_title(f"Churn at threshold {self.threshold_:.2f}")
        return self


class GainCurveDisplay(_Display):
    """Cumulative share of the actual spend by predicted rank, per model and perfect.

    Attributes
    ----------
    curves_ : pandas.DataFrame
        ``model, customers_share, spend_share`` (``perfect``: sorted by the actual spend).
    summary_ : pandas.DataFrame
        ``model, gini`` (normalized, :func:`valueseg.predict.metrics.normalized_gini`).

    Examples
    --------
    >>> from valueseg.report.predict_plots import GainCurveDisplay
    >>> disp = GainCurveDisplay.from_predictions([0.0, 5.0, 15.0], {"a": [1.0, 3.0, 2.0]})
    >>> disp.summary_.round(3)
      model  gini
    0     a   0.6
    """

    curves_: pd.DataFrame
    summary_: pd.DataFrame

    @classmethod
    def from_predictions(
        cls, actual: ArrayLike, predictions: Mapping[str, ArrayLike]
    ) -> GainCurveDisplay:
        """``actual`` spend per customer; ``predictions``: model name -> predicted spend."""
        from valueseg.predict.metrics import gain_curve, normalized_gini

        y = np.asarray(actual, np.float64).ravel()
        if y.sum() <= 0:
            raise InputError(f"The actual spend adds up to {y.sum():,.2f}: nothing to gain.")
        table = _scores(predictions, len(y))
        share = np.arange(1, len(y) + 1) / len(y)
        parts = [
            pd.DataFrame(
                {"model": "perfect", "customers_share": share, "spend_share": gain_curve(y, y)}
            )
        ]
        rows: list[dict[str, Any]] = []
        for name, p in table.items():
            curve = gain_curve(y, p)
            parts.append(
                pd.DataFrame({"model": name, "customers_share": share, "spend_share": curve})
            )
            rows.append({"model": name, "gini": normalized_gini(y, p)})
        return cls(curves=pd.concat(parts, ignore_index=True), summary=pd.DataFrame(rows))

    @classmethod
    def from_validation(cls, cv: CrossValidation) -> GainCurveDisplay:
        """From the spend task's out-of-fold predictions."""
        y, scores = _from_cv(cv)
        return cls.from_predictions(y, scores)

    def plot(self, ax: AxesLike = None) -> Self:
        """Draw the gain curves and the diagonal; return ``self``."""
        self.figure_, (self.ax_,) = _new_axes(ax)
        gini = dict(zip(self.summary_["model"], self.summary_["gini"], strict=True))
        for name, part in self.curves_.groupby("model", sort=False):
            label = f"{name} (Gini {gini[name]:.3f})" if name in gini else str(name)
            style = "--" if name == "perfect" else "-"
            self.ax_.plot(part["customers_share"], part["spend_share"], style, label=label)
        self.ax_.plot([0, 1], [0, 1], color="grey", linestyle=":", label="random")
        self.ax_.set_xlabel("Share of customers, highest predicted first")
        self.ax_.set_ylabel("Share of the actual spend")
        self.ax_.set_title("Spend: gain curves on the validation fold")
        self.ax_.legend(loc="lower right")
        return self


class ContributionSummaryDisplay(_Display):
    """The SHAP summary: each feature's contributions, coloured by the feature's value.

    Features are ranked by their mean absolute contribution; each dot is a customer (a
    sample of at most ``max_points`` per feature), placed at its contribution and coloured
    by the rank of its value within the feature (low blue, high red).

    Attributes
    ----------
    importance_ : pandas.DataFrame
        ``feature, mean_abs_contribution`` for the ``max_features`` drawn, largest first.
    points_ : pandas.DataFrame
        ``feature, contribution, value_rank`` (0..1) of the dots drawn.

    Examples
    --------
    >>> from valueseg.report.predict_plots import ContributionSummaryDisplay
    >>> contrib = pd.DataFrame({"a": [0.5, -0.5], "b": [0.1, 0.0], "bias": [1.0, 1.0]})
    >>> values = pd.DataFrame({"a": [3.0, 1.0], "b": [0.0, 1.0]})
    >>> ContributionSummaryDisplay.from_contributions(contrib, values).importance_
      feature  mean_abs_contribution
    0       a                   0.50
    1       b                   0.05
    """

    importance_: pd.DataFrame
    points_: pd.DataFrame

    @classmethod
    def from_contributions(
        cls,
        contributions: pd.DataFrame,
        values: pd.DataFrame,
        *,
        max_features: int = 12,
        max_points: int = 2000,
        random_state: int = 0,
    ) -> ContributionSummaryDisplay:
        """``contributions``: one column per feature (``bias`` ignored); ``values``: the
        features' values, row by row."""
        from valueseg.predict.reasons import importance

        if len(contributions) != len(values):
            raise InputError(
                f"Got {len(contributions):,} rows of contributions for {len(values):,} rows "
                "of feature values."
            )
        top = importance(contributions).head(max_features)
        rng = np.random.default_rng(random_state)
        keep = np.sort(rng.permutation(len(values))[:max_points])
        parts = []
        for feature in top["feature"]:
            v = (
                values[feature].to_numpy(np.float64)[keep]
                if feature in values
                else np.full(len(keep), np.nan)
            )
            rank = pd.Series(v).rank(pct=True).to_numpy()
            parts.append(
                pd.DataFrame(
                    {
                        "feature": feature,
                        "contribution": contributions[feature].to_numpy(np.float64)[keep],
                        "value_rank": rank,
                    }
                )
            )
        points = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
        return cls(importance=top.reset_index(drop=True), points=points)

    def plot(self, ax: AxesLike = None) -> Self:
        """Draw one row of dots per feature, largest importance on top; return ``self``."""
        self.figure_, (self.ax_,) = _new_axes(ax)
        features = list(self.importance_["feature"])[::-1]
        rng = np.random.default_rng(0)
        for y, feature in enumerate(features):
            part = self.points_[self.points_["feature"] == feature]
            jitter = rng.uniform(-0.25, 0.25, len(part))
            self.ax_.scatter(
                part["contribution"],
                y + jitter,
                c=part["value_rank"].fillna(0.5),
                cmap="coolwarm",
                vmin=0,
                vmax=1,
                s=6,
            )
        self.ax_.set_yticks(range(len(features)), features)
        self.ax_.axvline(0, color="grey", linewidth=0.8)
        self.ax_.set_xlabel("Contribution to the churn score (blue: low value, red: high)")
        self.ax_.set_title("Why customers are scored as they are")
        return self
