"""One customer's rows of a table, read through its index by customer.

The web app and real-time scoring read one customer at a time (a lookup, a posted order).
Schemas 5 and 6 give the tables they read an ART index on ``customer_id``, but DuckDB
scans such an index only when the customer id is the only condition on the table's scan:
``WHERE run_id = ? AND customer_id = ?`` or a join that pushes a run filter into the scan
reads every row (2M scores at 1M customers and two runs: 4 to 12 ms instead of about 1).
:func:`of_customer` puts the customer id alone in a materialised CTE ``c`` (which the
optimizer does not merge other filters into); the caller's conditions go on ``c``.

The CTE materialises every column it names: name only those the query needs (``SELECT *``
of ``customer_features`` took 7 ms at 1M customers, against 3 for the plain read below).
Where the only other condition is the run and a customer has a row or a few per run, the
plainest read is cheapest: ``WHERE customer_id = ?`` alone, every run's rows, the run
picked in Python (:func:`valueseg.store.web.customer_score_rows`: about 1.3 ms against 3).
"""

from __future__ import annotations

__all__ = ["of_customer"]


def of_customer(table: str, columns: str = "*") -> str:
    """``WITH c AS MATERIALIZED (SELECT columns FROM table WHERE customer_id = ?)``: its one
    parameter, the customer id, comes first; the query that follows reads ``c``.

    ``table`` and ``columns`` are the caller's own names, never request text.

    Examples
    --------
    >>> from valueseg.store import Store
    >>> with Store(":memory:") as store:
    ...     _ = store.con.execute(
    ...         "INSERT INTO customer_scores (run_id, customer_id, p_alive) "
    ...         "VALUES (1, 'a', 0.5), (2, 'a', 0.25), (2, 'b', 0.75)"
    ...     )
    ...     sql = of_customer("customer_scores") + "SELECT p_alive FROM c WHERE run_id = ?"
    ...     store.con.execute(sql, ["a", 2]).fetchall()
    [(0.25,)]
    """
    return f"WITH c AS MATERIALIZED (SELECT {columns} FROM {table} WHERE customer_id = ?) "
