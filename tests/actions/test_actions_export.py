"""Audience export: filters, layouts, formula escaping, pseudonyms, refusals."""

from __future__ import annotations

import csv
import hashlib
import hmac
import re

import pandas as pd
import pytest

from valueseg.actions import export_audience, export_audiences
from valueseg.actions.privacy import KEY_VARIABLE
from valueseg.errors import InputError
from valueseg.store import Store

KEY = "k" * 32


def _read(path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_a_where_filter_selects_what_pandas_selects(shop, tmp_path):
    store, scores = shop
    where = "value_tier in ['Top 1%', 'Top 5%'] and churn_probability > 0.5"
    report = export_audience(store, where=where, out=tmp_path / "a.csv")
    expected = scores[
        scores.value_tier.isin(["Top 1%", "Top 5%"]) & (scores.churn_probability > 0.5)
    ]
    rows = _read(report.path)
    assert report.rows == len(rows) == len(expected) > 0
    assert {r["customer_id"] for r in rows} == set(expected.customer_id)
    assert report.run_id == 1  # run 2 failed: never the latest
    assert report.filters == {"where": where, "top": 3}
    assert list(rows[0]) == report.columns
    assert rows[0]["action"] == "churn-recall"  # by priority, then value at stake


def test_segment_matches_any_lens_and_action_the_stored_one(shop, tmp_path):
    store, scores = shop
    by_rfm = export_audience(store, segment="Can't Lose Them", out=tmp_path / "r.csv")
    assert by_rfm.rows == int((scores.rfm_segment == "Can't Lose Them").sum())
    by_cluster = export_audience(store, segment="Lapsed one-time buyers", out=tmp_path / "c.csv")
    assert by_cluster.rows == int((scores.segment == "Lapsed one-time buyers").sum())
    stored = store.con.execute(
        "SELECT count(*) FROM customer_actions WHERE run_id = 1 AND action = 'vip'"
    ).fetchone()
    assert export_audience(store, action="vip", out=tmp_path / "v.csv").rows == stored[0]


def test_recommendations_are_the_top_n_in_rank_order(shop, tmp_path):
    store, _ = shop
    rows = _read(export_audience(store, segment="Top 1%", out=tmp_path / "a.csv").path)
    assert {r["recommendations"] for r in rows} == {"'-P1 | P2 | P3", ""}  # escaped: '-P1
    two = _read(export_audience(store, segment="Top 1%", top_n=2, out=tmp_path / "b.csv").path)
    assert {r["recommendations"] for r in two} == {"'-P1 | P2", ""}


def test_cells_that_start_a_formula_are_escaped(store, filled, tmp_path):
    filled(store, n=50)
    store.con.execute(
        "UPDATE customer_scores SET segment = '@SUM(A1)' WHERE customer_id = 'C00003'"
    )
    store.con.execute("UPDATE customer_scores SET segment = '+1' WHERE customer_id = 'C00004'")
    store.con.execute("UPDATE customer_scores SET segment = e'\\tx' WHERE customer_id = 'C00005'")
    rows = {r["customer_id"]: r for r in _read(export_audience(store, out=tmp_path / "a.csv").path)}
    assert '\'=HYPERLINK("http://x")' in rows  # the hostile id of customer 0
    assert rows["C00003"]["segment"] == "'@SUM(A1)"
    assert rows["C00004"]["segment"] == "'+1"
    assert rows["C00005"]["segment"] == "'\tx"
    assert rows["C00006"]["segment"] in ("Lapsed one-time buyers", "Active frequent buyers",
                                          "High-value big spenders")  # fmt: skip
    assert float(rows["C00006"]["predicted_clv_365d"]) > 0  # numbers stay numbers


def test_parquet_keeps_values_as_they_are(shop, tmp_path):
    store, scores = shop
    report = export_audience(store, fmt="parquet", out=tmp_path / "a.parquet")
    frame = pd.read_parquet(report.path)
    assert len(frame) == len(scores)
    assert '=HYPERLINK("http://x")' in set(frame["customer_id"])  # not a CSV: no escaping


def test_klaviyo_and_meta_layouts_with_contacts(shop, tmp_path):
    store, scores = shop
    k = export_audience(store, action="vip", fmt="klaviyo", out=tmp_path / "k.csv")
    assert k.columns[:3] == ["Email", "External ID", "RFM Segment"]
    assert "Recommended Products" in k.columns
    m = export_audience(store, action="vip", fmt="meta", out=tmp_path / "m.csv")
    assert m.columns == ["email", "extern_id", "value"]
    rows = _read(m.path)
    clv = scores.set_index("customer_id")["predicted_clv_365d"]
    first = rows[0]
    assert float(first["value"]) == pytest.approx(clv[first["extern_id"]], abs=0.005)
    assert first["email"].endswith("@example.org")


def test_without_contact_columns_the_report_says_so(store, filled, tmp_path):
    filled(store, n=40, emails=False)
    k = export_audience(store, fmt="klaviyo", out=tmp_path / "k.csv")
    assert "Email" not in k.columns
    assert k.notes == [
        "no e-mail or phone column in the customers table: Klaviyo needs an Email or Phone "
        "Number column to import profiles; load one with valueseg ingest customers.csv "
        "--kind customers"
    ]
    m = export_audience(store, fmt="meta", out=tmp_path / "m.csv")
    assert m.columns == ["extern_id", "value"]
    assert "Meta matches extern_id only to ids your pixel or app sends it" in m.notes[0]


def test_email_ids_serve_as_the_email_column(store, filled, tmp_path):
    filled(store, n=20, emails=False)
    store.con.execute("UPDATE customer_scores SET customer_id = lower(customer_id) || '@shop.io'")
    m = export_audience(store, fmt="meta", out=tmp_path / "m.csv")
    assert m.columns[0] == "email"
    assert "e-mail addresses taken from the customer ids, which are e-mail addresses" in m.notes


def test_pseudonyms_are_keyed_hmacs_stable_across_exports(shop, tmp_path, monkeypatch):
    store, _ = shop
    monkeypatch.setenv(KEY_VARIABLE, KEY)
    one = _read(export_audience(store, segment="Top 5%", pseudonymize=True,
                                out=tmp_path / "1.csv").path)  # fmt: skip
    two = _read(export_audience(store, where="value_tier = 'Top 5%'", pseudonymize=True,
                                out=tmp_path / "2.csv").path)  # fmt: skip
    assert [r["customer_id"] for r in one] == [r["customer_id"] for r in two]
    plain = _read(export_audience(store, segment="Top 5%", out=tmp_path / "3.csv").path)
    expected = hmac.new(KEY.encode(), plain[0]["customer_id"].encode(), hashlib.sha256)
    assert one[0]["customer_id"] == expected.hexdigest()
    monkeypatch.setenv(KEY_VARIABLE, "q" * 32)
    other = _read(export_audience(store, segment="Top 5%", pseudonymize=True,
                                  out=tmp_path / "4.csv").path)  # fmt: skip
    assert other[0]["customer_id"] != one[0]["customer_id"]


def test_pseudonymize_is_refused_without_a_key(shop, tmp_path, monkeypatch):
    store, _ = shop
    monkeypatch.delenv(KEY_VARIABLE, raising=False)
    out = tmp_path / "a.csv"
    with pytest.raises(InputError, match=re.escape(
        "--pseudonymize needs a secret key in the environment variable VALUESEG_PSEUDONYM_KEY"
    )):  # fmt: skip
        export_audience(store, pseudonymize=True, out=out)
    assert not out.exists()
    monkeypatch.setenv(KEY_VARIABLE, "short")
    with pytest.raises(InputError, match="VALUESEG_PSEUDONYM_KEY is 5 characters long"):
        export_audience(store, pseudonymize=True, out=out)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"segment": "At Rsk"}, "Run 1 has no segment 'At Rsk'. Did you mean 'At Risk'? Known: "),
        ({"action": "vipp"}, "Run 1 has no action 'vipp'. Did you mean 'vip'? Known: "),
        ({"where": "bogus > 1"}, "--where: unknown column 'bogus' at position 1."),
        ({"fmt": "xlsx"}, "Unknown --format 'xlsx'. Expected one of: csv, parquet, klaviyo, meta."),
        ({"top_n": -1}, "--top must be a whole number from 0 to 50. Got -1."),
        ({"run_id": 2}, "Run 2 has no customer scores in :memory: (or did not succeed). Runs "
         "with scores: 1."),
    ],
)  # fmt: skip
def test_bad_requests_are_refused_with_what_exists(shop, tmp_path, kwargs, message):
    store, _ = shop
    with pytest.raises(InputError, match=re.escape(message)):
        export_audience(store, out=tmp_path / "a.csv", **kwargs)


def test_an_empty_store_and_an_empty_result(tmp_path, shop):
    with Store(":memory:") as empty, pytest.raises(InputError, match=re.escape(
        "Store :memory: holds no scored run yet. Run the pipeline first: valueseg run --db "
        ":memory:"
    )):  # fmt: skip
        export_audience(empty, out=tmp_path / "a.csv")
    store, _ = shop
    report = export_audience(store, where="p_alive > 2", out=tmp_path / "none.csv")
    assert report.rows == 0
    assert report.notes == ["no customer of run 1 matched the filters; the file has a header only"]
    assert report.path.read_text().startswith('"customer_id","rfm_segment"')


def test_one_file_per_action(shop, tmp_path):
    store, _ = shop
    reports = export_audiences(store, tmp_path / "audiences")
    names = sorted(r.path.name for r in reports)
    assert "audience-churn-recall.csv" in names and "audience-win-back.csv" in names
    total = store.con.execute("SELECT count(*) FROM customer_actions WHERE run_id = 1").fetchone()
    assert sum(r.rows for r in reports) == total[0]
