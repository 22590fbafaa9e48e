-- Risk limits, what the equity limits measure from, and the kill switch (issue 4).

-- Every limit the engine has known, by id. Limits from the configuration file are
-- written here the first time their id is seen; after that this row wins (edits
-- through the API or the panel). A deleted limit keeps its row (`deleted` = 1) so
-- that a limit of the file does not come back at the next start.
CREATE TABLE risk_limits (
    id          TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    scope       TEXT NOT NULL CHECK (scope IN ('global', 'account', 'symbol')),
    account_id  TEXT,
    symbol      TEXT,
    kind        TEXT NOT NULL,
    warning     TEXT,           -- Decimal, NULL for no warning
    threshold   TEXT NOT NULL,  -- Decimal
    action      TEXT NOT NULL CHECK (action IN ('block', 'pause', 'flatten')),
    enabled     INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    origin      TEXT NOT NULL CHECK (origin IN ('config', 'runtime')),
    deleted     INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

-- Per account (and '*' for all together): the peak equity drawdowns are measured
-- from, and the UTC day with its starting equity for the daily loss.
CREATE TABLE risk_books (
    account_id       TEXT PRIMARY KEY,
    peak_equity      TEXT NOT NULL,
    day              TEXT,
    day_start_equity TEXT,
    updated_at       TEXT NOT NULL
);

-- The kill switch: one row, the JSON of KillSwitchState.
CREATE TABLE kill_switch (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    state      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
