"""The HTML report of a real run: every section's heading, chart and reading, the numbers
of each reading computed again here from the store's tables, and the reports of stores
that lack a stage (no run, no products, no second run)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from markupsafe import escape

import valueseg as vs
from valueseg.errors import InputError
from valueseg.report import ReportResult, write_report
from valueseg.report.readings import count, money, number, pct
from valueseg.store import Store

TITLES = {
    "data": "Data quality",
    "kpis": "Key figures",
    "rfm": "RFM segments",
    "value": "Customer value",
    "models": "Value models",
    "predict": "Churn and spend",
    "clusters": "Behavioural clusters",
    "migration": "Migration since the previous run",
    "recommend": "Recommendations",
    "actions": "Actions and experiments",
}


@pytest.fixture(scope="module")
def shop() -> vs.synth.Shop:
    return vs.make_shop(2000, random_state=5)


@pytest.fixture(scope="module")
def run_db(tmp_path_factory: pytest.TempPathFactory, shop) -> Path:
    """A store with one real run of 2,000 customers (one learner, 3 to 6 clusters looked
    for, so the segmenter scores the k criteria)."""
    db = tmp_path_factory.mktemp("run") / "shop.duckdb"
    vs.ingest(shop.transactions, db=db)
    vs.run(db, learners="lr", clusters="3-6")
    return db


@pytest.fixture(scope="module")
def report(run_db: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[ReportResult, str]:
    out = tmp_path_factory.mktemp("report")
    result = write_report(run_db, out=out / "report.html", images=out / "img")
    return result, result.path.read_text(encoding="utf-8")


def _section(result: ReportResult, key: str):
    return next(s for s in result.sections if s.key == key)


def _html_section(html: str, key: str) -> str:
    match = re.search(rf'<section id="{key}".*?</section>', html, flags=re.S)
    assert match, key
    return match.group(0)


def _frame(db: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).df()


# -- the whole file ------------------------------------------------------------------------
def test_every_section_has_its_heading_and_reading(report) -> None:
    result, html = report
    assert [s.key for s in result.sections] == list(TITLES)
    for s in result.sections:
        part = _html_section(html, s.key)
        assert f"<h2>{TITLES[s.key]}</h2>" in part
        assert s.reading and s.reading.endswith(".")
        assert f'<p class="reading">{escape(s.reading)}</p>' in part


def test_the_file_is_self_contained_and_small(report) -> None:
    result, html = report
    assert result.size_bytes == result.path.stat().st_size < 2_000_000
    for banned in ("<script", "<link", "<img", "@import", " src=", "url(http"):
        assert banned not in html
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", html))
    assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}
    assert html.count("<style") == 1  # the CSS once, none per chart
    assert "@media print" in html


def test_charts_are_inline_svg_and_written_as_png(report) -> None:
    result, html = report
    expected = {
        "data": "orders_per_month",
        "rfm": "rfm_grid",
        "value": "clv_distribution",
        "models": "calibration",
        "predict": "churn_leaderboard",
        "clusters": "cluster_sizes",
        "recommend": "recommend_evaluation",
    }
    for key, chart in expected.items():
        assert chart in _section(result, key).charts
        figure = re.search(rf'<figure id="{key}-{chart}".*?</figure>', html, flags=re.S)
        assert figure and "<svg" in figure.group(0), (key, chart)
    charts = [f"{s.key}-{c}.png" for s in result.sections for c in s.charts]
    assert sorted(p.name for p in result.images) == sorted(charts)
    for path in result.images:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids))  # every chart's ids made unique in the page


# -- readings against the store ----------------------------------------------------------------
def test_data_quality_reading(report, run_db: Path, shop) -> None:
    section = _section(report[0], "data")
    loads = _frame(run_db, "SELECT * FROM loads")
    read, accepted = int(loads["rows_read"].sum()), int(loads["accepted"].sum())
    assert read == len(shop.transactions)
    assert section.numbers["rows_read"] == read
    assert section.numbers["accepted"] == accepted
    assert f"{count(read)} rows read in 1 load: {count(accepted)} accepted" in section.reading
    first = shop.transactions["timestamp"].min()
    assert f"purchases from {first:%Y-%m-%d}" in section.reading


def _customers(db: Path) -> pd.DataFrame:
    scores = _frame(db, "SELECT * FROM customer_scores WHERE run_id = 1")
    features = _frame(db, "SELECT customer_id, spend_total, orders_total FROM customer_features")
    return scores.merge(features, on="customer_id")


def test_kpi_reading(report, run_db: Path) -> None:
    section = _section(report[0], "kpis")
    c = _customers(run_db)
    n, active = len(c), int((c["p_alive"] > 0.5).sum())
    revenue, repeat = float(c["spend_total"].sum()), int((c["orders_total"] >= 2).sum())
    assert section.numbers["customers"] == n == 2000
    assert section.numbers["active"] == active
    assert section.numbers["revenue"] == pytest.approx(revenue)
    assert section.numbers["repeat"] == repeat
    assert section.numbers["churners"] == pytest.approx(c["churn_probability"].sum())
    assert section.numbers["predicted_365d"] == pytest.approx(c["predicted_clv_365d"].sum())
    assert f"{count(n)} customers bought {money(revenue)}" in section.reading
    assert f"{count(active)} ({pct(active / n)}) are likely still active" in section.reading
    assert f"{pct(repeat / n)} ordered more than once" in section.reading


def test_rfm_reading_and_grid(report, run_db: Path) -> None:
    section = _section(report[0], "rfm")
    c = _customers(run_db)
    by = c.groupby("rfm_segment").agg(size=("customer_id", "size"), rev=("spend_total", "sum"))
    top = by.sort_values(["rev", "size"], ascending=False).index[0]
    size, share = int(by.loc[top, "size"]), by.loc[top, "rev"] / by["rev"].sum()
    assert section.numbers["top_customers"] == size
    assert section.numbers["top_revenue_share"] == pytest.approx(share)
    assert section.reading.startswith(
        f"{top}: {count(size)} customers ({pct(size / len(c))}) bring {pct(share)} of revenue"
    )
    html = _html_section(report[1], "rfm")
    for name in ("Champions", "Hibernating", "At Risk"):
        assert name in html  # the grid's names, drawn in the SVG and in the table


def test_rfm_grid_draws_the_customers_of_every_cell(run_db: Path) -> None:
    from valueseg.report.section import Context
    from valueseg.report.sections_overview import rfm
    from valueseg.store.report import report_run

    with Store(run_db, read_only=True) as store:
        section = rfm(Context(store, report_run(store, None), None))
    cells = section.charts[0].display.cells_
    c = _customers(run_db)
    expected = c.groupby(["rfm_r", "rfm_f"]).size()
    got = cells.set_index(["r", "f"])["customers"]
    assert int(got.sum()) == len(c)
    for (r, f), n in expected.items():
        assert got.loc[(r, f)] == n


def test_value_reading(report, run_db: Path) -> None:
    section = _section(report[0], "value")
    c = _customers(run_db)
    top = c[c["value_tier"] != "Rest"]
    rev = top["spend_total"].sum() / c["spend_total"].sum()
    clv = top["predicted_clv_365d"].sum() / c["predicted_clv_365d"].sum()
    assert section.numbers["top_customers"] == len(top)
    assert section.numbers["top_revenue_share"] == pytest.approx(rev)
    assert section.numbers["top_clv_share"] == pytest.approx(clv)
    assert f"The {count(len(top))} customers ({pct(len(top) / len(c))})" in section.reading
    assert f"brought {pct(rev)} of revenue and hold {pct(clv)}" in section.reading
    assert {"clv_distribution", "p_alive_matrix", "expected_purchases_matrix"} <= set(
        section.charts
    )


def test_value_models_reading(report, run_db: Path) -> None:
    section = _section(report[0], "models")
    fits = _frame(run_db, "SELECT model, backtest FROM model_fits WHERE chosen")
    chosen = fits[fits["model"] != "gamma_gamma"].iloc[0]
    bt = json.loads(chosen["backtest"])
    assert section.reading.startswith(f"{chosen['model']} was chosen")
    assert f"predicted {count(bt['predicted_total'])} repeat purchases" in section.reading
    assert f"against {count(bt['actual_total'])} actual" in section.reading
    assert "tracking" in section.charts
    assert "<td>" + chosen["model"] + "</td>" in _html_section(report[1], "models")


def test_predict_reading(report, run_db: Path) -> None:
    section = _section(report[0], "predict")
    fits = _frame(run_db, "SELECT task, model, metrics, chosen FROM predict_fits")
    churn = fits[(fits["task"] == "churn") & fits["chosen"]].iloc[0]
    auc = json.loads(churn["metrics"])["roc_auc"]
    assert section.numbers["churn_roc_auc"] == pytest.approx(auc)
    assert f"Churn is predicted by {churn['model']} (ROC AUC {number(auc)}" in section.reading
    reasons = _frame(run_db, "SELECT feature, contribution FROM customer_reasons")
    strongest = reasons.assign(a=reasons["contribution"].abs()).groupby("feature")["a"].mean()
    assert f"the strongest reason given is {strongest.idxmax()}" in section.reading
    html = _html_section(report[1], "predict")
    assert "value at stake" in html and "Churn: validation fold" in html


def test_cluster_reading(report, run_db: Path) -> None:
    section = _section(report[0], "clusters")
    c = _customers(run_db)
    sizes = c["segment"].value_counts()
    assert section.numbers["clusters"] == len(sizes)
    assert 3 <= len(sizes) <= 6
    assert section.numbers["largest"] == sizes.iloc[0]
    assert f"the largest, {sizes.index[0]}, holds {count(sizes.iloc[0])}" in section.reading
    assert "their rules place" in section.reading
    assert "Rules in words" in _html_section(report[1], "clusters")


# -- curves of the validation sample, k criteria and projection of the segmenter -------------
def _built(db: Path, build):
    """One section built again on the store (its Displays, which the report lets go)."""
    from valueseg.report.section import Context
    from valueseg.store.report import report_run

    with Store(db, read_only=True) as store:
        section = build(Context(store, report_run(store, None), None))
    return section, {c.key: c for c in section.charts}


def _sample(db: Path, task: str) -> tuple[pd.Series, pd.DataFrame]:
    """The stored validation sample of ``task``: the target and one column per model."""
    v = _frame(db, f"SELECT * FROM predict_validation WHERE run_id = 1 AND task = '{task}'")
    wide = v.pivot(index="row", columns="model", values="prediction")
    return v.groupby("row")["target"].first().reindex(wide.index), wide


def _fits(db: Path, task: str) -> dict[str, dict]:
    fits = _frame(db, f"SELECT model, metrics, chosen FROM predict_fits WHERE task = '{task}'")
    return {r.model: {"chosen": bool(r.chosen), **json.loads(r.metrics)} for r in fits.itertuples()}


def test_churn_curves_are_the_stored_sample(report, run_db: Path) -> None:
    from sklearn.metrics import average_precision_score, confusion_matrix, roc_auc_score

    from valueseg.predict.metrics import calibration_table
    from valueseg.report.sections_models import predictions

    _, charts = _built(run_db, predictions)
    y, wide = _sample(run_db, "churn")
    fits = _fits(run_db, "churn")
    assert set(wide.columns) == set(fits) == {"lr", "btyd"}
    roc = charts["churn_roc"].display.summary_.set_index("model")["roc_auc"]
    pr = charts["churn_pr"].display.summary_.set_index("model")["pr_auc"]
    for model in wide.columns:
        assert roc[model] == pytest.approx(roc_auc_score(y, wide[model]))
        assert pr[model] == pytest.approx(average_precision_score(y, wide[model]))
        if len(y) == fits[model]["customers"]:  # the sample holds the whole fold
            assert roc[model] == pytest.approx(fits[model]["roc_auc"])
    chosen = next(m for m, f in fits.items() if f["chosen"])
    cal = charts["churn_calibration"].display.table_
    pd.testing.assert_frame_equal(cal, calibration_table(y.to_numpy(), wide[chosen].to_numpy()))
    confusion = charts["churn_confusion"].display
    threshold = fits[chosen]["threshold"]
    assert confusion.threshold_ == threshold
    expected = confusion_matrix(y.astype(bool), wide[chosen] >= threshold, labels=[False, True])
    assert confusion.matrix_.tolist() == expected.tolist()
    assert confusion.matrix_.sum() == len(y)
    # the captions say where the curves come from
    html = _html_section(report[1], "predict")
    for key in ("churn_roc", "churn_pr", "churn_calibration", "churn_confusion"):
        figure = re.search(rf'<figure id="predict-{key}".*?</figure>', html, flags=re.S)
        assert figure and "<svg" in figure.group(0), key
        assert f"Drawn from a sample of {count(len(y))} validation customers." in figure.group(0)
    assert "(from its precision and recall)" not in html  # the sample's matrix replaces it


def test_spend_gain_curves_are_the_stored_sample(report, run_db: Path) -> None:
    from valueseg.predict.metrics import gain_curve, normalized_gini
    from valueseg.report.sections_models import predictions

    _, charts = _built(run_db, predictions)
    y, wide = _sample(run_db, "spend")
    gain = charts["spend_gain"].display
    gini = gain.summary_.set_index("model")["gini"]
    for model in wide.columns:
        assert gini[model] == pytest.approx(normalized_gini(y.to_numpy(), wide[model].to_numpy()))
        curve = gain.curves_.loc[gain.curves_["model"] == model, "spend_share"].to_numpy()
        assert curve == pytest.approx(gain_curve(y.to_numpy(), wide[model].to_numpy()))
    assert "spend_gain" in _section(report[0], "predict").charts
    assert f"a sample of {count(len(y))} validation customers" in _html_section(
        report[1], "predict"
    )


def test_k_criteria_are_the_segmenters(report, run_db: Path) -> None:
    from valueseg.report.sections_clusters import clusters
    from valueseg.store.estimators import read_estimator

    _, charts = _built(run_db, clusters)
    with Store(run_db, read_only=True) as store:
        seg = read_estimator(store, 1, "segmenter")
    disp = charts["k_criteria"].display
    pd.testing.assert_frame_equal(disp.scores_, seg.k_scores_)
    assert disp.k_ == seg.n_clusters_ == _section(report[0], "clusters").numbers["clusters"]
    assert disp.votes_ == seg.k_votes_
    assert disp.accepted_ == seg.k_accepted_
    assert list(disp.scores_.index) == [3, 4, 5, 6]
    assert len(disp.axes_) == 6  # five criteria and the count of votes
    html = _html_section(report[1], "clusters")
    figure = re.search(r'<figure id="clusters-k_criteria".*?</figure>', html, flags=re.S)
    assert figure and "<svg" in figure.group(0)
    assert str(escape(seg.k_reason_)) in figure.group(0)


def test_projection_is_the_segmenters_matrix(report, run_db: Path) -> None:
    from sklearn.decomposition import PCA

    from valueseg.report.sections_clusters import clusters
    from valueseg.store.estimators import read_estimator

    _, charts = _built(run_db, clusters)
    with Store(run_db, read_only=True) as store:
        seg = read_estimator(store, 1, "segmenter")
    points = charts["cluster_projection"].display.points_
    c = _customers(run_db)
    assert len(points) == min(2000, len(c)) == 2000  # every customer of this run
    assert points["cluster"].value_counts().to_dict() == c["segment"].value_counts().to_dict()
    # the same cloud from the stored features through the segmenter's preprocessing
    names = list(seg.feature_names_in_)
    features = _frame(run_db, "SELECT * FROM customer_features WHERE run_id = 1")
    xy = PCA(n_components=2, svd_solver="full").fit_transform(seg.transform(features[names]))
    got = np.sort(np.abs(points[["pc1", "pc2"]].to_numpy()), axis=0)
    assert got == pytest.approx(np.sort(np.abs(xy), axis=0))
    assert "Every customer on the first two principal components" in _html_section(
        report[1], "clusters"
    )


def test_recommend_reading(report, run_db: Path) -> None:
    section = _section(report[0], "recommend")
    ev = _frame(
        run_db,
        "SELECT model, chosen, value, customers FROM recommend_evaluation "
        "WHERE cohort = 'all' AND segment = 'all' AND metric = 'hit_rate'",
    )
    chosen = ev[ev["chosen"]].iloc[0]
    pop = ev[ev["model"] == "popularity"].iloc[0]
    assert section.numbers["hit_rate"] == pytest.approx(chosen["value"])
    assert (
        f"{chosen['model']} (chosen) finds a later purchase in its top 10 for "
        f"{pct(chosen['value'])} of the {count(chosen['customers'])} customers evaluated, "
        f"against {pct(pop['value'])} for popularity"
    ) in section.reading


def test_a_single_run_says_what_migration_needs(report, run_db: Path) -> None:
    section = _section(report[0], "migration")
    assert not section.filled
    assert (
        section.fill == f"valueseg ingest NEW_ORDERS --db {run_db}, then valueseg run --db {run_db}"
    )
    assert "Not filled yet" in _html_section(report[1], "migration")


# -- a second run, actions, experiments and hostile names ------------------------------------
@pytest.fixture(scope="module")
def two_runs(run_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the store with a run 2: run 1's rows, Champions now At Risk, one customer
    gone and one new, actions and an experiment, and a cluster named to break HTML."""
    db = tmp_path_factory.mktemp("two") / "two.duckdb"
    shutil.copy(run_db, db)
    with Store(db) as store:
        con = store.con
        con.execute("INSERT INTO runs SELECT * REPLACE (2 AS run_id) FROM runs WHERE run_id = 1")
        for table in (
            "customer_features",
            "customer_scores",
            "segments",
            "model_fits",
            "predict_fits",
            "customer_reasons",
            "recommend_evaluation",
            "recommendations",
        ):
            con.execute(
                f"INSERT INTO {table} SELECT * REPLACE (2 AS run_id) FROM {table} WHERE run_id = 1"
            )
        con.execute("DELETE FROM customer_actions WHERE run_id = 2")
        con.execute(
            "UPDATE customer_scores SET rfm_segment = 'At Risk' "
            "WHERE run_id = 2 AND rfm_segment = 'Champions'"
        )
        gone = con.execute(
            "SELECT min(customer_id) FROM customer_scores WHERE run_id = 2 "
            "AND rfm_segment = 'Hibernating'"
        ).fetchone()[0]
        con.execute("DELETE FROM customer_scores WHERE run_id = 2 AND customer_id = ?", [gone])
        con.execute(
            "INSERT INTO customer_scores (run_id, customer_id, rfm_segment) "
            "VALUES (2, 'NEW', 'New Customers')"
        )
        name = "Big $ spenders <script>alert(1)</script>"
        old = con.execute(
            "SELECT segment FROM segments WHERE run_id = 2 AND lens = 'cluster' LIMIT 1"
        ).fetchone()[0]
        con.execute("UPDATE segments SET segment = ? WHERE run_id = 2 AND segment = ?", [name, old])
        con.execute(
            "UPDATE customer_scores SET segment = ? WHERE run_id = 2 AND segment = ?",
            [name, old],
        )
        con.execute(
            "INSERT INTO customer_actions SELECT 2, customer_id, "
            "CASE WHEN p_alive > 0.5 THEN 'thank' ELSE 'win back' END, "
            "CASE WHEN p_alive > 0.5 THEN 2 ELSE 1 END, predicted_clv_365d, 'p_alive rule' "
            "FROM customer_scores WHERE run_id = 2 AND p_alive IS NOT NULL"
        )
        con.execute(
            "INSERT INTO runs (run_id, started_at, status, message) "
            "VALUES (3, TIMESTAMP '2025-01-03', 'failed', 'boom')"
        )
        con.execute(
            "INSERT INTO experiments VALUES (1, 'spring <b>win-back</b>', "
            "TIMESTAMP '2025-01-02', 'At Risk', '{\"arms\": 2}', 'designed')"
        )
    return db


