"""--horizon and --learners: one message naming the flag, what it got and what it accepts."""

from __future__ import annotations

import re

import pytest

from valueseg.errors import InputError
from valueseg.predict import check_predict_params

EXPECTED = "Expected a comma-separated list of: lr, tree, rf, lgbm (default: all of them)."


def test_defaults_and_normalising():
    assert check_predict_params(90, ("lr", "tree", "rf", "lgbm")) == (
        90,
        ("lr", "tree", "rf", "lgbm"),
    )
    assert check_predict_params(30, " RF , lr,rf ") == (30, ("rf", "lr"))


@pytest.mark.parametrize(
    "horizon,message",
    [
        (0, "--horizon must be from 1 to 3,650 days. Got 0."),
        (5000, "--horizon must be from 1 to 3,650 days. Got 5,000."),
        ("90", "--horizon must be a whole number of days, such as --horizon 90. Got '90'."),
        (True, "--horizon must be a whole number of days, such as --horizon 90. Got True."),
    ],
)
def test_bad_horizon(horizon, message):
    with pytest.raises(InputError, match=re.escape(message)):
        check_predict_params(horizon, "lr")


@pytest.mark.parametrize(
    "learners,message",
    [
        ("xgb", f"Unknown learner 'xgb' in --learners. {EXPECTED}"),
        ("lr,lgm", f"Unknown learner 'lgm' in --learners. Did you mean 'lgbm'? {EXPECTED}"),
        ("", f"--learners names no learner. Got ''. {EXPECTED}"),
        (3, f"--learners must be a list of learner names. Got 3. {EXPECTED}"),
    ],
)
def test_bad_learners(learners, message):
    with pytest.raises(InputError, match=re.escape(message)):
        check_predict_params(90, learners)
