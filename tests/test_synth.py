"""Tests of the synthetic shop: table contracts, and the process against its closed forms.

The process tests compare what the generator produced with what the BG/NBD (Fader, Hardie &
Lee 2005) and Gamma-Gamma models say it should produce, per planted segment, within four
standard errors estimated from the per-customer spread. They run on three seeds.
"""

from __future__ import annotations

import json
import re

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import hyp2f1

from valueseg.errors import InputError
from valueseg.synth import HORIZON_DAYS, Shop, make_shop

N = 20_000
SEEDS = (1, 2, 3)
DAY = pd.Timedelta(days=1)


@pytest.fixture(scope="module")
def shop() -> Shop:
    return make_shop(N, random_state=0)


@pytest.fixture(scope="module", params=SEEDS, ids=[f"seed{s}" for s in SEEDS])
def seeded(request: pytest.FixtureRequest) -> Shop:
    return make_shop(N, random_state=request.param)


# ---------------------------------------------------------------- helpers


def purchases(shop: Shop) -> pd.DataFrame:
    """Order lines without the return rows."""
    tx = shop.transactions
    return tx[~tx["order_id"].str.startswith("C")]


def customer_summary(shop: Shop) -> pd.DataFrame:
    """Truth joined with the BG/NBD summary (x, t_x, T) and spend read from the log."""
    orders = (
        purchases(shop)
        .groupby("order_id")
        .agg(
            customer_id=("customer_id", "first"),
            timestamp=("timestamp", "first"),
            value=("amount", "sum"),
        )
    )
    per = orders.groupby("customer_id").agg(
        n_orders=("value", "size"),
        first=("timestamp", "min"),
        last=("timestamp", "max"),
        spend=("value", "sum"),
    )
    out = shop.truth.join(per, on="customer_id")
    as_of = pd.Timestamp(shop.params["as_of"])
    out["x"] = out["n_orders"] - 1
    out["T"] = (as_of - out["first"]) / DAY
    out["t_x"] = (out["last"] - out["first"]) / DAY
    return out


def seg_params(shop: Shop, name: str) -> dict[str, float]:
    return shop.params["segments"][name]


def expected_repeats(t: np.ndarray, r: float, alpha: float, a: float, b: float) -> np.ndarray:
    """BG/NBD E[X(t)], Fader, Hardie & Lee (2005) eq. 9."""
    z = t / (alpha + t)
    return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z))


def p_alive(x, t_x, T, r, alpha, a, b):
    """BG/NBD P(alive | x, t_x, T)."""
    ratio = ((alpha + T) / (alpha + t_x)) ** (r + x)
    odds = np.where(x > 0, a / (b + np.maximum(x, 1) - 1) * ratio, 0.0)
    return 1.0 / (1.0 + odds)


def conditional_repeats(t, x, t_x, T, r, alpha, a, b):
    """BG/NBD E[Y(t) | x, t_x, T], Fader, Hardie & Lee (2005) eq. 10."""
    z = t / (alpha + T + t)
    tail = ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z)
    return (a + b + x - 1) / (a - 1) * (1 - tail) * p_alive(x, t_x, T, r, alpha, a, b)


def assert_sum_close(observed, expected, what: str, max_rel_se: float = 0.1) -> None:
    """Sum of ``observed`` equals sum of ``expected`` within 4 standard errors.

    The standard error comes from the per-customer residuals; ``max_rel_se`` guards against
    a test too weak to fail.
    """
    observed = np.asarray(observed, dtype=float)
    expected = np.asarray(expected, dtype=float)
    assert np.isfinite(expected).all(), what
    resid = observed - expected
    se = float(np.sqrt(np.sum(resid**2)))
    total = float(expected.sum())
    detail = f"{what}: observed {observed.sum():.1f}, expected {total:.1f}, se {se:.1f}"
    assert abs(resid.sum()) <= 4 * se, detail
    assert se <= max_rel_se * total, f"too noisy to test: {detail}"


