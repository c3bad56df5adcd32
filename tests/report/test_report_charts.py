"""The report's k-criteria and projection displays keep the numbers they draw, and refuse
what they cannot draw with a message a person can act on."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs

from valueseg.errors import InputError
from valueseg.report.charts import ClusterProjectionDisplay, KCriteriaDisplay
from valueseg.report.sections_models import validation_matrix
from valueseg.segment import Segmenter


@pytest.fixture(scope="module")
def blobs() -> np.ndarray:
    x, _ = make_blobs(n_samples=400, centers=4, n_features=3, random_state=0)
    return x


def test_k_criteria_keep_the_segmenters_scores(blobs: np.ndarray) -> None:
    seg = Segmenter(k_range=(2, 6), random_state=0).fit(blobs)
    disp = KCriteriaDisplay.from_segmenter(seg).plot()
    pd.testing.assert_frame_equal(disp.scores_, seg.k_scores_)
    assert disp.scores_ is not seg.k_scores_  # a copy: the display cannot change the fit
    assert (disp.k_, disp.votes_, disp.accepted_) == (4, seg.k_votes_, seg.k_accepted_)
    # one panel per criterion and the votes; each criterion's curve is its column
    assert len(disp.axes_) == 6
    silhouette = disp.axes_[1].lines[0].get_ydata()
    assert np.asarray(silhouette) == pytest.approx(seg.k_scores_["silhouette"].to_numpy())
    votes = [p.get_height() for p in disp.axes_[-1].patches]
    expected = [sum(k in v for v in seg.k_accepted_.values()) for k in seg.k_scores_.index]
    assert votes == expected


def test_k_criteria_draw_on_given_axes_and_only_the_columns_they_have() -> None:
    from matplotlib.figure import Figure

    scores = pd.DataFrame(
        {"inertia": [90.0, 40.0, 35.0], "gap": [0.1, 0.4, 0.42]}, index=pd.Index([2, 3, 4])
    )
    axes = list(Figure().subplots(1, 2))
    disp = KCriteriaDisplay.from_scores(scores, k=3).plot(ax=axes)
    assert disp.axes_ == axes
    with pytest.raises(InputError, match=re.escape("This plot draws on 2 axes. Got 1.")):
        KCriteriaDisplay.from_scores(scores).plot(ax=axes[0])


def test_k_criteria_refuse_a_segmenter_that_did_not_choose_k(blobs: np.ndarray) -> None:
    seg = Segmenter(n_clusters=3, random_state=0).fit(blobs)
    msg = (
        "The Segmenter scored no k; its reason: k = 3: given (n_clusters=3). Fit it with "
        "n_clusters='auto' and a k_range of two ks or more to draw the criteria."
    )
    with pytest.raises(InputError, match=re.escape(msg)):
        KCriteriaDisplay.from_segmenter(seg)
    msg = (
        "No k criterion to draw. Expected a column among inertia, silhouette, davies_bouldin, "
        "calinski_harabasz, gap; got clusters_found."
    )
    with pytest.raises(InputError, match=re.escape(msg)):
        KCriteriaDisplay.from_scores(pd.DataFrame({"clusters_found": [2, 3]}))


def test_projection_is_the_pca_of_the_matrix(blobs: np.ndarray) -> None:
    from sklearn.decomposition import PCA

    labels = [f"c{i % 3}" for i in range(len(blobs))]
    disp = ClusterProjectionDisplay.from_matrix(blobs, labels).plot()
    pca = PCA(n_components=2, svd_solver="full").fit(blobs)
    assert disp.points_[["pc1", "pc2"]].to_numpy() == pytest.approx(pca.transform(blobs))
    assert disp.explained_ == pytest.approx(pca.explained_variance_ratio_)
    assert disp.points_["cluster"].tolist() == labels
    # the dots are one image in the SVG, the axes and labels stay vector
    assert all(c.get_rasterized() for c in disp.ax_.collections)


def test_projection_samples_at_most_max_points(blobs: np.ndarray) -> None:
    labels = np.arange(len(blobs)) % 2
    disp = ClusterProjectionDisplay.from_matrix(blobs, labels, max_points=100)
    assert len(disp.points_) == 100
    again = ClusterProjectionDisplay.from_matrix(blobs, labels, max_points=100)
    pd.testing.assert_frame_equal(disp.points_, again.points_)  # seeded


def test_projection_refuses_what_it_cannot_draw(blobs: np.ndarray) -> None:
    msg = "Expected one cluster per row of the matrix. Got 2 clusters for a matrix of shape"
    with pytest.raises(InputError, match=re.escape(msg)):
        ClusterProjectionDisplay.from_matrix(blobs, ["a", "b"])
    msg = (
        "A 2-D projection needs at least 3 customers and 2 clustered columns. Got 400 "
        "customers and 1 column."
    )
    with pytest.raises(InputError, match=re.escape(msg)):
        ClusterProjectionDisplay.from_matrix(blobs[:, :1], ["a"] * len(blobs))


def test_validation_matrix_keeps_the_rows_every_model_predicted() -> None:
    sample = pd.DataFrame(
        {
            "row": [0, 1, 2, 0, 1, 2, 0, 1, 2],
            "target": [1.0, 0.0, 1.0] * 3,
            "model": ["a"] * 3 + ["b"] * 3 + ["none"] * 3,
            "prediction": [0.9, 0.2, 0.7, 0.6, None, 0.8, None, None, None],
        }
    )
    y, scores = validation_matrix(sample)
    assert y.tolist() == [1.0, 1.0]
    assert {k: v.tolist() for k, v in scores.items()} == {"a": [0.9, 0.7], "b": [0.6, 0.8]}
