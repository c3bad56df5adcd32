"""Personal data among customer attributes, tagged at ingest by column name and content."""

from __future__ import annotations

import pandas as pd
import pytest

from valueseg.io import ingest
from valueseg.io.pii import kind_by_content, kind_by_name
from valueseg.store import Store
from valueseg.store.pii import examined_columns, personal_columns


@pytest.mark.parametrize(
    ("column", "kind"),
    [("email", "email"), ("E-Mail", "email"), ("email_address", "email"), ("Mail", "email"),
     ("phone", "phone"), ("Phone Number", "phone"), ("mobile", "phone"), ("tel", "phone"),
     ("first_name", "name"), ("LastName", "name"), ("full name", "name"), ("surname", "name"),
     ("address", "address"), ("street_address", "address"), ("postcode", "address"),
     ("ZIP", "address"),
     ("region", None), ("age_band", None), ("gender", None), ("signup_date", None),
     ("segment", None), ("telemetry", None), ("mailing_list_size", None)],
)  # fmt: skip
def test_kind_by_name(column: str, kind: str | None) -> None:
    assert kind_by_name(column) == kind


@pytest.mark.parametrize(
    ("values", "kind"),
    [(["ada@example.com", "alan.turing@uni.ac.uk", "grace+x@navy.mil"], "email"),
     (["+44 20 7946 0001", "(555) 123-4567", "030/1234567", "555.123.4567"], "phone"),
     (["Ada Lovelace", "Alan Turing", "Grace Brewster Hopper", "Émile Zola"], "name"),
     (["12 Baker Street", "Hauptstraße 5", "1 Rue de Rivoli", "221B Baker St"], "address"),
     (["North East", "North East", "South West", "North East"], None),  # few distinct: a place
     (["ada@example.com", "n/a", "none", "unknown", "alan@example.com"], None),  # 40 %: not most
     (["2024-01-02", "2023-05-06", "2022-01-01", "05/01/2024"], None),
     (["12", "45", "1999"], None),
     (["gold", "silver", "bronze"], None),
     ([], None)],
)  # fmt: skip
def test_kind_by_content(values: list[str], kind: str | None) -> None:
    found = kind_by_content(values)
    assert (None if found is None else found[0]) == kind


def test_ingest_tags_columns_by_name_and_by_content(store: Store) -> None:
    customers = pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3", "c4"],
            "email": ["a@x.com", "b@x.com", None, "d@x.com"],
            "reach": ["+44 20 7946 0001", "(555) 123-4567", "555 123 4567", "030 1234567"],
            "who": ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Emmy Noether"],
            "home": ["12 Baker Street", "Hauptstraße 5", "1 Rue de Rivoli", "3 Main St"],
            "first_name": ["ada", "alan", "grace", "emmy"],  # lower case: found by its name
            "region": ["north", "south", "north", "east"],
            "email_opt_in": ["true", "false", "true", "true"],  # a boolean is not an address
        }
    )
    report = ingest(customers, kind="customers", db=store)
    assert personal_columns(store) == {
        "email": "email", "reach": "phone", "who": "name", "home": "address",
        "first_name": "name",
    }  # fmt: skip
    assert examined_columns(store)["region"] is None
    assert examined_columns(store)["email_opt_in"] is None
    hows = dict(store.con.execute("SELECT column_name, how FROM pii_columns").fetchall())
    assert hows["email"] == "name and content" and hows["reach"] == "content"
    assert hows["first_name"] == "name" and hows["region"] is None
    assert report.notes[-1] == (
        "personal data tagged (shown to admins only in the web app): email (email by name "
        "and content, 100 % of values), reach (phone by content, 100 % of values), who (name "
        "by content, 100 % of values), home (address by content, 100 % of values), "
        "first_name (name by name)"
    )
    again = ingest(customers.assign(region="west"), kind="customers", db=store)
    assert not any("personal data" in n for n in again.notes)  # tagged once, kept
    assert len(personal_columns(store)) == 5


def test_a_store_without_attributes_tags_nothing(store: Store) -> None:
    report = ingest(pd.DataFrame({"customer_id": ["a", "b"]}), kind="customers", db=store)
    assert personal_columns(store) == {} and not any("personal" in n for n in report.notes)