# ---------------------------------------------------------------- table contracts


def test_tables_have_documented_columns_and_dtypes(shop: Shop) -> None:
    tx, ev = shop.transactions, shop.events
    assert list(tx.columns) == [
        "customer_id",
        "order_id",
        "timestamp",
        "product_id",
        "category",
        "quantity",
        "unit_price",
        "amount",
        "discount",
        "channel",
    ]
    assert list(ev.columns) == [
        "customer_id",
        "timestamp",
        "event_type",
        "product_id",
        "session_id",
        "duration_s",
        "rating",
    ]
    assert list(shop.customers.columns) == [
        "customer_id",
        "signup_date",
        "age_band",
        "gender",
        "region",
    ]
    assert list(shop.products.columns[:4]) == ["product_id", "category", "price", "popularity"]
    assert [c for c in shop.products.columns if c.startswith("factor_")] == [
        f"factor_{i}" for i in range(shop.params["taste_dim"])
    ]
    assert list(shop.truth.columns) == [
        "customer_id",
        "segment",
        "archetype",
        "lambda",
        "p",
        "nu",
        "birth",
        "dropout_date",
        "alive_at_end",
        "purchases_observed",
        "future_purchases_180d",
        "future_spend_180d",
    ]
    for frame, column in [(tx, "timestamp"), (ev, "timestamp"), (shop.truth, "birth")]:
        assert pd.api.types.is_datetime64_dtype(frame[column])
    for column in ("customer_id", "order_id", "product_id", "category", "channel"):
        assert pd.api.types.is_string_dtype(tx[column]), column
    assert tx["quantity"].dtype == np.int64
    assert shop.truth["alive_at_end"].dtype == bool
    assert tx["customer_id"].str.fullmatch(r"C\d{7}").all()
    assert tx["order_id"].str.fullmatch(r"C?O\d{8}").all()
    assert set(ev["event_type"]) == {"view", "cart", "purchase", "search", "review"}
    assert set(tx["channel"]) == {"web", "app", "store"}
    assert shop.products["category"].nunique() == len(shop.params["categories"]) == 12
    assert 1_000 <= len(shop.products) <= 2_000


def test_ids_are_consistent_across_tables(shop: Shop) -> None:
    ids = shop.truth["customer_id"]
    assert ids.is_unique and len(ids) == N
    assert ids.tolist() == shop.customers["customer_id"].tolist()
    for frame in (shop.transactions, shop.events):
        assert frame["customer_id"].isin(ids).all()
    # every customer made at least their first purchase
    assert purchases(shop)["customer_id"].nunique() == N
    products = shop.products["product_id"]
    assert products.is_unique
    assert shop.transactions["product_id"].isin(products).all()
    ev = shop.events
    assert ev.loc[ev["event_type"] != "search", "product_id"].isin(products).all()
    assert ev.loc[ev["event_type"] == "search", "product_id"].isna().all()
    # an order belongs to one customer; categories agree with the catalogue
    assert (purchases(shop).groupby("order_id")["customer_id"].nunique() == 1).all()
    category = shop.products.set_index("product_id")["category"]
    tx = shop.transactions
    assert (tx["product_id"].map(category) == tx["category"]).all()


def test_transactions_lie_in_the_window_and_add_up(shop: Shop) -> None:
    tx = shop.transactions
    start, as_of = pd.Timestamp(shop.params["start"]), pd.Timestamp(shop.params["as_of"])
    assert as_of == pd.Timestamp(shop.params["end"]) + DAY
    assert tx["timestamp"].min() >= start
    assert tx["timestamp"].max() < as_of
    assert tx["timestamp"].is_monotonic_increasing
    buys = purchases(shop)
    assert (buys["amount"] > 0).all() and (buys["quantity"] >= 1).all()
    assert (buys["discount"] >= 0).all() and (buys["unit_price"] > 0).all()
    returns = tx[tx["order_id"].str.startswith("C")]
    assert (returns["amount"] < 0).all() and (returns["quantity"] < 0).all()
    assert 0.02 < len(returns) / len(buys) < 0.05
    net = tx["quantity"] * tx["unit_price"] - tx["discount"]
    np.testing.assert_allclose(net, tx["amount"], atol=1e-6)
    # discounted lines are a minority overall, and their rate is at most 50 %
    discounted = buys["discount"] > 0
    assert 0.2 < discounted.mean() < 0.5
    rate = buys["discount"] / (buys["amount"] + buys["discount"])
    assert rate[discounted].max() < 0.51


