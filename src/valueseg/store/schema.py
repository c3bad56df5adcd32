"""The warehouse schema as an ordered list of migrations.

Each migration is applied once, in order, inside one transaction, and recorded in
``schema_version``. A store written by a newer valueseg (higher version) is refused rather
than misread. Add a migration by appending to :data:`MIGRATIONS`; never edit a released one.
"""

from __future__ import annotations

from typing import Final

_V1: Final = """
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
    customer_id  VARCHAR NOT NULL,
    order_id     VARCHAR NOT NULL,
    "timestamp"  TIMESTAMP NOT NULL,  -- naive UTC (offsets in the input are converted)
    amount       DOUBLE NOT NULL,     -- line amount; negative for returns
    product_id   VARCHAR,
    category     VARCHAR,
    quantity     DOUBLE,
    unit_price   DOUBLE,
    discount     DOUBLE,
    channel      VARCHAR,
    is_return    BOOLEAN NOT NULL,
    load_id      INTEGER NOT NULL,
    line         BIGINT NOT NULL      -- line in the source file (1 = header)
);

CREATE TABLE events (
    customer_id  VARCHAR NOT NULL,
    "timestamp"  TIMESTAMP NOT NULL,
    event_type   VARCHAR NOT NULL,
    product_id   VARCHAR,
    session_id   VARCHAR,
    duration_s   DOUBLE,
    rating       DOUBLE,
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

#: Ordered migrations: (version, description, SQL). Append only.
MIGRATIONS: Final[tuple[tuple[int, str, str], ...]] = (
    (1, "initial schema: inputs, quarantine, runs and derived tables", _V1),
)

#: The schema version this valueseg writes.
SCHEMA_VERSION: Final = MIGRATIONS[-1][0]

#: Tables a user's data lives in, in the order `valueseg info` shows them.
DATA_TABLES: Final = (
    "transactions",
    "events",
    "customers",
    "rejected_rows",
    "loads",
    "runs",
    "customer_features",
    "customer_scores",
    "segments",
    "model_fits",
    "recommendations",
    "experiments",
)
