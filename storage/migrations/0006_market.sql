-- Price alerts, and instruments edited while the engine runs.

CREATE TABLE price_alerts (
    id                INTEGER PRIMARY KEY,
    symbol            TEXT NOT NULL,
    direction         TEXT NOT NULL CHECK (direction IN ('above', 'below')),
    level             TEXT NOT NULL,
    repeat            INTEGER NOT NULL CHECK (repeat IN (0, 1)),
    severity          TEXT NOT NULL,
    note              TEXT NOT NULL,
    account_id        TEXT,
    active            INTEGER NOT NULL CHECK (active IN (0, 1)),
    armed             INTEGER NOT NULL CHECK (armed IN (0, 1)),
    triggered_count   INTEGER NOT NULL,
    last_triggered_at TEXT,
    last_price        TEXT,
    created_by        TEXT NOT NULL,
    created_at        TEXT NOT NULL
);
CREATE INDEX price_alerts_symbol ON price_alerts (symbol);

-- Instruments added, changed or deleted through the API, applied over the
-- configuration file's [instruments] at every start. `config` is the instrument's
-- JSON; NULL deletes a symbol the file defines.
CREATE TABLE instrument_overrides (
    symbol     TEXT PRIMARY KEY,
    config     TEXT,
    updated_at TEXT NOT NULL
);

-- Our recent trades per symbol, for the market-data cache.
CREATE INDEX fills_symbol ON fills (symbol);