def test_no_row_repeats_another(shop: Shop) -> None:
    # a loader deduplicating order lines or events must not find anything to drop
    assert not shop.transactions.duplicated(["order_id", "product_id"]).any()
    assert not shop.events.duplicated().any()


def test_returns_reference_an_earlier_purchase_of_the_same_product(shop: Shop) -> None:
    tx = shop.transactions
    returns = tx[tx["order_id"].str.startswith("C")].copy()
    returns["order_id"] = returns["order_id"].str[1:]
    key = ["order_id", "customer_id", "product_id"]
    bought = purchases(shop).groupby(key).agg(bought_at=("timestamp", "first"))
    bought["bought_qty"] = purchases(shop).groupby(key)["quantity"].sum()
    matched = returns.join(bought, on=key)
    assert matched["bought_at"].notna().all()
    assert (matched["timestamp"] >= matched["bought_at"] + DAY).all()
    assert (-matched["quantity"] <= matched["bought_qty"]).all()


def test_same_seed_same_shop_and_other_seed_another() -> None:
    one, two = make_shop(2_000, random_state=5), make_shop(2_000, random_state=5)
    other = make_shop(2_000, random_state=6)
    for name in ("transactions", "events", "customers", "products", "truth"):
        pd.testing.assert_frame_equal(getattr(one, name), getattr(two, name))
    assert one.params == two.params
    assert not one.truth["lambda"].equals(other.truth["lambda"])
    assert len(one.transactions) != len(other.transactions)


def test_customers_sign_up_before_their_first_purchase(shop: Shop) -> None:
    signup = shop.customers["signup_date"]
    birth = shop.truth["birth"]
    assert (signup <= birth).all()
    assert (signup == signup.dt.normalize()).all()
    assert shop.customers["age_band"].notna().all()


def test_truth_agrees_with_the_log(shop: Shop) -> None:
    summary = customer_summary(shop)
    assert (summary["first"] == summary["birth"]).all()
    assert (summary["x"] == summary["purchases_observed"]).all()
    as_of = pd.Timestamp(shop.params["as_of"])
    dead = ~summary["alive_at_end"]
    # in BG/NBD a customer leaves right after a repeat purchase: their last one
    assert (summary.loc[dead, "purchases_observed"] >= 1).all()
    assert (summary.loc[dead, "dropout_date"] == summary.loc[dead, "last"]).all()
    alive_drop = summary.loc[~dead, "dropout_date"].dropna()
    assert (alive_drop >= as_of).all()
    assert (summary.loc[dead, ["future_purchases_180d", "future_spend_180d"]] == 0).all().all()


# ---------------------------------------------------------------- the process


def test_segment_shares_match_params(seeded: Shop) -> None:
    counts = seeded.truth["segment"].value_counts()
    for name, share in seeded.params["shares"].items():
        se = np.sqrt(N * share * (1 - share))
        assert abs(counts[name] - N * share) <= 4 * se, name


def test_births_fall_in_each_segments_window(seeded: Shop) -> None:
    truth = seeded.truth
    start = pd.Timestamp(seeded.params["start"])
    days = (pd.Timestamp(seeded.params["as_of"]) - start) / DAY
    for name, values in seeded.params["segments"].items():
        birth = (truth.loc[truth["segment"] == name, "birth"] - start) / DAY
        lo, hi = values["birth_window"]
        assert birth.min() >= lo * days and birth.max() < hi * days + 1, name
    lapsed = truth.loc[truth["segment"] == "lapsed_vips", "birth"]
    assert lapsed.max() < start + 0.46 * days * DAY


