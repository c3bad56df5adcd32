"""--learners +sequence, and importing valueseg without importing PyTorch."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import datetime

import pytest

from valueseg.errors import InputError
from valueseg.params import check_run_params
from valueseg.predict import check_predict_params

DEFAULTS = ("lr", "tree", "rf", "lgbm")
EXPECTED = (
    "Expected a comma-separated list of: lr, tree, rf, lgbm (default: all of them). "
    "A leading + adds to them: --learners +sequence."
)


@pytest.mark.parametrize(
    "value,names",
    [
        ("+sequence", (*DEFAULTS, "sequence")),
        (" + sequence ", (*DEFAULTS, "sequence")),
        ("+sequence,lgbm", (*DEFAULTS, "sequence")),
        (("+sequence",), (*DEFAULTS, "sequence")),
        ("lr,sequence", ("lr", "sequence")),
        ("SEQUENCE", ("sequence",)),
        ("lr,tree,rf,lgbm", DEFAULTS),
        ("+", DEFAULTS),
    ],
)
def test_a_leading_plus_adds_to_the_defaults(value, names):
    assert check_predict_params(90, value) == (90, names)


@pytest.mark.parametrize(
    "value,message",
    [
        (
            "+sequnce",
            f"Unknown learner 'sequnce' in --learners. Did you mean 'sequence'? {EXPECTED}",
        ),
        ("+xgb", f"Unknown learner 'xgb' in --learners. {EXPECTED}"),
    ],
)
def test_a_bad_name_is_one_line_naming_the_flag(value, message):
    with pytest.raises(InputError, match=f"^{re.escape(message)}$"):
        check_predict_params(90, value)


@pytest.mark.parametrize(
    "learners,expected",
    [("lr,tree,rf,lgbm", (*DEFAULTS, "sequence")), ("lgbm,sequence", ("lgbm", "sequence"))],
)
def test_cluster_features_embedding_brings_the_sequence_learner(learners, expected):
    params = check_run_params(learners=learners, cluster_features="+embedding")
    assert params.cluster_embedding and params.learners == expected
    assert params.record(params.as_of or datetime(2025, 1, 1))["cluster_features"] == "+embedding"
    assert not check_run_params().cluster_embedding


def test_an_unknown_cluster_features_value_is_one_line():
    with pytest.raises(InputError, match=r"^Unknown --cluster-features 'embedding'\. Expected"):
        check_run_params(cluster_features="embedding")


def test_importing_valueseg_does_not_import_torch():
    code = (
        "import sys, valueseg, valueseg.predict, valueseg.deep, valueseg.deep.board; "
        "from valueseg.predict.stage import predict_stage; "
        "print('torch' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "False"
