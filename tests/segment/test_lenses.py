"""segment_customers: a failed clustering is said in the notes, a defect is not."""

from __future__ import annotations

import json

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


def test_the_run_says_why_k_and_keeps_short_rules_with_their_fit(features):
    result = lenses.segment_customers(features)
    k = result.segmenter.n_clusters_
    assert 3 <= k <= 8
    assert result.notes[-1] == f"behavioural clusters, 3 to 8 looked for: {result.k_reason}"
    assert result.k_reason.startswith(f"k = {k}: ")
    rows = result.segments[result.segments["lens"] == "cluster"]
    for row in rows.to_dict("records"):
        profile = json.loads(row["profile"])
        assert 1 <= len(row["rules"].splitlines()) <= 2
        assert [r["text"] for r in profile["rules"]] == [
            line.removeprefix("or ") for line in row["rules"].splitlines()
        ]
        assert all(len(r["conditions"]) <= 3 for r in profile["rules"])
        fit = profile["rule_fit"]
        assert fit["size"] == row["size"]
        assert 0 < fit["precision"] <= 1 and 0 < fit["recall"] <= 1
        assert len(profile["name_evidence"]) == len(profile["name_words"])
        assert profile["k_reason"] == result.k_reason


def test_clusters_sets_the_range_and_one_number_fixes_k(features):
    result = lenses.segment_customers(features, clusters=(4, 4))
    assert result.segmenter.n_clusters_ == 4
    assert result.notes[-1] == "behavioural clusters: 4, as asked (--clusters 4)."


def test_a_carried_name_must_still_be_backed(features):
    """A cluster keeps last run's name only while its members bear every word out."""
    first = lenses.segment_customers(features)
    rows = first.segments.copy()
    again = lenses.segment_customers(features, previous=rows)
    assert _cluster_names(again) == _cluster_names(first)
    # last run's biggest cluster claimed to be "Lapsed" big spenders: its members are not
    clusters = rows["lens"] == "cluster"
    biggest = rows[clusters]["size"].idxmax()
    profile = json.loads(rows.at[biggest, "profile"])
    profile["name_words"] = ["Lapsed", "big spenders"]
    rows.at[biggest, "profile"] = json.dumps(profile)
    rows.at[biggest, "segment"] = "Lapsed big spenders (old)"
    renamed = lenses.segment_customers(features, previous=rows)
    assert "Lapsed big spenders (old)" not in _cluster_names(renamed)
    assert _cluster_names(renamed) == _cluster_names(first)
    # a row from before names were checked (no words) is not carried either
    del profile["name_words"]
    rows.at[biggest, "profile"] = json.dumps(profile)
    assert "Lapsed big spenders (old)" not in _cluster_names(
        lenses.segment_customers(features, previous=rows)
    )


def _cluster_names(result):
    rows = result.segments[result.segments["lens"] == "cluster"]
    return sorted(rows["segment"])