@pytest.fixture(scope="module")
def second(two_runs: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[ReportResult, str]:
    out = tmp_path_factory.mktemp("second") / "report.html"
    result = write_report(two_runs, out=out)
    return result, out.read_text(encoding="utf-8")


def test_migration_reading(second, two_runs: Path) -> None:
    result, html = second
    assert result.run_id == 2
    section = _section(result, "migration")
    assert section.filled
    before = _frame(
        two_runs, "SELECT customer_id, rfm_segment FROM customer_scores WHERE run_id = 1"
    )
    after = _frame(
        two_runs, "SELECT customer_id, rfm_segment FROM customer_scores WHERE run_id = 2"
    )
    both = before.merge(after, on="customer_id")
    changed = int((both["rfm_segment_x"] != both["rfm_segment_y"]).sum())
    champions = int((before["rfm_segment"] == "Champions").sum())
    assert changed == champions  # every Champion became At Risk, nothing else moved
    assert section.numbers == {"changed": changed, "in_both": len(both)}
    assert (
        f"{count(changed)} of {count(len(both))} customers ({pct(changed / len(both))}) "
        f"changed RFM segment; the largest move: {count(champions)} from Champions to At Risk"
    ) in section.reading
    assert "rfm_migration" in section.charts
    part = _html_section(html, "migration")
    assert "(new)" in part and "(gone)" in part


def test_actions_and_experiments(second, two_runs: Path) -> None:
    result, html = second
    section = _section(result, "actions")
    acts = _frame(two_runs, "SELECT action FROM customer_actions WHERE run_id = 2")
    sizes = acts["action"].value_counts()
    assert section.filled
    assert section.numbers["customers"] == len(acts)
    assert (
        f"2 actions for {count(len(acts))} customers; the largest audience, {sizes.index[0]}, "
        f"holds {count(sizes.iloc[0])} customers"
    ) in section.reading
    assert "1 experiment (1 designed)" in section.reading
    rfm = _html_section(html, "rfm")
    assert "win back (" in rfm  # the segments table names each segment's main action


def test_names_from_the_data_are_escaped(second) -> None:
    _, html = second
    assert "<script>" not in html and "<b>win-back</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "spring &lt;b&gt;win-back&lt;/b&gt;" in html
    assert "Big $ spenders" in html  # a dollar is drawn as a dollar, not as mathtext


def test_a_run_without_sample_nor_segmenter_says_so(second, two_runs: Path) -> None:
    """Run 2 of the copy has no predict_validation nor run_estimators rows (an older run)."""
    result, html = second
    predict = _section(result, "predict")
    assert predict.filled and "churn_leaderboard" in predict.charts
    assert not {"churn_roc", "churn_pr", "churn_calibration", "spend_gain"} & set(predict.charts)
    part = _html_section(html, "predict")
    assert (
        "Churn: run 2 kept no sample of the validation fold&#39;s predictions (the task fell "
        "back to the value models&#39; baseline, or the run is older than the sample), so its "
        "ROC, precision-recall and calibration curves and confusion matrix are not drawn; "
        f"valueseg run --db {two_runs} keeps one."
    ) in part
    assert "Spend: run 2 kept no sample" in part
    assert "(from its precision and recall)" in part  # the matrix rebuilt from the metrics
    clusters = _section(result, "clusters")
    assert clusters.filled and "cluster_sizes" in clusters.charts
    assert not {"k_criteria", "cluster_projection"} & set(clusters.charts)
    assert (
        f"No chart of the k criteria nor projection: Run 2 kept no estimator &#39;segmenter&#39; "
        f"in {two_runs}. It kept: none."
    ) in _html_section(html, "clusters")


def test_a_failed_run_says_so(two_runs: Path, tmp_path: Path) -> None:
    result = write_report(two_runs, run_id=3, out=tmp_path / "r.html")
    assert result.run_id == 3
    for key in ("kpis", "rfm", "value", "models", "predict", "clusters", "migration"):
        s = _section(result, key)
        assert not s.filled
        assert s.reading == f"Run 3 failed (boom): valueseg run --db {two_runs} fills this section."


# -- stores that lack a stage ----------------------------------------------------------------
def test_a_store_with_a_load_and_no_run(tmp_path: Path, shop) -> None:
    db = tmp_path / "loaded.duckdb"
    vs.ingest(shop.transactions.head(500), db=db)
    result = write_report(db, out=tmp_path / "r.html")
    html = result.path.read_text(encoding="utf-8")
    data = _section(result, "data")
    assert data.filled and data.numbers["rows_read"] == 500
    for s in result.sections[1:]:
        assert not s.filled, s.key
        assert f"valueseg run --db {db}" in s.reading, s.key
        assert "Not filled yet" in _html_section(html, s.key)
    assert "no run yet" in html


def test_an_empty_store_says_to_ingest(tmp_path: Path) -> None:
    db = tmp_path / "empty.duckdb"
    Store(db).close()
    result = write_report(db, out=tmp_path / "r.html")
    data = _section(result, "data")
    assert not data.filled
    assert data.reading == f"No data loaded yet: valueseg ingest FILE --db {db} fills this section."


def test_a_run_without_products(tmp_path: Path) -> None:
    shop = vs.make_shop(800, random_state=2)
    db = tmp_path / "noproducts.duckdb"
    vs.ingest(shop.transactions.drop(columns=["product_id", "category"]), db=db)
    vs.run(db, learners="lr", clusters="3")
    result = write_report(db, out=tmp_path / "r.html")
    rec = _section(result, "recommend")
    assert not rec.filled
    assert rec.reading.startswith("The orders name no product")
    assert f"valueseg ingest FILE --map product_id=COLUMN --db {db}" in rec.reading
    for key in ("kpis", "rfm", "value", "models", "predict", "clusters"):
        assert _section(result, key).filled, key
    # k fixed by --clusters 3: no criteria to draw, the projection still drawn
    clusters = _section(result, "clusters")
    assert "k_criteria" not in clusters.charts and "cluster_projection" in clusters.charts
    html = result.path.read_text(encoding="utf-8")
    assert "No k criteria to draw: k = 3: the only k asked for (k_range=(3, 3))." in html


def test_an_unknown_run_is_refused(run_db: Path, tmp_path: Path) -> None:
    msg = (
        f"Run 9 not found in {run_db}. Runs: 1 (succeeded). Pass --run with one of them, or "
        "leave it out for the latest succeeded run."
    )
    with pytest.raises(InputError, match=re.escape(msg)):
        write_report(run_db, run_id=9, out=tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()


def test_the_leaderboard_lists_every_learner_the_run_compared(run_db: Path, tmp_path: Path):
    """A run with --learners +sequence keeps a predict_fits row for it: the churn and spend
    section's leaderboard lists it beside the others, with its own numbers."""
    db = tmp_path / "sequence.duckdb"
    shutil.copy(run_db, db)
    with duckdb.connect(str(db)) as con:
        con.execute(
            "INSERT INTO predict_fits SELECT * REPLACE ('sequence' AS model, false AS chosen, "
            "'not chosen: a lower score' AS reason, "
            'json_merge_patch(metrics, \'{"roc_auc": 0.6123, "gini": 0.4567}\') AS metrics) '
            "FROM predict_fits WHERE model = 'lr' AND task IN ('churn', 'spend')"
        )
    result = write_report(db, out=tmp_path / "report.html")
    html = _html_section(result.path.read_text(encoding="utf-8"), "predict")
    assert "sequence" in html and "0.612" in html and "0.457" in html


def test_an_unknown_report_section_is_named_with_the_ones_there_are() -> None:
    from valueseg.errors import InputError
    from valueseg.report import section_charts
    from valueseg.report.html import SECTION_KEYS
    from valueseg.store import Store

    with Store(":memory:") as store, pytest.raises(InputError) as caught:
        section_charts(store, keys=["rfm", "churn"])
    message = str(caught.value)
    assert "'churn'" in message and all(key in message for key in SECTION_KEYS)
