-- Background jobs, their schedules, and what jobs produce (parameter sets of
-- optimisations, daily reports). Columns match engine.models.Job, Schedule,
-- ParamSet and DailyReport; JSON values are TEXT.

CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY,
    handler          TEXT NOT NULL,
    args             TEXT NOT NULL,
    account_id       TEXT,
    priority         TEXT NOT NULL,
    state            TEXT NOT NULL,
    attempts         INTEGER NOT NULL,
    max_retries      INTEGER NOT NULL,
    timeout_seconds  REAL,
    dedup_key        TEXT,
    schedule         TEXT,
    progress         REAL NOT NULL,
    message          TEXT NOT NULL,
    result           TEXT,
    error            TEXT,
    traceback        TEXT,
    cancel_requested INTEGER NOT NULL,
    runner           TEXT,
    created_at       TEXT NOT NULL,
    run_at           TEXT NOT NULL,
    started_at       TEXT,
    finished_at      TEXT,
    lease_until      TEXT
);
-- What a start loads back into the queue: only the jobs still to run.
CREATE INDEX jobs_active ON jobs (state)
    WHERE state IN ('pending', 'scheduled', 'running', 'failed');
-- The database itself refuses a second active job with the same key.
CREATE UNIQUE INDEX jobs_dedup ON jobs (dedup_key)
    WHERE dedup_key IS NOT NULL AND state IN ('pending', 'scheduled', 'running', 'failed');
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;

CREATE TABLE schedules (
    name                  TEXT PRIMARY KEY,
    handler               TEXT NOT NULL,
    args                  TEXT NOT NULL,
    priority              TEXT NOT NULL,
    kind                  TEXT NOT NULL,
    every_seconds         REAL,
    cron                  TEXT,
    enabled               INTEGER NOT NULL,
    misfire_grace_seconds INTEGER NOT NULL,
    max_retries           INTEGER,
    timeout_seconds       REAL,
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL,
    last_run_at           TEXT
);

CREATE TABLE param_sets (
    id          INTEGER PRIMARY KEY,
    job_id      INTEGER,
    kind        TEXT NOT NULL,
    strategy_id TEXT,
    symbol      TEXT NOT NULL,
    timeframe   TEXT NOT NULL,
    params      TEXT NOT NULL,
    objective   TEXT NOT NULL,
    score       REAL,
    metrics     TEXT NOT NULL,
    rank        INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    deployed_at TEXT,
    deployed_to TEXT
);
CREATE INDEX param_sets_job ON param_sets (job_id);

CREATE TABLE daily_reports (
    day          TEXT NOT NULL,
    account_id   TEXT NOT NULL,
    start_equity TEXT NOT NULL,
    end_equity   TEXT NOT NULL,
    pnl          TEXT NOT NULL,
    trades       INTEGER NOT NULL,
    metrics      TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (day, account_id)
) WITHOUT ROWID;
