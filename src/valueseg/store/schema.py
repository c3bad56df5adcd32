"""The warehouse schema as an ordered list of migrations.

Each migration is applied once, in order, inside one transaction, and recorded in
``schema_version``. A store written by a newer valueseg (higher version) is refused rather
than misread. Add a migration by appending to :data:`MIGRATIONS`; never edit a released one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Column:
    """A canonical column of an input table: what ingest maps a source column onto.

    ``key``: part of what makes two rows the same row (a duplicate is loaded once).
    ``since``: the schema version that added it; a later column gets a migration of its
    own (``ALTER TABLE … ADD COLUMN``) and joins :data:`INPUT_COLUMNS` with its version.
    ``aside``: a transactions column ingest reads to decide what an order is (its status,
    cancel time, refund, currency) and keeps only with the orders it keeps aside (table
    ``kept_aside``): every row of ``transactions`` is a purchase or a return, and a column
    all NULL there would cost every load time for nothing.
    """

    name: str
    sql_type: str  # VARCHAR | DOUBLE | TIMESTAMP
    not_null: bool = False
    key: bool = True
    comment: str = ""
    since: int = 1
    aside: bool = False


#: The one declaration of the input tables' canonical columns, in table order. Ingest's
#: column mapping, parsing, de-duplication and inserts all read it.
INPUT_COLUMNS: Final[dict[str, tuple[Column, ...]]] = {
    "transactions": (
        Column("customer_id", "VARCHAR", not_null=True),
        Column("order_id", "VARCHAR", not_null=True),
        Column(
            "timestamp",
            "TIMESTAMP",
            not_null=True,
            comment="naive UTC (offsets in the input are converted)",
        ),
        Column("amount", "DOUBLE", not_null=True, comment="line amount; negative for returns"),
        Column("product_id", "VARCHAR"),
        Column("category", "VARCHAR", key=False),
        Column("quantity", "DOUBLE"),
        Column("unit_price", "DOUBLE"),
        Column("discount", "DOUBLE", key=False),
        Column("channel", "VARCHAR", key=False),
        Column(
            "line_item",
            "VARCHAR",
            comment="the line in its order (Olist order_item_id); 'refund': a refund's row",
            since=2,
        ),
        Column("status", "VARCHAR", key=False, comment="as written", since=2, aside=True),
        Column("cancelled_at", "TIMESTAMP", key=False, since=2, aside=True),
        Column("refund", "DOUBLE", key=False, comment="the order's", since=2, aside=True),
        Column("currency", "VARCHAR", key=False, since=2, aside=True),
    ),
    "events": (
        Column("customer_id", "VARCHAR", not_null=True),
        Column("timestamp", "TIMESTAMP", not_null=True),
        Column("event_type", "VARCHAR", not_null=True),
        Column("product_id", "VARCHAR"),
        Column("session_id", "VARCHAR"),
        Column("duration_s", "DOUBLE"),
        Column("rating", "DOUBLE"),
    ),
    "customers": (Column("customer_id", "VARCHAR", not_null=True),),
}


def column_names(kind: str) -> tuple[str, ...]:
    """The canonical columns of input table ``kind``, in table order.

    Examples
    --------
    >>> column_names("events")[:3]
    ('customer_id', 'timestamp', 'event_type')
    """
    return tuple(c.name for c in INPUT_COLUMNS[kind])


def stored_columns(kind: str) -> tuple[str, ...]:
    """The canonical columns of input table ``kind`` (not the ones kept aside only).

    Examples
    --------
    >>> stored_columns("transactions")[-2:]
    ('channel', 'line_item')
    """
    return tuple(c.name for c in INPUT_COLUMNS[kind] if not c.aside)


def column_type(name: str) -> str:
    """The SQL type of canonical column ``name`` (the same in every input table).

    Examples
    --------
    >>> column_type("amount"), column_type("timestamp"), column_type("session_id")
    ('DOUBLE', 'TIMESTAMP', 'VARCHAR')
    """
    return _TYPES[name]


_TYPES: Final = {c.name: c.sql_type for cols in INPUT_COLUMNS.values() for c in cols}


def _ddl(kind: str, version: int, aside: bool = False) -> str:
    """The column lines of ``kind``'s CREATE TABLE as of schema ``version``; ``aside``: for
    table ``kept_aside``, with the columns kept aside only."""
    lines = []
    for c in INPUT_COLUMNS[kind]:
        if c.since > version or (c.aside and not aside):
            continue
        name = f'"{c.name}"' if c.name == "timestamp" else c.name
        line = f"    {name:<12} {c.sql_type}{' NOT NULL' if c.not_null else ''},"
        lines.append(f"{line:<40}-- {c.comment}" if c.comment else line)
    return "\n".join(lines)


def _added(kind: str, version: int, table: str | None = None) -> str:
    """``ALTER TABLE … ADD COLUMN`` for each column of ``kind`` added in ``version``."""
    return "".join(
        f'ALTER TABLE {table or kind} ADD COLUMN "{c.name}" {c.sql_type};\n'
        for c in INPUT_COLUMNS[kind]
        if c.since == version and not c.aside
    )


_V1: Final = f"""
CREATE SEQUENCE IF NOT EXISTS load_id_seq START 1;
CREATE SEQUENCE IF NOT EXISTS run_id_seq START 1;

