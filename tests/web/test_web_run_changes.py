"""The segment changes the server keeps in memory read as the store's reader reads them."""

from __future__ import annotations

from valueseg.store import Store
from valueseg.store.many_customers import latest_changes_of, write_changes
from valueseg.web.run_changes import load_logged_changes

IDS = ["a", "b", "c", "d"]


def _store() -> Store:
    store = Store(":memory:")
    write_changes(
        store, 2, [("a", "rfm", "Lost", "At Risk", "o1"), ("b", "tier", None, "Rest", "o2")]
    )
    write_changes(store, 1, [("a", "rfm", None, "Champions", "o0"), ("c", "rfm", "x", "y", "o0")])
    write_changes(  # a second change of a's rfm, a NULL after, a lens with one change
        store, 2, [("a", "rfm", "At Risk", "Champions", "o3"), ("b", "tier", "Rest", None, "o4")]
    )
    write_changes(store, 2, [("a", "cluster", "Loyal", "Lapsed", "o5")])
    return store


def test_a_run_s_changes_read_once_equal_the_per_batch_reader() -> None:
    with _store() as store:
        for run in (1, 2, 3):
            assert load_logged_changes(store, run).of(IDS) == latest_changes_of(store, run, IDS)
        assert load_logged_changes(store, 2).of(IDS) == {
            "a": {"rfm": "Champions", "cluster": "Lapsed"},
            "b": {"tier": None},
        }


def test_changes_added_after_their_commit_keep_the_copy_equal_to_the_store() -> None:
    with _store() as store:
        kept = load_logged_changes(store, 2)
        for rows in (
            [("d", "rfm", None, "New", "o6"), ("a", "rfm", "Champions", "Lost", "o6")],
            [("d", "rfm", "New", "Loyal", "o7"), ("b", "tier", None, "Top 5%", "o7")],
        ):
            write_changes(store, 2, rows)
            kept.add(rows)
            assert kept.of(IDS) == latest_changes_of(store, 2, IDS)
        got = kept.of(["a"])
        got["a"]["rfm"] = "changed by the caller"  # a copy: the kept changes stay
        assert kept.of(["a"])["a"]["rfm"] == "Lost"
