"""Events and customer attributes."""

from __future__ import annotations

import re
from datetime import date, datetime

import pytest

from valueseg.errors import InputError
from valueseg.io import ingest

NOW = datetime(2025, 1, 1)


def test_events_rules_and_normalised_types(store, write):
    path = write(
        "events.csv",
        "user_id,event_time,event_type,product_id,user_session,rating\n"
        "u1,2024-01-01 10:00:00,VIEW,p1,s1,\n"
        "u1,2024-01-01 10:01:00,cart,p1,s1,\n"
        "u1,2024-01-01 10:01:00,cart,p1,s1,\n"
        "u2,2024-01-01 10:02:00,,p2,s2,\n"
        "u3,2024-01-01 10:03:00,review,p3,s3,five\n",
    )
    report = ingest(path, kind="events", db=store, now=NOW)
    assert report.rejected_by_reason == {
        "duplicate event": 1,
        "missing event_type": 1,
        "non-numeric rating": 1,
    }
    got = store.con.execute(
        "SELECT customer_id, event_type, session_id FROM events ORDER BY line"
    ).fetchall()
    assert got == [("u1", "view", "s1"), ("u1", "cart", "s1")]


def test_customer_attributes_are_typed_and_updated(store, write):
    first = write(
        "customers.csv",
        "Customer ID,Signup Date,Age,Region,VIP\n"
        "c1,2023-05-01,34,north,true\nc2,2023-06-01,,south,false\n,2023-01-01,20,x,true\n",
    )
    report = ingest(first, kind="customers", db=store, now=NOW)
    assert (report.accepted, report.rejected) == (2, 1)
    types = dict(
        store.con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'customers'"
        ).fetchall()
    )
    assert types["signup_date"] == "DATE"
    assert types["age"] == "BIGINT"
    assert types["region"] == "VARCHAR"
    assert types["vip"] == "BOOLEAN"
    second = write("more.csv", "customer_id,region,age\nc2,east,41\nc3,west,abc\n")
    report = ingest(second, kind="customers", db=store, now=NOW)
    assert report.rejected_by_reason == {"attribute age is not BIGINT": 1}
    got = store.con.execute(
        "SELECT customer_id, signup_date, age, region FROM customers ORDER BY 1"
    ).fetchall()
    assert got == [("c1", date(2023, 5, 1), 34, "north"), ("c2", date(2023, 6, 1), 41, "east")]


def test_duplicate_customer_rows_keep_the_first(store, write):
    path = write("c.csv", "customer_id,region\nc1,north\nc1,south\n")
    report = ingest(path, kind="customers", db=store, now=NOW)
    assert report.rejected_by_reason == {"duplicate customer_id": 1}
    assert store.con.execute("SELECT region FROM customers").fetchall() == [("north",)]


def test_customers_map_only_the_id(store, write):
    msg = (
        "Cannot map onto 'age': customers files map only customer_id; other columns are "
        "kept as attributes under their own names."
    )
    with pytest.raises(InputError, match=re.escape(msg)):
        ingest(write("c.csv", "id,Age\nc1,3\n"), kind="customers", db=store, mapping={"age": "Age"})
