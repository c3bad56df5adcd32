"""Segmenter: the scikit-learn contract, parameters, columns, algorithms, choosing k."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from valueseg.errors import InputError
from valueseg.segment import Segmenter, clustering_columns
from valueseg.segment import cluster as cluster_mod
from valueseg.segment._ksel import choose_k, knee

# Five of scikit-learn's checks set ``n_clusters = 1`` on any estimator that has the
# parameter (and HDBSCAN's configuration has it too); Segmenter refuses one cluster by
# design (a one-segment segmentation says nothing), so on Segmenter itself they fail
# before they check anything. They run in full on _KeepsItsK below.
_ONE_CLUSTER = "the check sets n_clusters=1, which Segmenter refuses by design"
_SETS_ONE_CLUSTER = [
    "check_dont_overwrite_parameters",
    "check_methods_subset_invariance",
    "check_fit2d_1sample",
    "check_fit2d_1feature",
    "check_fit2d_predict1d",
]


@parametrize_with_checks(
    [
        Segmenter(n_clusters=3, random_state=0),
        Segmenter(algorithm="agglomerative", k_range=(2, 4), random_state=0),
        Segmenter(algorithm="hdbscan", random_state=0),
    ],
    expected_failed_checks=lambda _est: dict.fromkeys(_SETS_ONE_CLUSTER, _ONE_CLUSTER),
)
def test_sklearn_contract(estimator, check):
    check(estimator)


class _KeepsItsK(Segmenter):
    """Segmenter, except that setting ``n_clusters = 1`` keeps the configured value, so
    the checks above that set it check the configuration instead (what Segmenter does
    with the one sample, one feature, 1-d input or subsets they then give it)."""

    def __setattr__(self, name: str, value: object) -> None:
        if name == "n_clusters" and isinstance(value, int) and value == 1 and hasattr(self, name):
            return
        super().__setattr__(name, value)


@parametrize_with_checks(
    [
        _KeepsItsK(n_clusters=2, random_state=0),
        _KeepsItsK(k_range=(2, 4), random_state=0),
        _KeepsItsK(algorithm="gmm", n_clusters=2, random_state=0),
        _KeepsItsK(algorithm="agglomerative", n_clusters=2, random_state=0),
        _KeepsItsK(algorithm="hdbscan", random_state=0),
    ],
)
def test_sklearn_contract_where_n_clusters_stays(estimator, check):
    check(estimator)


def test_the_checks_that_set_one_cluster_run_on_keeps_its_k():
    seg = _KeepsItsK(n_clusters=2)
    seg.n_clusters = 1
    assert seg.n_clusters == 2
    seg.n_clusters = 3
    assert seg.get_params()["n_clusters"] == 3


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=1200, centers=4, n_features=3, cluster_std=1.0, random_state=2)
    return X, y


@pytest.mark.parametrize("algorithm", ["kmeans", "minibatch", "gmm", "agglomerative"])
def test_each_algorithm_recovers_blobs_and_their_number(blobs, algorithm):
    X, y = blobs
    seg = Segmenter(algorithm=algorithm, k_range=(2, 7), random_state=0).fit(X)
    assert seg.n_clusters_ == 4
    assert adjusted_rand_score(y, seg.labels_) > 0.95
    assert sorted(seg.k_votes_) == [
        "calinski_harabasz",
        "davies_bouldin",
        "elbow",
        "gap",
        "silhouette",
    ]
    assert list(seg.k_scores_.index) == [2, 3, 4, 5, 6, 7]
    assert list(seg.k_scores_.columns) == [
        *("inertia", "clusters_found", "silhouette", "davies_bouldin"),
        *("calinski_harabasz", "gap", "gap_se"),
        *("silhouette_se", "davies_bouldin_se", "calinski_harabasz_se"),
    ]
    assert seg.k_reason_.startswith("k = 4: ")
    assert all(4 in seg.k_accepted_[c] for c in ("silhouette", "davies_bouldin"))
    np.testing.assert_array_equal(seg.predict(X), seg.labels_)
    np.testing.assert_array_equal(
        Segmenter(algorithm=algorithm, k_range=(2, 7), random_state=0).fit_predict(X),
        seg.labels_,
    )
    assert seg.cluster_centers_.shape == (4, 3)


def test_agglomerative_keeps_the_dendrogram(blobs):
    X, _ = blobs
    seg = Segmenter(algorithm="agglomerative", n_clusters=4, random_state=0).fit(X)
    assert seg.dendrogram_.shape == (len(X) - 1, 4)  # SciPy linkage: n - 1 merges
    assert seg.k_scores_ is None


def test_hdbscan_finds_the_blobs_and_may_call_noise():
    X, y = make_blobs(n_samples=900, centers=3, n_features=2, cluster_std=0.5, random_state=1)
    rng = np.random.default_rng(0)
    X = np.vstack([X, rng.uniform(X.min(0) - 5, X.max(0) + 5, size=(60, 2))])
    seg = Segmenter(algorithm="hdbscan", random_state=0).fit(X)
    assert seg.n_clusters_ == 3
    assert (seg.labels_ == -1).any()
    assert adjusted_rand_score(y, seg.labels_[:900]) > 0.9
    np.testing.assert_array_equal(seg.predict(X), seg.labels_)


def test_auto_algorithm_switches_to_minibatch_for_many_customers(blobs, monkeypatch):
    X, _ = blobs
    assert Segmenter(n_clusters=4, random_state=0).fit(X).algorithm_ == "kmeans"
    monkeypatch.setattr(cluster_mod, "MINIBATCH_ABOVE", 1000)
    assert Segmenter(n_clusters=4, random_state=0).fit(X).algorithm_ == "minibatch"


def test_k_is_chosen_on_a_sample_and_the_model_fit_on_all(blobs):
    X, y = blobs
    seg = Segmenter(k_range=(2, 6), selection_size=300, random_state=0).fit(X)
    assert seg.n_clusters_ == 4
    assert len(seg.labels_) == len(X)
    assert adjusted_rand_score(y, seg.labels_) > 0.95


def test_k_scores_are_the_mean_over_the_selection_samples(blobs, monkeypatch):
    """Each selection sample is scored on its own rows; the kept scores are their mean."""
    from valueseg.segment import _ksel

    X, _ = blobs
    seen: list[pd.DataFrame] = []
    samples: list[int] = []
    score_ks = _ksel.score_ks

    def spy(z, ks, cluster, rng):
        samples.append(len(z))
        seen.append(score_ks(z, ks, cluster, rng))
        return seen[-1]

    monkeypatch.setattr(_ksel, "score_ks", spy)
    seg = Segmenter(k_range=(2, 6), selection_size=300, selection_repeats=3, random_state=0).fit(X)
    assert samples == [300, 300, 300]
    assert not seen[0].equals(seen[1])  # other rows, other candidate fits
    mean = (seen[0] + seen[1] + seen[2]) / 3
    cols = ["inertia", "silhouette", "davies_bouldin", "calinski_harabasz", "gap"]
    pd.testing.assert_frame_equal(seg.k_scores_[cols], mean[cols])
    # the noise of each score: its standard error over the three samples
    stacked = np.stack([t["silhouette"].to_numpy() for t in seen])
    np.testing.assert_allclose(
        seg.k_scores_["silhouette_se"], stacked.std(axis=0, ddof=1) / np.sqrt(3)
    )
    gap = np.stack([t["gap"].to_numpy() for t in seen])
    refs = np.mean([t["gap_se"].to_numpy() for t in seen], axis=0)
    np.testing.assert_allclose(
        seg.k_scores_["gap_se"], np.hypot(refs, gap.std(axis=0, ddof=1) / np.sqrt(3))
    )
    assert (seg.k_scores_["clusters_found"] == list(range(2, 7))).all()
    assert seg.n_clusters_ == 4
    one = Segmenter(k_range=(2, 6), selection_size=300, selection_repeats=1, random_state=0)
    seen.clear()
    scores = one.fit(X).k_scores_
    pd.testing.assert_frame_equal(scores[seen[0].columns], seen[0])
    assert (scores["silhouette_se"] == 0).all()  # one sample: no spread to measure


def test_a_ward_tree_of_every_customer_is_scored_once(blobs, monkeypatch):
    """Below WARD_ROWS customers the Ward sample is everyone: one tree, one score table."""
    from valueseg.segment import _ksel

    X, _ = blobs
    calls: list[int] = []
    score_ks = _ksel.score_ks

    def spy(z, ks, cluster, rng):
        calls.append(len(z))
        return score_ks(z, ks, cluster, rng)

    monkeypatch.setattr(_ksel, "score_ks", spy)
    Segmenter(algorithm="agglomerative", k_range=(2, 6), random_state=0).fit(X)
    assert calls == [len(X)]
    monkeypatch.setattr(cluster_mod, "WARD_ROWS", 200)
    calls.clear()
    Segmenter(algorithm="agglomerative", k_range=(2, 6), random_state=0).fit(X)
    assert calls == [200, 200, 200]


def test_pca_keeps_enough_components():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(500, 2))
    X = np.hstack([base, base @ rng.normal(size=(2, 4)) + rng.normal(0, 0.01, (500, 4))])
    seg = Segmenter(n_clusters=2, pca=True, correlation_threshold=1.0, random_state=0).fit(X)
    assert seg.transform(X).shape == (500, seg.preprocessor_.pca_.n_components_)
    assert seg.preprocessor_.pca_.explained_variance_ratio_.sum() >= 0.95
    assert seg.transform(X).shape[1] < 6


def _feature_like(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    orders = rng.geometric(0.4, n).astype(float)
    spend = orders * rng.gamma(3, 20, n)
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "frequency": orders - 1,
            "recency": rng.uniform(0, 300, n),
            "T": rng.uniform(300, 700, n),
            "monetary_value": spend / orders,
            "tenure_days": rng.uniform(300, 700, n),
            "days_since_last_order": rng.uniform(0, 300, n),
            "orders_total": orders,
            "spend_total": spend,
            "spend_total_copy": spend * 1.0001,
            "orders_30d": rng.poisson(0.3, n),
            "spend_trend_90d": rng.uniform(-1, 1, n),
            "discount_order_share": rng.uniform(0, 1, n),
            "mean_rating": np.where(np.arange(n) % 5 != 0, np.nan, 4.0),
            "ipt_mean_days": np.where(orders > 1, rng.uniform(5, 90, n), np.nan),
            "constant": 1.0,
            "attr_region_north": rng.integers(0, 2, n),
            "channel": "web",
        }
    )
    return frame


def test_default_columns_follow_the_documented_rule():
    frame = _feature_like()
    assert clustering_columns(frame) == [
        *("tenure_days", "days_since_last_order", "orders_total", "spend_total"),
        *("spend_total_copy", "discount_order_share", "mean_rating", "ipt_mean_days"),
        "constant",
    ]
    seg = Segmenter(n_clusters=3, random_state=0).fit(frame)
    assert seg.columns_ == [
        *("tenure_days", "days_since_last_order", "orders_total", "spend_total"),
        *("discount_order_share", "ipt_mean_days"),
    ]
    assert seg.dropped_columns_ == {
        "mean_rating": "missing for 80% of customers",
        "constant": "constant",
        "spend_total_copy": "|Spearman ρ| = 1.000 with spend_total",
    }
    assert list(seg.feature_names_in_) == clustering_columns(frame)
    assert list(seg.centroids_.columns) == seg.columns_
    # skewed money and counts are logged; shares and rates are not
    logged = dict(zip(seg.columns_, seg.preprocessor_.log_, strict=True))
    assert logged["spend_total"] and not logged["discount_order_share"]
    assert not logged["days_since_last_order"]


def test_predict_on_a_new_run_with_other_columns():
    frame = _feature_like()
    seg = Segmenter(n_clusters=3, random_state=0).fit(frame)
    later = frame.assign(extra=1.0).iloc[::-1]
    np.testing.assert_array_equal(seg.predict(later), seg.labels_[::-1])
    msg = "Feature names seen at fit time, yet now missing:\n- orders_total"
    with pytest.raises(ValueError, match=re.escape(msg)):
        seg.predict(frame.drop(columns="orders_total"))


def test_missing_values_are_filled_with_the_median():
    frame = _feature_like()
    seg = Segmenter(n_clusters=3, random_state=0).fit(frame)
    z = seg.transform(frame)
    assert np.isfinite(z).all()
    j = seg.columns_.index("ipt_mean_days")
    single = frame["orders_total"].to_numpy() == 1
    assert np.allclose(z[single, j], z[single, j][0])


@pytest.mark.parametrize(
    ("params", "msg"),
    [
        (
            {"n_clusters": 1},
            "The 'n_clusters' parameter of Segmenter must be 'auto' or an int in [2, 30]. Got 1.",
        ),
        (
            {"n_clusters": 31},
            "The 'n_clusters' parameter of Segmenter must be 'auto' or an int in [2, 30]. Got 31.",
        ),
        (
            {"n_clusters": 2.5},
            "The 'n_clusters' parameter of Segmenter must be 'auto' or an int in [2, 30]. Got 2.5.",
        ),
        (
            {"algorithm": "dbscan"},
            "The 'algorithm' parameter of Segmenter must be one of auto, "
            "kmeans, minibatch, gmm, agglomerative, hdbscan. Got 'dbscan'.",
        ),
        (
            {"k_range": (1, 5)},
            "The 'k_range' parameter of Segmenter must be two ints (low, "
            "high) with 2 <= low <= high <= 30. Got (1, 5).",
        ),
        (
            {"k_range": (6, 5)},
            "The 'k_range' parameter of Segmenter must be two ints (low, "
            "high) with 2 <= low <= high <= 30. Got (6, 5).",
        ),
        (
            {"pca": 1.5},
            "The 'pca' parameter of Segmenter must be True, False or a share of "
            "variance in (0, 1). Got 1.5.",
        ),
        (
            {"correlation_threshold": 0},
            "The 'correlation_threshold' parameter of Segmenter must be a number in (0, 1]. Got 0.",
        ),
        (
            {"max_missing": -0.1},
            "The 'max_missing' parameter of Segmenter must be a number in [0, 1]. Got -0.1.",
        ),
        (
            {"selection_size": 10},
            "The 'selection_size' parameter of Segmenter must be an int >= 100. Got 10.",
        ),
        ({"n_init": 0}, "The 'n_init' parameter of Segmenter must be an int >= 1. Got 0."),
        (
            {"selection_repeats": 0},
            "The 'selection_repeats' parameter of Segmenter must be an int >= 1. Got 0.",
        ),
        (
            {"min_cluster_size": 1},
            "The 'min_cluster_size' parameter of Segmenter must be None or an int >= 2. Got 1.",
        ),
    ],
)
def test_parameter_errors(blobs, params, msg):
    with pytest.raises(InputError, match=re.escape(msg)):
        Segmenter(**params).fit(blobs[0])


def test_data_errors():
    msg = "Segmenter needs at least 3 customers to cluster; got n_samples = 2."
    with pytest.raises(InputError, match=re.escape(msg)):
        Segmenter().fit(np.array([[1.0], [2.0]]))
    msg = (
        "Every column was dropped before clustering: 0: constant; 1: missing for 100% of "
        "customers. Pass columns that vary between customers."
    )
    with pytest.raises(InputError, match=re.escape(msg)):
        Segmenter(max_missing=0.5).fit(np.array([[1.0, np.nan]] * 5))
    frame = pd.DataFrame({"customer_id": ["a", "b", "c"], "region": ["n", "s", "e"]})
    msg = (
        "No column of the frame is usable for clustering: customer_id, region. Pass "
        "columns=[...] naming numeric behaviour columns."
    )
    with pytest.raises(InputError, match=re.escape(msg)):
        Segmenter().fit(frame)
    msg = "Columns not found in the frame: nope. Available: customer_id, region."
    with pytest.raises(InputError, match=re.escape(msg)):
        Segmenter(columns=["nope"]).fit(frame)


def _scores(**columns):
    frame = pd.DataFrame(
        {
            "inertia": [100.0, 50, 30, 27],
            "silhouette": [0.30, 0.50, 0.45, 0.20],
            "davies_bouldin": [0.9, 1.0, 0.7, 1.2],
            "calinski_harabasz": [90.0, 80, 70, 60],
            "gap": [0.5, 0.4, 0.45, 0.44],
            "gap_se": [0.01] * 4,
        },
        index=[2, 3, 4, 5],
    )
    return frame.assign(**columns)


def test_knee_and_the_one_standard_error_rule():
    ks = np.arange(2, 9)
    assert knee(ks, np.array([100.0, 60, 30, 27, 25, 24, 23.5])) == 4
    assert knee(ks, np.linspace(100, 40, 7)) == 2  # a straight line has no knee
    # without noise each criterion accepts its best only: elbow 3, silhouette 3, DB 4,
    # CH 2, gap 2; no k has a majority (3 of 5); 2 and 3 have two each: the smaller wins
    k, accepted, why = choose_k(_scores())
    assert accepted == {
        "elbow": [3],
        "silhouette": [3],
        "davies_bouldin": [4],
        "calinski_harabasz": [2],
        "gap": [2],
    }
    assert k == 2
    assert why == (
        "k = 2: Calinski–Harabasz and gap accept it (within one standard error of their "
        "best); no k has a majority, and no smaller k is accepted as often."
    )
    # silhouette at 4 (0.45) is within one standard error (0.06) of its best (0.50 at
    # 3), and Davies-Bouldin at 2 (0.9) within 0.25 of its best (0.7 at 4): 4 now has
    # silhouette and DB, 3 elbow and silhouette, 2 CH, gap and DB: a majority for 2
    noisy = _scores(silhouette_se=[0.06] * 4, davies_bouldin_se=[0.25] * 4)
    k, accepted, why = choose_k(noisy)
    assert accepted["silhouette"] == [3, 4] and accepted["davies_bouldin"] == [2, 4]
    assert k == 2
    assert why == (
        "k = 2: Davies–Bouldin, Calinski–Harabasz and gap agree (within one standard "
        "error of their best)."
    )


def test_the_smallest_k_a_majority_accepts_wins():
    # every criterion's best is 5, but silhouette, DB and the gap cannot tell 4 from it
    scores = pd.DataFrame(
        {
            "inertia": [100.0, 90, 80, 20, 18],
            "silhouette": [0.2, 0.3, 0.48, 0.5, 0.3],
            "silhouette_se": [0.01, 0.01, 0.01, 0.03, 0.01],
            "davies_bouldin": [1.5, 1.2, 0.82, 0.8, 1.0],
            "davies_bouldin_se": [0.05] * 5,
            "calinski_harabasz": [50.0, 60, 70, 90, 80],
            "gap": [0.1, 0.2, 0.39, 0.4, 0.41],
            "gap_se": [0.03] * 5,
        },
        index=[3, 4, 5, 6, 7],
    )
    k, accepted, why = choose_k(scores)
    assert accepted == {
        "elbow": [6],
        "silhouette": [5, 6],
        "davies_bouldin": [5, 6],
        "calinski_harabasz": [6],
        "gap": [5, 6, 7],
    }
    assert k == 5
    assert why.startswith("k = 5: silhouette, Davies–Bouldin and gap agree")
    # the elbow of each sample counts too
    assert choose_k(scores, knees=[5, 6])[1]["elbow"] == [5, 6]


def test_equal_bounds_fix_k_and_the_reason_says_so(blobs):
    X, _ = blobs
    seg = Segmenter(k_range=(3, 3), random_state=0).fit(X)
    assert seg.n_clusters_ == 3 and seg.k_scores_ is None
    assert seg.k_reason_ == "k = 3: the only k asked for (k_range=(3, 3))."
    seg = Segmenter(n_clusters=5, random_state=0).fit(X)
    assert seg.k_reason_ == "k = 5: given (n_clusters=5)."
    assert Segmenter(algorithm="hdbscan", random_state=0).fit(X).k_reason_ is None


def test_share_columns_are_shrunk_by_two_pseudo_orders():
    from valueseg.segment._preprocess import SHARE_PRIOR_ORDERS, Preprocessor

    rng = np.random.default_rng(0)
    orders = rng.integers(1, 20, size=400).astype(float)
    share = rng.integers(0, 2, size=400).astype(float)  # one-hot-like
    share[:5] = np.nan  # no orders in the window: the mean
    other = rng.normal(size=400)
    x = np.column_stack([orders, share, other])
    names = ["orders_total", "cat_share_books", "x"]
    pre = Preprocessor(names, random_state=0).fit(x)
    mean = np.nanmean(share)
    assert pre.share_mean_ == pytest.approx([mean])
    shrunk = pre._shrink(x)
    expected = (np.nan_to_num(share) * orders + SHARE_PRIOR_ORDERS * mean) / (
        orders + SHARE_PRIOR_ORDERS
    )
    np.testing.assert_allclose(shrunk[:, 1], expected)
    np.testing.assert_array_equal(shrunk[:, [0, 2]], x[:, [0, 2]])
    # a one-order customer's share moves two thirds of the way to the mean
    one = np.flatnonzero((orders == 1) & ~np.isnan(share))[0]
    assert shrunk[one, 1] == pytest.approx(share[one] / 3 + 2 * mean / 3)
    # without an orders column (or for arrays), shares are left as they are
    plain = Preprocessor(["n", "cat_share_books", "x"], random_state=0).fit(x)
    assert plain._shrink(x) is x


def test_a_share_a_rounding_error_above_one_is_still_a_share():
    """A share whose total was summed in another order than its parts can read
    1.0000000000000002; it is shrunk (clipped to 1) as if it read 1: the clustering must
    not change with the engine's summation order (it did: k = 7 instead of 5 on
    make_shop(50_000) seed 0, on the runs where one customer's top_category_share read so)."""
    from valueseg.segment._preprocess import Preprocessor

    rng = np.random.default_rng(2)
    orders = rng.integers(1, 10, size=300).astype(float)
    share = rng.uniform(size=300)
    share[:3] = 1.0
    exact = np.column_stack([orders, share, rng.normal(size=300)])
    names = ["orders_total", "top_category_share", "x"]
    rounded = exact.copy()
    rounded[0, 1] = np.nextafter(1.0, 2.0)
    a = Preprocessor(names, random_state=0).fit(exact)
    b = Preprocessor(names, random_state=0).fit(rounded)
    assert list(b.shares_) == list(a.shares_) == [1]
    np.testing.assert_allclose(b.transform(rounded), a.transform(exact), rtol=0, atol=1e-12)
    # a column well outside [0, 1] is not a share
    wide = exact.copy()
    wide[0, 1] = 1.5
    assert len(Preprocessor(names, random_state=0).fit(wide).shares_) == 0


