-- The first schema: everything a paper-trading engine needs to resume exactly.
-- Decimals are TEXT (exact), times ISO-8601 UTC TEXT with microseconds (sortable),
-- enums their string value. Column names match the fields of engine.models.

-- Whether the trader wants each account's worker running; restarts honour it.
CREATE TABLE account_state (
    account_id TEXT PRIMARY KEY,
    running    INTEGER NOT NULL CHECK (running IN (0, 1))
);

CREATE TABLE paper_balances (
    account_id       TEXT PRIMARY KEY,
    starting_balance TEXT,
    balance          TEXT NOT NULL,
    updated_at       TEXT
);

CREATE TABLE orders (
    ticket          INTEGER PRIMARY KEY,
    account_id      TEXT NOT NULL,
    client_order_id TEXT NOT NULL,
    symbol          TEXT NOT NULL,
    side            TEXT NOT NULL,
    type            TEXT NOT NULL,
    volume          TEXT NOT NULL,
    price           TEXT,
    stop_limit      TEXT,
    sl              TEXT,
    tp              TEXT,
    status          TEXT NOT NULL,
    filled_volume   TEXT NOT NULL,
    fill_price      TEXT,
    retcode         INTEGER,
    reason          TEXT,
    source          TEXT NOT NULL,
    strategy_id     TEXT,
    position_ticket INTEGER,
    magic           INTEGER NOT NULL,
    comment         TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (account_id, client_order_id)
);
-- Newest first per account: the index carries the rowid (ticket) in order.
CREATE INDEX orders_account ON orders (account_id);
CREATE INDEX orders_open ON orders (account_id)
    WHERE status IN ('pending', 'placed', 'partially_filled');

-- Deals. No foreign key to orders: a fill must never be lost because its order
-- row arrived in another write.
CREATE TABLE fills (
    ticket          INTEGER PRIMARY KEY,
    order_ticket    INTEGER NOT NULL,
    position_ticket INTEGER NOT NULL,
    account_id      TEXT NOT NULL,
    symbol          TEXT NOT NULL,
    side            TEXT NOT NULL,
    entry           TEXT NOT NULL,
    volume          TEXT NOT NULL,
    price           TEXT NOT NULL,
    commission      TEXT NOT NULL,
    profit          TEXT NOT NULL,
    strategy_id     TEXT,
    time            TEXT NOT NULL
);
CREATE INDEX fills_account ON fills (account_id);

-- Open positions only; a closed one is deleted (its history is in fills).
CREATE TABLE positions (
    ticket        INTEGER PRIMARY KEY,
    account_id    TEXT NOT NULL,
    symbol        TEXT NOT NULL,
    side          TEXT NOT NULL,
    volume        TEXT NOT NULL,
    open_price    TEXT NOT NULL,
    open_time     TEXT NOT NULL,
    sl            TEXT,
    tp            TEXT,
    current_price TEXT,
    profit        TEXT NOT NULL,
    commission    TEXT NOT NULL,
    strategy_id   TEXT,
    magic         INTEGER NOT NULL,
    comment       TEXT NOT NULL
);
CREATE INDEX positions_account ON positions (account_id);

CREATE TABLE equity_history (
    account_id TEXT NOT NULL,
    time       TEXT NOT NULL,
    balance    TEXT NOT NULL,
    equity     TEXT NOT NULL,
    margin     TEXT NOT NULL,
    PRIMARY KEY (account_id, time)
) WITHOUT ROWID;

CREATE TABLE signals (
    id          INTEGER PRIMARY KEY,
    account_id  TEXT NOT NULL,
    strategy_id TEXT NOT NULL,
    symbol      TEXT NOT NULL,
    side        TEXT NOT NULL,
    strength    REAL NOT NULL,
    reason      TEXT NOT NULL,
    time        TEXT NOT NULL
);
CREATE INDEX signals_account ON signals (account_id);
CREATE INDEX signals_strategy ON signals (strategy_id);

CREATE TABLE alerts (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL,
    severity        TEXT NOT NULL,
    status          TEXT NOT NULL,
    message         TEXT NOT NULL,
    account_id      TEXT,
    dedup_key       TEXT,
    data            TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    acknowledged_at TEXT,
    resolved_at     TEXT
);
CREATE INDEX alerts_status ON alerts (status);

CREATE TABLE event_log (
    id         INTEGER PRIMARY KEY,
    time       TEXT NOT NULL,
    level      TEXT NOT NULL,
    account_id TEXT,
    message    TEXT NOT NULL
);
CREATE INDEX event_log_account ON event_log (account_id);

-- The last quote per symbol, so a restarted simulated market resumes its prices.
CREATE TABLE market_state (
    symbol TEXT PRIMARY KEY,
    bid    TEXT NOT NULL,
    ask    TEXT NOT NULL,
    time   TEXT NOT NULL,
    mid    REAL NOT NULL
);

-- Small JSON values the engine keeps between runs (strategy states, counters).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
