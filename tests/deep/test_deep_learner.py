"""SequenceLearner: shapes, padded slots unseen, a seed's determinism, save and load, errors."""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from valueseg.deep import OrderSequences, SequenceLearner
from valueseg.errors import InputError

FAST = {"epochs": 6, "hidden": 8, "batch_size": 64, "patience": 2}


@pytest.fixture(scope="module")
def toy_fit(toy_data):
    X, y, seq = toy_data(400, seed=1)
    model = SequenceLearner(random_state=0, **FAST).fit(X, y, sequences=seq)
    return model, X, y, seq


def test_shapes_and_heads(toy_fit, toy_data):
    model, X, _, seq = toy_fit
    assert model.heads_ == ("churn", "spend")
    assert model.feature_names_in_.tolist() == ["orders", "days"]  # customer_id left out
    assert model.classes_.tolist() == [0.0, 1.0]
    proba = model.predict_proba(X, sequences=seq)
    assert proba.shape == (400, 2) and np.allclose(proba.sum(axis=1), 1.0)
    assert set(np.unique(model.predict(X, sequences=seq))) <= {0, 1}
    spend = model.predict_spend(X, sequences=seq)
    assert spend.shape == (400,) and (spend >= 0).all()
    assert model.transform(X, sequences=seq).shape == (400, 8)
    assert 1 <= model.best_epoch_ <= 6 and len(model.history_) >= model.best_epoch_
    X2, y2, seq2 = toy_data(300, seed=2)  # customers it has not seen
    assert roc_auc_score(y2[:, 0], model.predict_proba(X2, sequences=seq2)[:, 1]) > 0.7


def _scrambled(seq: OrderSequences, seed: int) -> OrderSequences:
    """The same sequences with garbage in every padded slot."""
    rng = np.random.default_rng(seed)
    steps, category = seq.steps.copy(), seq.category.copy()
    pad = ~seq.mask
    steps[pad] = rng.normal(0, 100, (int(pad.sum()), steps.shape[2]))
    category[pad] = rng.integers(0, 4, int(pad.sum()))
    return OrderSequences(seq.customer_id, seq.at, steps, category, seq.mask, seq.categories)


def test_padded_slots_never_reach_an_output(toy_fit):
    model, X, _, seq = toy_fit
    assert (~seq.mask).sum() > 1000
    other = _scrambled(seq, 0)
    for method in ("predict_proba", "predict_spend", "transform"):
        np.testing.assert_array_equal(
            getattr(model, method)(X, sequences=seq), getattr(model, method)(X, sequences=other)
        )
    again = SequenceLearner(random_state=0, **FAST).fit(X, toy_fit[2], sequences=_scrambled(seq, 1))
    np.testing.assert_array_equal(
        again.predict_proba(X, sequences=seq), model.predict_proba(X, sequences=seq)
    )


def test_a_seed_gives_the_same_model_and_rows_predict_alone(toy_fit):
    model, X, y, seq = toy_fit
    twin = SequenceLearner(random_state=0, **FAST).fit(X, y, sequences=seq)
    np.testing.assert_array_equal(
        twin.predict_proba(X, sequences=seq), model.predict_proba(X, sequences=seq)
    )
    other = SequenceLearner(random_state=1, **FAST).fit(X, y, sequences=seq)
    assert not np.array_equal(
        other.predict_proba(X, sequences=seq), model.predict_proba(X, sequences=seq)
    )
    rows = np.arange(0, 400, 7)  # a row's prediction does not depend on its batch
    np.testing.assert_allclose(
        model.predict_spend(X.iloc[rows], sequences=seq.take(rows)),
        model.predict_spend(X, sequences=seq)[rows],
        rtol=1e-5,
    )


def test_save_and_load_round_trip(toy_fit, tmp_path):
    model, X, _, seq = toy_fit
    path = model.save(tmp_path / "sequence.joblib")
    back = SequenceLearner.load(path)
    assert back.get_params() == model.get_params()
    for method in ("predict_proba", "predict_spend", "transform"):
        np.testing.assert_array_equal(
            getattr(back, method)(X, sequences=seq), getattr(model, method)(X, sequences=seq)
        )


def test_one_task_alone(toy_data):
    X, y, seq = toy_data(200, seed=3)
    spend = SequenceLearner(task="spend", random_state=0, **FAST).fit(X, y[:, 1], sequences=seq)
    assert spend.heads_ == ("spend",)
    np.testing.assert_array_equal(
        spend.predict(X, sequences=seq), spend.predict_spend(X, sequences=seq)
    )
    message = (
        "This SequenceLearner was fitted without a churn target. Fit it with y of shape "
        "(n, 2) (churn, spend) or with task='churn'."
    )
    with pytest.raises(InputError, match=re.escape(message)):
        spend.predict_proba(X, sequences=seq)


@pytest.mark.parametrize(
    "params,message",
    [
        ({"task": "clv"}, "The 'task' parameter of SequenceLearner must be 'churn' or 'spend'. "),
        ({"hidden": 0}, "The 'hidden' parameter of SequenceLearner must be an int of 1 or more. "),
        ({"device": "tpu"}, "The 'device' parameter of SequenceLearner must be one of auto, "),
        (
            {"learning_rate": -1.0},
            "The 'learning_rate' parameter of SequenceLearner must be a number above 0. Got -1.0.",
        ),
    ],
)
def test_bad_parameters(toy_data, params, message):
    X, y, seq = toy_data(40, seed=4)
    with pytest.raises(InputError, match=re.escape(message)):
        SequenceLearner(**params).fit(X, y, sequences=seq)


def test_bad_inputs(toy_fit, toy_data):
    model, X, y, seq = toy_fit
    with pytest.raises(InputError, match=re.escape("needs sequences=OrderSequences")):
        SequenceLearner().fit(X, y, sequences=None)  # type: ignore[arg-type]
    with pytest.raises(InputError, match=re.escape("lacks 1 column(s) SequenceLearner was")):
        model.predict_proba(X.drop(columns="days"), sequences=seq)
    bad = y.copy()
    bad[0, 1] = -1.0
    with pytest.raises(InputError, match=re.escape("a finite spend of 0 or more. Got 1 ")):
        SequenceLearner(**FAST).fit(X, bad, sequences=seq)
    flipped = OrderSequences(
        seq.customer_id, seq.at, seq.steps, seq.category, seq.mask[:, ::-1], seq.categories
    )
    with pytest.raises(InputError, match=re.escape("needs left-padded sequences")):
        model.predict_proba(X, sequences=flipped)
    other = OrderSequences(seq.customer_id, seq.at, seq.steps, seq.category, seq.mask, ("x",))
    with pytest.raises(InputError, match=re.escape("with the vocabulary it was fitted on")):
        model.predict_proba(X, sequences=other)


def test_without_torch_one_line_names_the_extra(toy_data, monkeypatch):
    from valueseg.predict import check_predict_params

    message = "The sequence learner needs PyTorch: pip install 'valueseg[deep]'."
    X, y, seq = toy_data(20, seed=5)
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    with pytest.raises(InputError, match=f"^{re.escape(message)}$"):
        SequenceLearner().fit(X, y, sequences=seq)
    with pytest.raises(InputError, match=f"^{re.escape(message)}$"):
        check_predict_params(90, "+sequence")
    assert check_predict_params(90, "lr") == (90, ("lr",))  # the others need no torch