CREATE TABLE loads (
    load_id      INTEGER PRIMARY KEY,
    source       VARCHAR NOT NULL,   -- file path, 'DataFrame' or database URL (no password)
    kind         VARCHAR NOT NULL,   -- transactions | events | customers
    fingerprint  VARCHAR NOT NULL,   -- content hash: the same content is loaded once
    rows_read    BIGINT NOT NULL,
    accepted     BIGINT NOT NULL,
    rejected     BIGINT NOT NULL,
    mapping      VARCHAR,            -- JSON: canonical column -> source column
    loaded_at    TIMESTAMP NOT NULL
);

CREATE TABLE transactions (
{_ddl("transactions", 1)}
    is_return    BOOLEAN NOT NULL,
    load_id      INTEGER NOT NULL,
    line         BIGINT NOT NULL      -- line in the source file (1 = header)
);

CREATE TABLE events (
{_ddl("events", 1)}
    load_id      INTEGER NOT NULL,
    line         BIGINT NOT NULL
);

-- Attribute columns are added as they are first loaded (ALTER TABLE ADD COLUMN).
CREATE TABLE customers (
    customer_id  VARCHAR PRIMARY KEY,
    load_id      INTEGER NOT NULL,
    line         BIGINT NOT NULL
);

CREATE TABLE rejected_rows (
    load_id  INTEGER NOT NULL,
    source   VARCHAR NOT NULL,
    kind     VARCHAR NOT NULL,
    line     BIGINT NOT NULL,
    reason   VARCHAR NOT NULL,
    raw      VARCHAR NOT NULL         -- the row as read, JSON object of its fields
);

CREATE TABLE runs (
    run_id             INTEGER PRIMARY KEY,
    as_of              TIMESTAMP,
    started_at         TIMESTAMP NOT NULL,
    finished_at        TIMESTAMP,
    status             VARCHAR NOT NULL,  -- running | succeeded | failed
    parameters         VARCHAR,           -- JSON
    input_fingerprint  VARCHAR,
    message            VARCHAR
);

CREATE TABLE customer_features (
    run_id       INTEGER NOT NULL,
    customer_id  VARCHAR NOT NULL
);

CREATE TABLE customer_scores (
    run_id                   INTEGER NOT NULL,
    customer_id              VARCHAR NOT NULL,
    p_alive                  DOUBLE,
    expected_purchases_90d   DOUBLE,
    expected_purchases_365d  DOUBLE,
    predicted_clv_365d       DOUBLE,
    churn_probability        DOUBLE,
    rfm_r                    TINYINT,
    rfm_f                    TINYINT,
    rfm_m                    TINYINT,
    rfm_segment              VARCHAR,
    value_tier               VARCHAR,
    cluster                  INTEGER,
    segment                  VARCHAR
);

CREATE TABLE segments (
    run_id         INTEGER NOT NULL,
    lens           VARCHAR NOT NULL,   -- rfm | value_tier | cluster
    segment        VARCHAR NOT NULL,
    size           BIGINT NOT NULL,
    revenue_share  DOUBLE,
    profile        VARCHAR,            -- JSON
    rules          VARCHAR
);

CREATE TABLE model_fits (
    run_id     INTEGER NOT NULL,
    model      VARCHAR NOT NULL,
    params     VARCHAR,                -- JSON
    loglik     DOUBLE,
    aic        DOUBLE,
    bic        DOUBLE,
    converged  BOOLEAN,
    chosen     BOOLEAN,
    backtest   VARCHAR                 -- JSON
);