def test_repeat_purchases_match_bgnbd_expectation(seeded: Shop) -> None:
    summary = customer_summary(seeded)
    for name, group in summary.groupby("segment"):
        sp = seg_params(seeded, name)
        expected = expected_repeats(group["T"].to_numpy(), sp["r"], sp["alpha"], sp["a"], sp["b"])
        assert_sum_close(group["x"], expected, f"E[X(T)] {name}")


def test_alive_matches_latent_dropout_rate(seeded: Shop) -> None:
    # given lambda and p, dropouts come at rate lambda * p: P(alive at T) = exp(-lambda p T)
    summary = customer_summary(seeded)
    for name, group in summary.groupby("segment"):
        prob = np.exp(-group["lambda"] * group["p"] * group["T"])
        assert_sum_close(group["alive_at_end"], prob, f"alive {name}")


def test_alive_matches_bgnbd_posterior(seeded: Shop) -> None:
    summary = customer_summary(seeded)
    for name, group in summary.groupby("segment"):
        sp = seg_params(seeded, name)
        cols = [group[c].to_numpy() for c in ("x", "t_x", "T")]
        prob = p_alive(*cols, sp["r"], sp["alpha"], sp["a"], sp["b"])
        assert_sum_close(group["alive_at_end"], prob, f"P(alive) {name}")


def test_future_purchases_match_bgnbd_conditional_expectation(seeded: Shop) -> None:
    summary = customer_summary(seeded)
    for name, group in summary.groupby("segment"):
        sp = seg_params(seeded, name)
        cols = [group[c].to_numpy().astype(float) for c in ("x", "t_x", "T")]
        expected = conditional_repeats(HORIZON_DAYS, *cols, sp["r"], sp["alpha"], sp["a"], sp["b"])
        assert_sum_close(group["future_purchases_180d"], expected, f"E[Y|x,t_x,T] {name}", 0.15)


def test_future_purchases_of_the_alive_match_their_latent_rates(seeded: Shop) -> None:
    # alive at the end: purchases at rate lambda until a dropout at rate lambda * p
    alive = seeded.truth[seeded.truth["alive_at_end"]]
    for name, group in alive.groupby("segment"):
        lam, p = group["lambda"], group["p"]
        expected = (1 - np.exp(-lam * p * HORIZON_DAYS)) / p
        assert_sum_close(group["future_purchases_180d"], expected, f"future {name}", 0.15)


def test_order_values_follow_gamma_gamma(seeded: Shop) -> None:
    summary = customer_summary(seeded)
    for name, group in summary.groupby("segment"):
        sp = seg_params(seeded, name)
        mean = sp["p_spend"] * sp["gamma"] / (sp["q"] - 1)
        assert mean == pytest.approx(sp["mean_order_value"])
        assert_sum_close(group["spend"], group["n_orders"] * mean, f"E[z] {name}")
        # given nu, the mean order value is p / nu; the future spend follows the same law
        per_nu = sp["p_spend"] / group["nu"]
        assert_sum_close(group["spend"], group["n_orders"] * per_nu, f"E[z|nu] {name}")
        future = group["future_purchases_180d"] * per_nu
        assert_sum_close(group["future_spend_180d"], future, f"future spend {name}", 0.2)


def test_segments_behave_as_specified(seeded: Shop) -> None:
    buys = purchases(seeded)
    segment = seeded.truth.set_index("customer_id")["segment"]
    discount_share = (buys["discount"] > 0).groupby(buys["customer_id"].map(segment)).mean()
    ev = seeded.events
    purchase_sessions = ev.loc[ev["event_type"] == "purchase", "session_id"].unique()
    views = ev[(ev["event_type"] == "view") & ev["session_id"].isin(purchase_sessions)]
    views_per_line = (
        views.groupby(views["customer_id"].map(segment)).size()
        / buys.groupby(buys["customer_id"].map(segment)).size()
    )
    for name, values in seeded.params["segments"].items():
        assert discount_share[name] == pytest.approx(values["discount_prob"], abs=0.03)
        expected_views = 1 + values["views_per_line"]
        assert views_per_line[name] == pytest.approx(expected_views, rel=0.05), name


