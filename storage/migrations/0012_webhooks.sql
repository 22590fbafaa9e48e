-- Signed webhooks registered over the API: where alerts are posted, which
-- kinds, for which accounts, and the shared secret that signs each delivery.

CREATE TABLE webhooks (
    id          INTEGER PRIMARY KEY,
    url         TEXT NOT NULL,
    events      TEXT NOT NULL,          -- JSON list of alert kinds; ["*"] for all
    accounts    TEXT,                   -- JSON list, NULL for every account
    secret      TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