CREATE TABLE recommendations (
    run_id       INTEGER NOT NULL,
    customer_id  VARCHAR NOT NULL,
    rank         INTEGER NOT NULL,
    product_id   VARCHAR NOT NULL,
    score        DOUBLE,
    reason       VARCHAR
);

CREATE TABLE experiments (
    experiment_id  INTEGER PRIMARY KEY,
    name           VARCHAR NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    segment        VARCHAR,
    design         VARCHAR,            -- JSON
    status         VARCHAR NOT NULL
);
"""

# Orders that are not purchases (cancelled, voided, failed, pending payment) are kept,
# with their status, in a table of their own: every query of ``transactions`` reads
# purchases and returns only. A column added to transactions later is added here too.
# A refunded order's refund is one return row in transactions, line_item 'refund'.
_V2: Final = f"""
{_added("transactions", 2)}
ALTER TABLE loads ADD COLUMN currency VARCHAR;   -- the one currency of the load's amounts

CREATE TABLE kept_aside (
{_ddl("transactions", 2, aside=True)}
    reason       VARCHAR NOT NULL,    -- why: 'cancelled' (a cancel time) or the status
    load_id      INTEGER NOT NULL,
    line         BIGINT NOT NULL
);
"""

#: The predict stage's tables and columns (store/predict.py reads and writes them).
PREDICT_DDL: Final = """
ALTER TABLE customer_scores ADD COLUMN predicted_spend_90d DOUBLE;
ALTER TABLE customer_scores ADD COLUMN expected_next_order_date DATE;

CREATE TABLE predict_fits (
    run_id   INTEGER NOT NULL,
    task     VARCHAR NOT NULL,   -- churn | spend | clv_365d
    model    VARCHAR NOT NULL,   -- lr | tree | rf | lgbm | btyd
    params   VARCHAR,            -- JSON: the learner's hyperparameters
    metrics  VARCHAR,            -- JSON: the validation fold's metrics
    chosen   BOOLEAN NOT NULL,
    reason   VARCHAR             -- why chosen, or why the baseline stands in
);

-- A sample of the validation fold's out-of-fold predictions, every model's, so the report
-- can draw ROC, precision-recall, calibration and gain curves without refitting.
CREATE TABLE predict_validation (
    run_id      INTEGER NOT NULL,
    task        VARCHAR NOT NULL,    -- churn | spend
    row         INTEGER NOT NULL,    -- the sampled validation row
    target      DOUBLE NOT NULL,     -- churned (1/0), or the spend in the horizon
    model       VARCHAR NOT NULL,
    prediction  DOUBLE
);

CREATE TABLE customer_reasons (
    run_id        INTEGER NOT NULL,
    customer_id   VARCHAR NOT NULL,
    rank          TINYINT NOT NULL,  -- 1 = the largest contribution
    feature       VARCHAR NOT NULL,
    value         DOUBLE,
    contribution  DOUBLE,            -- to the churn log-odds (trees, linear) or probability
    text          VARCHAR NOT NULL
);
"""

# The predict stage's scores, fits and reasons (PREDICT_DDL); the recommend stage's model
# per row, its evaluation and each product's neighbours; and each run's notes, one line per
# thing a stage did not do or chose; each customer's next-best action; the fitted
# estimators of a run; the web app's keys, audit log and real-time segment changes.
_V3: Final = (
    PREDICT_DDL
    + """
ALTER TABLE recommendations ADD COLUMN model VARCHAR;  -- the model that chose the row

CREATE TABLE recommend_evaluation (
    run_id     INTEGER NOT NULL,
    model      VARCHAR NOT NULL,   -- als | bpr | item_item | popularity … | served
    chosen     BOOLEAN NOT NULL,
    cohort     VARCHAR NOT NULL,   -- all | one order | two or more orders
    segment    VARCHAR NOT NULL,   -- all, or a segment of the run
    metric     VARCHAR NOT NULL,   -- precision | recall | ndcg | map | hit_rate | coverage …
    k          INTEGER NOT NULL,
    value      DOUBLE,
    customers  BIGINT
);

CREATE TABLE similar_products (
    run_id              INTEGER NOT NULL,
    product_id          VARCHAR NOT NULL,
    rank                INTEGER NOT NULL,
    similar_product_id  VARCHAR NOT NULL,
    score               DOUBLE
);