# ---------------------------------------------------------------- events and taste


def test_every_purchased_line_has_a_preceding_view_and_cart(shop: Shop) -> None:
    ev = shop.events
    assert ev["timestamp"].is_monotonic_increasing
    assert ev["timestamp"].max() < pd.Timestamp(shop.params["as_of"])
    bought = ev[ev["event_type"] == "purchase"]
    key = ["customer_id", "timestamp", "product_id"]
    lines = purchases(shop)[key].sort_values(key, ignore_index=True)
    pd.testing.assert_frame_equal(bought[key].sort_values(key, ignore_index=True), lines)
    assert bought["session_id"].nunique() == purchases(shop)["order_id"].nunique()
    pair = ["session_id", "product_id"]
    first_view = ev[ev["event_type"] == "view"].groupby(pair)["timestamp"].min()
    last_cart = ev[ev["event_type"] == "cart"].groupby(pair)["timestamp"].max()
    joined = bought.join(first_view.rename("view"), on=pair).join(last_cart.rename("cart"), on=pair)
    assert (joined["view"] < joined["cart"]).all()
    assert (joined["cart"] < joined["timestamp"]).all()
    reviews = ev[ev["event_type"] == "review"]
    assert reviews["rating"].between(1, 5).all() and len(reviews) > 0
    assert ev.loc[ev["event_type"] != "review", "rating"].isna().all()


def test_browsers_browse_most(shop: Shop) -> None:
    ev = shop.events
    segment = shop.truth.set_index("customer_id")["segment"]
    per_customer = ev.groupby(ev["customer_id"].map(segment)).size() / segment.value_counts()
    searches = ev[ev["event_type"] == "search"]
    search_rate = searches.groupby(searches["customer_id"].map(segment)).size()
    search_rate /= segment.value_counts()
    others = per_customer.drop("browsers")
    assert search_rate["browsers"] > 3 * search_rate.drop("browsers").max()
    assert per_customer["browsers"] > others.median()


def test_products_follow_customer_taste(shop: Shop) -> None:
    buys = purchases(shop)
    archetype = shop.truth.set_index("customer_id")["archetype"]
    n_arch = shop.params["n_archetypes"]
    product = pd.Categorical(buys["product_id"], categories=shop.products["product_id"])
    half = buys["customer_id"].str[-1].astype(int) % 2
    counts = np.zeros((2, n_arch, len(shop.products)))
    np.add.at(counts, (half, buys["customer_id"].map(archetype), product.codes), 1)
    unit = counts / np.linalg.norm(counts, axis=2, keepdims=True)
    similarity = unit[0] @ unit[1].T  # archetype of one half vs archetype of the other
    same = np.diag(similarity)
    cross = similarity[~np.eye(n_arch, dtype=bool)]
    assert (similarity.argmax(axis=1) == np.arange(n_arch)).mean() >= 0.95
    assert same.mean() > 0.8 and cross.mean() < 0.4
    # what each archetype buys tracks its softmax taste from the published factors
    factors = shop.products.filter(like="factor_").to_numpy()
    logits = np.array(shop.params["archetypes"]) @ factors.T / shop.params["temperature"]
    logits += np.log(shop.products["popularity"].to_numpy())
    taste = np.exp(logits - logits.max(axis=1, keepdims=True))
    taste /= taste.sum(axis=1, keepdims=True)
    bought = counts.sum(axis=0)
    big = bought.sum(axis=1) >= 2_000
    corr = [np.corrcoef(bought[k], taste[k])[0, 1] for k in np.flatnonzero(big)]
    assert big.sum() >= 20 and min(corr) > 0.7


