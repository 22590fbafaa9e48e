-- Who may use the API: users, API keys, refresh-token families, rate-limit
-- counters and the audit log. Secrets are never stored: keys as SHA-256 hashes,
-- passwords as scrypt hashes with their salt and parameters.

CREATE TABLE users (
    name          TEXT PRIMARY KEY,
    role          TEXT NOT NULL CHECK (role IN ('viewer', 'trader', 'admin')),
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

-- `prefix` is the visible part of the key (`tdk_<id>`); `key_hash` the SHA-256
-- of the whole key. `accounts` is a JSON list, NULL for every account.
CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    prefix     TEXT NOT NULL,
    key_hash   TEXT NOT NULL,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('viewer', 'trader', 'admin')),
    accounts   TEXT,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);

-- One row per refresh token issued. A token is used once; presenting a used
-- one again revokes its whole family (every token descended from one login).
CREATE TABLE refresh_tokens (
    jti        TEXT PRIMARY KEY,
    family     TEXT NOT NULL,
    username   TEXT NOT NULL,
    issued_at  TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);

CREATE TABLE refresh_families (
    family     TEXT PRIMARY KEY,
    username   TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT,
    reason     TEXT
);

-- Fixed-window request counters, per caller (key, user or address) and group.
CREATE TABLE rate_counters (
    subject      TEXT NOT NULL,
    grp          TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    count        INTEGER NOT NULL,
    PRIMARY KEY (subject, grp)
);

CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY,
    time       TEXT NOT NULL,
    actor      TEXT NOT NULL,
    actor_kind TEXT NOT NULL,
    role       TEXT,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    request_id TEXT,
    details    TEXT NOT NULL
);
CREATE INDEX audit_log_time ON audit_log (time);
CREATE INDEX audit_log_actor ON audit_log (actor, id);