CREATE TABLE customer_actions (
    run_id          INTEGER NOT NULL,
    customer_id     VARCHAR NOT NULL,
    action          VARCHAR NOT NULL,   -- the playbook's action name
    priority        INTEGER,            -- lower comes first
    value_at_stake  DOUBLE,             -- e.g. predicted CLV x churn probability
    rule            VARCHAR NOT NULL    -- the playbook rule that chose it, as written
);

-- Each run's fitted estimators (value model, spend model, segmenter, churn and spend
-- learners), so a server can score a new order without refitting. joblib's pickle: load
-- only a store you trust, as any pickle.
CREATE TABLE run_estimators (
    run_id    INTEGER NOT NULL,
    name      VARCHAR NOT NULL,   -- value_model | spend_model | segmenter | churn | spend …
    format    VARCHAR NOT NULL,   -- joblib
    versions  VARCHAR,            -- JSON: valueseg, scikit-learn, lightgbm, numpy versions
    bytes     BIGINT NOT NULL,
    blob      BLOB NOT NULL
);

-- The web app's API keys (only their SHA-256 is kept), its audit log of customer-level
-- reads and exports, and the segment changes real-time scoring makes.
CREATE TABLE api_keys (
    key_id      INTEGER PRIMARY KEY,
    key_hash    VARCHAR NOT NULL UNIQUE,  -- sha256 hex of the key
    prefix      VARCHAR NOT NULL,         -- the key's first characters, to recognise it
    role        VARCHAR NOT NULL,         -- viewer | analyst | admin
    label       VARCHAR,
    created_at  TIMESTAMP NOT NULL,
    revoked_at  TIMESTAMP
);

CREATE TABLE audit_log (
    logged_at    TIMESTAMP NOT NULL,
    key_id       INTEGER,                 -- NULL: the local admin token
    role         VARCHAR NOT NULL,
    action       VARCHAR NOT NULL,        -- e.g. read_customer, export, post_event
    target       VARCHAR,                 -- customer id, segment, export filter …
    detail       VARCHAR                  -- JSON
);

CREATE TABLE segment_changes (
    changed_at   TIMESTAMP NOT NULL,
    run_id       INTEGER NOT NULL,        -- the run whose estimators scored the change
    customer_id  VARCHAR NOT NULL,
    lens         VARCHAR NOT NULL,        -- rfm | value_tier | cluster | action
    before_value VARCHAR,
    after_value  VARCHAR,
    cause        VARCHAR                  -- e.g. order O123 posted to /v1/events
);

