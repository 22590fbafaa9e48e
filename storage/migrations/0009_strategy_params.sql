-- Parameters deployed to a strategy at run time (POST /models/deploy, the jobs
-- screen), so a restart of the worker or the engine keeps running with them.
-- One row per strategy, of either origin; it overrides the file's or the stored
-- definition's `params`. `model_id` is the parameter set they came from.

CREATE TABLE strategy_params (
    id          TEXT PRIMARY KEY,
    params      TEXT NOT NULL,   -- JSON object, validated by the kind's parameter model
    model_id    INTEGER,
    deployed_at TEXT NOT NULL
);
