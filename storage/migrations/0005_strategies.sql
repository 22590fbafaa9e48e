-- Strategies changed while the engine runs, so a restart keeps what a person did.

-- Strategies added at run time (POST /strategies, the panel): the whole definition.
-- Strategies from the configuration file are not copied here: the file stays their source.
CREATE TABLE strategies (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    kind       TEXT NOT NULL,
    params     TEXT NOT NULL,  -- JSON object, validated by the kind's parameter model
    symbols    TEXT NOT NULL,  -- JSON list
    timeframe  TEXT NOT NULL,
    risk       TEXT,           -- JSON RiskOverrides, NULL to inherit the account's
    created_at TEXT NOT NULL
);
CREATE INDEX strategies_account ON strategies (account_id);

-- What a person did to a strategy of either origin: paused it, or removed it (kept
-- as a row so that its id never names another strategy). A running one has no row.
CREATE TABLE strategy_state (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('paused', 'removed')),
    updated_at TEXT NOT NULL
);