CREATE TABLE run_notes (
    run_id  INTEGER NOT NULL,
    stage   VARCHAR NOT NULL,   -- models | predict | segments | recommend
    note    VARCHAR NOT NULL
);
"""
)

# Customer attribute columns that hold personal data (e-mail, phone, name, address),
# tagged at ingest by their name and their content (valueseg.io.pii); every attribute
# column examined has a row, kind NULL when it looked like no personal data.
_V4: Final = """
CREATE TABLE pii_columns (
    table_name   VARCHAR NOT NULL,   -- customers
    column_name  VARCHAR NOT NULL,
    kind         VARCHAR,            -- email | phone | name | address; NULL: not personal
    how          VARCHAR,            -- name | content | name and content
    share        DOUBLE,             -- of the sampled values that matched the kind's pattern
    tagged_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (table_name, column_name)
);
"""

# Indexes by customer for what the web app reads of one customer (its lines, scores,
# reasons, action, recommendations): a point lookup instead of a scan of the whole table
# (2 ms instead of about 115 for a customer's lines among 7.9M, bench/api.py). They cost
# bulk writes (1M order lines appended in 2.8 s instead of 1.7) and, once, their build
# when a store is migrated (about 16 s for 7.9M lines). DuckDB cannot ALTER TABLE … ADD
# COLUMN on a table with an index: customer_features gets its index in schema 6 and is
# altered around it; customers needs none (its primary key is one); a later migration
# that alters one of these tables (or loads and events, indexed in schemas 7 and 8)
# drops its index first and creates it again after.
_V5: Final = """
CREATE INDEX IF NOT EXISTS transactions_customer ON transactions (customer_id);
CREATE INDEX IF NOT EXISTS customer_scores_customer ON customer_scores (customer_id);
CREATE INDEX IF NOT EXISTS customer_reasons_customer ON customer_reasons (customer_id);
CREATE INDEX IF NOT EXISTS customer_actions_customer ON customer_actions (customer_id);
CREATE INDEX IF NOT EXISTS recommendations_customer ON recommendations (customer_id);
"""

# The feature row of one customer (the real-time scoring reads it twice per posted order: a
# scan of 2M rows at 1M customers and two runs took 8 to 20 ms). A run that finds feature
# columns the table lacks drops this index, adds the columns and builds it again
# (valueseg.store.derived.write_features): DuckDB cannot add a column to a table with one.
_V6: Final = """
CREATE INDEX IF NOT EXISTS customer_features_customer ON customer_features (customer_id);
"""

# The loads by fingerprint: ingest's "loaded before" looks a source's fingerprint up in
# every load, and each order posted to the web app is a load of its own, so the scan grew
# with them (15 ms at 1M loads). valueseg.store.lines.earlier_load_row reads it with the
# fingerprint as the scan's one filter, so that DuckDB uses the index.
_V7: Final = """
CREATE INDEX IF NOT EXISTS loads_fingerprint ON loads (fingerprint);
"""

# The events by customer: a posted order's rescoring counts the customer's product views
# (view_to_purchase_rate), which scanned every event: 200 to 300 ms per order among 40M
# events on two busy cores, about 5 ms through this index (valueseg.store.web
# .customer_views reads it with the customer id as the scan's one filter). It costs event
# ingest its upkeep, and its build when a store is migrated (57 s for 40M events).
_V8: Final = """
CREATE INDEX IF NOT EXISTS events_customer ON events (customer_id);
"""

# The segment changes by customer: each batch of posted orders reads its customers' changes
# since the run, and a customer's page all of theirs. Every posted order that moves a lens
# adds rows, so without it both scanned a table that grows for as long as the web app
# takes orders (valueseg.store.many_customers.latest_changes_of reads it with the
# customer ids as the scan's one filter, so that DuckDB uses the index).
_V9: Final = """
CREATE INDEX IF NOT EXISTS segment_changes_customer ON segment_changes (customer_id);
"""

# Posted orders staged by the web app: each row one row of transactions, loads or
# segment_changes (``target``) as JSON, moved into its table in bulk and deleted
# (valueseg.store.staged). No index: a batch of posted orders commits its rows here in one
# cheap statement, 0.7 ms against 5.4 for the same rows appended to the indexed tables.
_V10: Final = """
CREATE TABLE IF NOT EXISTS posted_orders (
    seq    BIGINT NOT NULL,     -- the order rows move in
    target VARCHAR NOT NULL,    -- transactions | loads | segment_changes
    body   VARCHAR NOT NULL     -- JSON: column -> value
);
"""

#: Ordered migrations: (version, description, SQL). Append only.
MIGRATIONS: Final[tuple[tuple[int, str, str], ...]] = (
    (1, "initial schema: inputs, quarantine, runs and derived tables", _V1),
    (2, "order status, refunds, currency and line items; orders kept aside", _V2),
    (3, "predictions, reasons, recommendations' evaluation, actions, estimators, web app", _V3),
    (4, "personal-data tags of customer attribute columns", _V4),
    (5, "indexes by customer for one customer's lines, scores, reasons and actions", _V5),
    (6, "an index by customer on customer_features", _V6),
    (7, "an index by fingerprint on loads", _V7),
    (8, "an index by customer on events", _V8),
    (9, "an index by customer on segment_changes", _V9),
    (10, "posted orders staged by the web app before they move into their tables", _V10),
)

#: The schema version this valueseg writes.
SCHEMA_VERSION: Final = MIGRATIONS[-1][0]

#: Tables a user's data lives in, in the order `valueseg info` shows them.
DATA_TABLES: Final = (
    "transactions",
    "kept_aside",
    "events",
    "customers",
    "rejected_rows",
    "loads",
    "runs",
    "customer_features",
    "customer_scores",
    "segments",
    "model_fits",
    "predict_fits",
    "customer_reasons",
    "predict_validation",
    "recommendations",
    "recommend_evaluation",
    "similar_products",
    "customer_actions",
    "run_notes",
    "run_estimators",
    "experiments",
    "api_keys",
    "audit_log",
    "segment_changes",
    "pii_columns",
)
