"""segment_customers: a failed clustering is said in the notes, a defect is not."""

from __future__ import annotations

import pytest

from valueseg.errors import InputError
from valueseg.segment import lenses
from valueseg.segment.cluster import Segmenter


@pytest.fixture(scope="module")
def features(features_of):
    return features_of(600, 1).drop(columns="planted")


def test_the_three_lenses(features):
    result = lenses.segment_customers(features)
    assert set(result.segments["lens"]) == {"rfm", "value_tier", "cluster"}
    assert result.customers["cluster"].notna().all()
    assert result.segmenter is not None and result.stability is not None


def test_a_refusal_of_the_clusterer_is_said_and_the_other_lenses_stay(monkeypatch, features):
    def refuses(self, z, k, rng):
        raise InputError("refused by the test")

    monkeypatch.setattr(Segmenter, "_fit_k", refuses)
    result = lenses.segment_customers(features)
    assert "no behavioural clusters: refused by the test" in result.notes
    assert set(result.segments["lens"]) == {"rfm", "value_tier"}
    assert result.customers["cluster"].isna().all()
    assert result.customers["rfm_segment"].notna().all()


@pytest.mark.parametrize("exc", [ValueError, ZeroDivisionError, KeyError, TypeError])
@pytest.mark.parametrize("where", ["clusterer", "rules"])
def test_a_defect_surfaces_from_segment_customers(exc, where, monkeypatch, features):
    """Only the library's own errors mean "no behavioural clusters"; a bug is not one (a
    plain ValueError included: it used to be taken for one)."""

    def broken(*args, **kwargs):
        raise exc("planted")

    if where == "clusterer":
        monkeypatch.setattr(Segmenter, "_fit_k", broken)
    else:
        monkeypatch.setattr(lenses, "cluster_rules", broken)
    with pytest.raises(exc, match="planted"):
        lenses.segment_customers(features)