# ---------------------------------------------------------------- writing and errors


def test_write_parquet_round_trips(shop: Shop, tmp_path) -> None:
    small = make_shop(300, random_state=3)
    paths = small.write(tmp_path / "out")
    assert set(paths) == {"transactions", "events", "customers", "products", "truth", "params"}
    for name in ("transactions", "events", "customers", "products", "truth"):
        assert paths[name].name == f"{name}.parquet"
        back = pd.read_parquet(paths[name])
        pd.testing.assert_frame_equal(back, getattr(small, name), check_dtype=False)
    assert json.loads(paths["params"].read_text()) == small.params


def test_write_csv_is_readable_by_duckdb(tmp_path) -> None:
    small = make_shop(300, random_state=4)
    paths = small.write(tmp_path, format="csv")
    con = duckdb.connect()
    for name in ("transactions", "events", "customers", "truth"):
        rows = con.execute(f"SELECT count(*) FROM read_csv('{paths[name]}')").fetchone()
        assert rows == (len(getattr(small, name)),)
    first = con.execute(
        f"SELECT customer_id, timestamp FROM read_csv('{paths['transactions']}') LIMIT 1"
    ).fetchone()
    assert first is not None
    row = small.transactions.iloc[0]
    assert first == (row["customer_id"], row["timestamp"].floor("s").to_pydatetime())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"n_customers": 0},
            "The 'n_customers' parameter of make_shop must be an int >= 1. Got 0.",
        ),
        (
            {"n_customers": 2.5},
            "The 'n_customers' parameter of make_shop must be an int >= 1. Got 2.5.",
        ),
        (
            {"n_customers": 10, "start": "soon"},
            "The 'start' parameter of make_shop must be a date without time zone, such as "
            "'2023-01-01'. Got 'soon'.",
        ),
        (
            {"n_customers": 10, "end": 20241231},
            "The 'end' parameter of make_shop must be a date without time zone, such as "
            "'2023-01-01'. Got 20241231.",
        ),
        (
            {"n_customers": 10, "start": "2024-02-01", "end": "2024-01-01"},
            "The 'end' parameter of make_shop must be on or after start (2024-02-01). "
            "Got 2024-01-01. Pass a later end or an earlier start.",
        ),
    ],
)
def test_bad_arguments_are_refused_with_a_clear_message(kwargs, message) -> None:
    with pytest.raises(InputError, match=re.escape(message)):
        make_shop(**kwargs)


def test_write_refuses_an_unknown_format(tmp_path) -> None:
    message = "The 'format' parameter of Shop.write must be 'parquet' or 'csv'. Got 'xlsx'."
    with pytest.raises(InputError, match=re.escape(message)):
        make_shop(20, random_state=0).write(tmp_path, format="xlsx")


@settings(max_examples=15, deadline=None)
@given(
    n=st.integers(1, 60),
    seed=st.integers(0, 2**32 - 1),
    days=st.integers(0, 800),
)
def test_small_shops_keep_their_invariants(n: int, seed: int, days: int) -> None:
    end = pd.Timestamp("2022-03-01") + days * DAY
    shop = make_shop(n, start="2022-03-01", end=end, random_state=seed)
    assert len(shop.truth) == len(shop.customers) == n
    summary = customer_summary(shop)
    assert (summary["n_orders"] >= 1).all()
    assert ((summary["t_x"] >= 0) & (summary["t_x"] <= summary["T"]) & (summary["T"] > 0)).all()
    assert (summary["x"] == summary["purchases_observed"]).all()
    tx = shop.transactions
    assert tx["timestamp"].between(pd.Timestamp("2022-03-01"), end + DAY, inclusive="left").all()
    assert (purchases(shop)["amount"] > 0).all()
    assert (shop.truth["future_spend_180d"] >= 0).all()
