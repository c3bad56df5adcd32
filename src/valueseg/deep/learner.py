"""``SequenceLearner``: churn and spend from each customer's order sequence and features.

A scikit-learn estimator around :class:`valueseg.deep.model.SequenceNet`. ``fit(X, y,
sequences=...)`` takes the static feature table ``X`` (numeric columns; a text column such
as ``customer_id`` is left out), the target and the rows' :class:`OrderSequences`
(:func:`valueseg.deep.sequences_at`). ``y`` is the task's target (churn: 1 or True for no
purchase in the horizon; spend: the spend in it, 0 or more) or, to train both heads
jointly, an ``(n, 2)`` array of churn and spend.

Training (``docs/deep.md``):

- static features: ``sign(x) log1p(|x|)``, median imputation with missing indicators,
  standardisation; step features standardised on the real steps; spend divided by the mean
  positive spend;
- Adam, mini-batches in a seeded order, gradient norm clipped at 1; the loss is the
  churn cross-entropy plus the ZILN negative log-likelihood (the heads trained);
- early stopping on a **time-ordered** split: the rows of the latest cutoff
  (``sequences.at``) validate, the earlier ones train; with one cutoff only, a seeded fifth
  of the rows validates. ``patience`` epochs without a better validation loss stop it;
  with ``refit=True`` the network is then trained afresh, same seed, on every row for
  the best number of epochs;
- deterministic on the CPU: the seed comes from ``random_state`` (resolved in ``fit``,
  the global RNGs untouched), ``torch.use_deterministic_algorithms`` and ``n_jobs``
  threads (one by default) while it fits and predicts.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from valueseg.deep._torch import deterministic, require_torch, resolve_device
from valueseg.deep.sequences import OrderSequences
from valueseg.errors import InputError

if TYPE_CHECKING:
    import torch

    from valueseg.deep.model import SequenceNet

__all__ = ["SequenceLearner"]

TASKS = ("churn", "spend")
_PREDICT_BATCH = 4096


def _static_steps() -> Any:
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    from valueseg.predict.learners import signed_log1p

    return Pipeline(
        [
            ("log", FunctionTransformer(signed_log1p)),
            (
                "impute",
                SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
            ),
            ("scale", StandardScaler()),
        ]
    )


def _whole(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise InputError(
            f"The '{name}' parameter of SequenceLearner must be an int of {low} or more. "
            f"Got {value!r}."
        )


class SequenceLearner(BaseEstimator):
    """A GRU over each customer's orders, with the static features, for churn and spend.

    Parameters
    ----------
    task : {"churn", "spend"}, default "churn"
        What ``predict`` answers (``predict_proba`` is the churn head's).
    hidden : int, default 32
        Units of the GRU and of the customer embedding (``transform``).
    epochs : int, default 30
        Most passes over the training rows.
    batch_size : int, default 512
    patience : int, default 3
        Epochs without a better validation loss before training stops.
    learning_rate : float, default 3e-3
    refit : bool, default True
        Train afresh on every row for the best number of epochs after early stopping.
    device : {"auto", "cpu", "cuda"}, default "auto"
        ``auto``: a CUDA GPU when one is visible, else the CPU.
    random_state : int or None
    n_jobs : int or None
        CPU threads while fitting and predicting (default one: the same numbers on any
        machine).

    Attributes
    ----------
    network_ : SequenceNet (on the CPU between calls)
    heads_ : tuple of str, the heads trained (``"churn"``, ``"spend"``)
    classes_ : array ``[0, 1]`` when the churn head was trained
    categories_, length_ : the sequences' vocabulary and length
    best_epoch_, history_ : the best epoch and every epoch's validation loss
    n_features_in_, feature_names_in_ : the static features

    Examples
    --------
    >>> from valueseg.deep.sequences import build_sequences
    >>> rng = np.random.default_rng(0)
    >>> gaps = rng.integers(1, 60, 200)
    >>> steps = pd.DataFrame({
    ...     "customer_id": [f"c{i}" for i in range(200)], "is_return": False,
    ...     "timestamp": pd.Timestamp("2024-06-01") - pd.to_timedelta(gaps, "D"),
    ...     "amount": 20.0, "lines": 1, "items": 1.0, "discount": 0.0, "category": None,
    ...     "views": 0, "carts": 0})
    >>> seq = build_sequences(steps, steps["customer_id"], pd.Timestamp("2024-06-01"),
    ...                       categories=[], length=4)
    >>> churned = gaps > 30
    >>> model = SequenceLearner(epochs=20, random_state=0).fit(None, churned, sequences=seq)
    >>> p = model.predict_proba(None, sequences=seq)[:, 1]
    >>> bool(p[churned].mean() > p[~churned].mean()), model.transform(None, sequences=seq).shape
    (True, (200, 32))
    """

    def __init__(
        self,
        *,
        task: str = "churn",
        hidden: int = 32,
        epochs: int = 30,
        batch_size: int = 512,
        patience: int = 3,
        learning_rate: float = 3e-3,
        refit: bool = True,
        device: str = "auto",
        random_state: int | None = None,
        n_jobs: int | None = None,
    ) -> None:
        self.task = task
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.patience = patience
        self.learning_rate = learning_rate
        self.refit = refit
        self.device = device
        self.random_state = random_state
        self.n_jobs = n_jobs

    # -- checks -------------------------------------------------------------------------
    def _check_params(self) -> None:
        if self.task not in TASKS:
            raise InputError(
                f"The 'task' parameter of SequenceLearner must be 'churn' or 'spend'. "
                f"Got {self.task!r}."
            )
        for name, low in (("hidden", 1), ("epochs", 1), ("batch_size", 1), ("patience", 0)):
            _whole(name, getattr(self, name), low)
        if self.n_jobs is not None:
            _whole("n_jobs", self.n_jobs, 1)
        rate = self.learning_rate
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not rate > 0:
            raise InputError(
                "The 'learning_rate' parameter of SequenceLearner must be a number above 0. "
                f"Got {rate!r}."
            )

    def _targets(self, y: Any, n: int) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(churn 0/1, spend) as trained: the task's alone, or both from an (n, 2) array."""
        target = np.asarray(y)
        churn: np.ndarray | None
        spend: np.ndarray | None
        if target.ndim == 2 and target.shape[1] == 2:
            churn, spend = target[:, 0], target[:, 1]
        elif target.ndim == 1:
            churn, spend = (target, None) if self.task == "churn" else (None, target)
        else:
            raise InputError(
                "SequenceLearner.fit takes y as one target per row or an (n, 2) array of "
                f"churn and spend. Got shape {target.shape}."
            )
        if len(target) != n:
            raise InputError(f"SequenceLearner.fit got {n} rows of X but {len(target)} of y.")
        return _churn01(self, churn), _spend(spend)

    # -- fit ----------------------------------------------------------------------------
    def fit(self, X: Any, y: Any, *, sequences: OrderSequences) -> Self:
        """Fit on the static features ``X``, the target ``y`` and the rows' ``sequences``."""
        self._check_params()
        torch = require_torch()
        static = self._static_fit(X, sequences)
        churn, spend = self._targets(y, len(sequences))
        self.heads_ = tuple(h for h, t in zip(TASKS, (churn, spend), strict=True) if t is not None)
        self.categories_, self.length_ = sequences.categories, sequences.length
        real = sequences.steps[sequences.mask]
        self.step_mean_ = real.mean(axis=0) if len(real) else np.zeros(real.shape[1], np.float32)
        scale = real.std(axis=0) if len(real) else np.ones(real.shape[1], np.float32)
        self.step_scale_ = np.where(scale > 0, scale, 1.0).astype(np.float32)
        positive = spend[spend > 0] if spend is not None else np.zeros(0)
        self.spend_scale_ = float(positive.mean()) if len(positive) else 1.0
        from valueseg.deep.training import train_network

        seed = int(check_random_state(self.random_state).randint(0, 2**31 - 1))
        device = resolve_device(self.device)
        with deterministic(device, self.n_jobs or 1):
            tensors = self._tensors(static, sequences, churn, spend, device)
            net, self.best_epoch_, self.history_ = train_network(self, tensors, sequences.at, seed)
        self.network_ = net.to(torch.device("cpu")).eval()
        return self

    def _static_fit(self, X: Any, sequences: OrderSequences) -> np.ndarray:
        _check_sequences(sequences)
        matrix, names = _static_matrix(X, len(sequences), None)
        if names is not None:
            self.feature_names_in_ = np.asarray(names, dtype=object)
        self.n_features_in_ = matrix.shape[1]
        self.static_ = _static_steps().fit(matrix) if matrix.shape[1] else None
        return self._static(matrix)

    def _static(self, matrix: np.ndarray) -> np.ndarray:
        if self.static_ is None:
            return np.zeros((len(matrix), 0), np.float32)
        return np.asarray(self.static_.transform(matrix), np.float32)

    def _tensors(
        self,
        static: np.ndarray,
        sequences: OrderSequences,
        churn: np.ndarray | None,
        spend: np.ndarray | None,
        device: torch.device,
    ) -> dict[str, torch.Tensor]:
        torch = require_torch()
        steps = (sequences.steps - self.step_mean_) / self.step_scale_
        out = {
            "steps": torch.from_numpy(np.ascontiguousarray(steps, np.float32)),
            "category": torch.from_numpy(np.minimum(sequences.category, len(self.categories_) + 1)),
            "mask": torch.from_numpy(np.ascontiguousarray(sequences.mask)),
            "static": torch.from_numpy(np.ascontiguousarray(static, np.float32)),
        }
        if churn is not None:
            out["churn"] = torch.from_numpy(churn.astype(np.float32))
        if spend is not None:
            out["spend"] = torch.from_numpy((spend / self.spend_scale_).astype(np.float32))
        return {k: v.to(device) for k, v in out.items()}

    # -- predict ------------------------------------------------------------------------
    def _outputs(self, X: Any, sequences: OrderSequences, what: str) -> np.ndarray:
        """The network's ``what`` (``churn``, ``spend`` or ``embedding``) for the rows."""
        check_is_fitted(self, "network_")
        torch = require_torch()
        _check_sequences(sequences)
        if sequences.categories != self.categories_:
            raise InputError(
                "SequenceLearner needs sequences=OrderSequences with the vocabulary it was "
                f"fitted on ({len(self.categories_)} categories). Build them with "
                "categories=model.categories_."
            )
        names = getattr(self, "feature_names_in_", None)
        matrix, _ = _static_matrix(X, len(sequences), names)
        if matrix.shape[1] != self.n_features_in_:
            raise InputError(
                f"SequenceLearner was fitted on {self.n_features_in_} static features; X has "
                f"{matrix.shape[1]}. Pass the same features as to fit."
            )
        device = resolve_device(self.device)
        with deterministic(device, self.n_jobs or 1), torch.inference_mode():
            tensors = self._tensors(self._static(matrix), sequences, None, None, device)
            net = self.network_.to(device)
            try:
                return _forward(net, tensors, what, self.hidden)
            finally:
                self.network_ = net.to(torch.device("cpu"))

    def _need(self, head: str) -> None:
        check_is_fitted(self, "network_")
        if head not in self.heads_:
            raise InputError(
                f"This SequenceLearner was fitted without a {head} target. Fit it with y of "
                f"shape (n, 2) (churn, spend) or with task='{head}'."
            )

    def predict_proba(self, X: Any, *, sequences: OrderSequences) -> np.ndarray:
        """``[P(buys again in the horizon), P(no purchase)]`` per row (the churn head)."""
        self._need("churn")
        churn = self._outputs(X, sequences, "churn")
        return np.column_stack([1.0 - churn, churn])

    def predict_spend(self, X: Any, *, sequences: OrderSequences) -> np.ndarray:
        """The expected spend in the horizon (the ZILN head's mean)."""
        self._need("spend")
        return self._outputs(X, sequences, "spend") * self.spend_scale_

    def predict(self, X: Any, *, sequences: OrderSequences) -> np.ndarray:
        """The task's answer: churn 0/1 (threshold 1/2) or the expected spend."""
        if self.task == "spend":
            return self.predict_spend(X, sequences=sequences)
        return (self.predict_proba(X, sequences=sequences)[:, 1] >= 0.5).astype(np.int64)

    def transform(self, X: Any, *, sequences: OrderSequences) -> np.ndarray:
        """The customer embedding: ``hidden`` numbers per row."""
        return self._outputs(X, sequences, "embedding")

    # -- persistence --------------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state: dict[str, Any] = super().__getstate__()
        net = state.get("network_")
        if net is not None:
            state["network_"] = copy.deepcopy(net).to("cpu")
        return state

    def save(self, path: str | Path) -> Path:
        """Write the fitted learner (hyperparameters, weights, preprocessing) to ``path``."""
        import joblib

        check_is_fitted(self, "network_")
        joblib.dump(self, Path(path), compress=3)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> SequenceLearner:
        """A learner written by :meth:`save`."""
        import joblib

        require_torch()
        model = joblib.load(Path(path))
        if not isinstance(model, cls):
            raise InputError(
                f"{path} holds a {type(model).__name__}, not a SequenceLearner. Pass a file "
                "written by SequenceLearner.save."
            )
        return model


def _check_sequences(sequences: Any) -> None:
    """OrderSequences, left-padded (a row's real steps are its last ones)."""
    if not isinstance(sequences, OrderSequences):
        raise InputError(
            "SequenceLearner needs sequences=OrderSequences (valueseg.deep.sequences_at). "
            f"Got {type(sequences).__name__}."
        )
    if (np.diff(sequences.mask.astype(np.int8), axis=1) < 0).any():
        raise InputError(
            "SequenceLearner needs left-padded sequences: a row's real steps last, padding "
            "first. Build them with valueseg.deep.build_sequences."
        )


def _churn01(model: SequenceLearner, churn: np.ndarray | None) -> np.ndarray | None:
    if churn is None:
        return None
    labels = np.unique(churn)
    if len(labels) != 2:
        raise InputError(
            "SequenceLearner needs customers of both churn classes (churned and not). "
            f"Got {len(labels)} class(es) in {len(churn)} rows."
        )
    model.classes_ = labels
    return (churn == labels[1]).astype(np.float64)


def _spend(spend: np.ndarray | None) -> np.ndarray | None:
    if spend is None:
        return None
    values = np.asarray(spend, np.float64)
    if not np.all(np.isfinite(values)) or (values < 0).any():
        raise InputError(
            "SequenceLearner's spend head (a zero-inflated lognormal) needs a finite spend of "
            f"0 or more. Got {int((~(values >= 0)).sum())} negative or missing values."
        )
    return values


def _static_matrix(X: Any, n: int, names: Any) -> tuple[np.ndarray, list[str] | None]:
    """The static features as floats (a frame's numeric columns, or ``names``)."""
    if X is None:
        return np.zeros((n, 0)), None
    if isinstance(X, pd.DataFrame):
        if names is not None:
            missing = [c for c in names if c not in X.columns]
            if missing:
                raise InputError(
                    f"The feature table lacks {len(missing)} column(s) SequenceLearner was "
                    f"fitted on: {', '.join(map(str, missing[:5]))}. Pass the same features."
                )
            cols = [str(c) for c in names]
        else:
            cols = [str(c) for c in X.columns if _numeric(X[c])]
        matrix = X[cols].to_numpy(np.float64)
    else:
        matrix, cols = np.asarray(X, np.float64), None
    if matrix.ndim != 2 or len(matrix) != n:
        raise InputError(
            f"SequenceLearner needs X with one row per sequence ({n}). Got shape {matrix.shape}."
        )
    return matrix, cols


def _numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)


def _forward(net: SequenceNet, tensors: dict[str, torch.Tensor], what: str, hidden: int) -> Any:
    from valueseg.deep.model import ziln_mean

    torch = require_torch()
    n = len(tensors["steps"])
    parts = []
    for start in range(0, n, _PREDICT_BATCH):
        batch = [tensors[k][start : start + _PREDICT_BATCH] for k in _INPUTS]
        if what == "embedding":
            parts.append(net.embed(*batch))
            continue
        churn, spend = net(*batch)
        parts.append(torch.sigmoid(churn) if what == "churn" else ziln_mean(spend))
    if not parts:
        return np.zeros((0, hidden) if what == "embedding" else 0)
    return torch.cat(parts).cpu().numpy().astype(np.float64)


_INPUTS = ("steps", "category", "mask", "static")