def test_return_rate_is_shrunk_over_purchase_lines():
    """A return rate measured on a few lines moves towards the mean; on many, it stays."""
    from valueseg.segment._preprocess import SHARE_PRIOR_ORDERS, Preprocessor

    rng = np.random.default_rng(1)
    lines = rng.integers(1, 60, size=500).astype(float)
    orders = np.maximum(1.0, lines // 3)
    rate = rng.binomial(lines.astype(int), 0.05) / lines
    x = np.column_stack([orders, lines, rate, rng.normal(size=500)])
    names = ["orders_total", "purchase_lines", "return_rate", "x"]
    pre = Preprocessor(names, random_state=0).fit(x)
    mean = rate.mean()
    shrunk = pre._shrink(x)
    expected = (rate * lines + SHARE_PRIOR_ORDERS * mean) / (lines + SHARE_PRIOR_ORDERS)
    np.testing.assert_allclose(shrunk[:, 2], expected)
    np.testing.assert_array_equal(shrunk[:, [0, 1, 3]], x[:, [0, 1, 3]])
    # one of two lines returned reads 0.5 raw, about a quarter once shrunk
    two = np.array([[1.0, 2.0, 0.5, 0.0]])
    assert pre._shrink(two)[0, 2] == pytest.approx((1 + 2 * mean) / 4)
    # without purchase_lines the rate is left as it is
    alone = Preprocessor(["orders_total", "n", "return_rate", "x"], random_state=0).fit(x)
    np.testing.assert_array_equal(alone._shrink(x)[:, 2], x[:, 2])


# ---- a fit that raises leaves the Segmenter as it was; Pipeline


def _fitted_state(seg: Segmenter) -> dict:
    return {k: v for k, v in vars(seg).items() if k.endswith("_") and not k.startswith("_")}


def test_a_failed_fit_keeps_the_previous_fit(blobs):
    """The fit fails half way (the columns are read, every one is then dropped): nothing
    of it is kept."""
    X, _ = blobs
    seg = Segmenter(n_clusters=4, random_state=0).fit(pd.DataFrame(X, columns=["a", "b", "c"]))
    before = _fitted_state(seg)
    labels = seg.predict(pd.DataFrame(X, columns=["a", "b", "c"]))
    with pytest.raises(InputError, match=r"^Every column was dropped before clustering"):
        seg.fit(np.ones((50, 2)))
    after = _fitted_state(seg)
    assert after.keys() == before.keys()
    assert all(after[k] is before[k] for k in before)
    assert list(seg.feature_names_in_) == ["a", "b", "c"] and seg.n_features_in_ == 3
    np.testing.assert_array_equal(seg.predict(pd.DataFrame(X, columns=["a", "b", "c"])), labels)


def test_a_failed_fit_leaves_a_new_segmenter_unfitted(blobs):
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    seg = Segmenter(random_state=0)
    with pytest.raises(InputError, match=r"^Every column was dropped before clustering"):
        seg.fit(np.ones((50, 2)))
    assert _fitted_state(seg) == {}
    with pytest.raises(NotFittedError):
        check_is_fitted(seg)
    with pytest.raises(NotFittedError):
        seg.predict(blobs[0])


def test_segmenter_in_a_pipeline(blobs):
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    X, _ = blobs
    shifted = X - X.min(axis=0)
    direct = Segmenter(n_clusters=4, random_state=0).fit(np.log1p(shifted))
    pipe = Pipeline(
        [("log", FunctionTransformer(np.log1p)), ("seg", Segmenter(n_clusters=4, random_state=0))]
    )
    np.testing.assert_array_equal(pipe.fit_predict(shifted), direct.labels_)
    np.testing.assert_array_equal(pipe.fit(shifted).predict(shifted), direct.labels_)
    # a step before another: fit(X, y=None) then transform
    first = Pipeline([("seg", Segmenter(n_clusters=4, random_state=0)), ("id", "passthrough")])
    np.testing.assert_allclose(
        first.fit_transform(X), Segmenter(n_clusters=4, random_state=0).fit(X).transform(X)
    )


@pytest.mark.parametrize("algorithm", ["kmeans", "minibatch"])
def test_predict_matrix_finds_the_centre_kmeans_predict_finds(algorithm):
    """predict_matrix (real-time scoring's rows) computes the nearest k-means centre
    itself; it gives the label scikit-learn's predict gives, on many points, and leaves a
    row that is not finite to scikit-learn's checks."""
    from sklearn.cluster import KMeans, MiniBatchKMeans

    rng = np.random.default_rng(4)
    z = rng.normal(size=(3000, 5))
    model_class = KMeans if algorithm == "kmeans" else MiniBatchKMeans
    model = model_class(6, n_init=2, random_state=0).fit(z)
    fresh = rng.normal(scale=2.0, size=(5000, 5))
    got = cluster_mod._predict_checked(model, fresh)
    assert got.tolist() == model.predict(fresh).tolist()
    assert len(set(got.tolist())) == 6
    with pytest.raises(ValueError, match="NaN"):
        cluster_mod._predict_checked(model, np.array([[np.nan, 0, 0, 0, 0]]))
