-- Accounts, enterprises, login sessions and the failed-login throttle.
-- Timestamps are RFC 3339 UTC text; SQL stays portable to PostgreSQL (see README).

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    role          TEXT NOT NULL CHECK (role IN ('organizer', 'lawyer', 'enterprise')),
    -- login name of staff accounts; enterprises log in with their credit code or mobile
    username      TEXT UNIQUE,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL
);

CREATE TABLE enterprises (
    user_id        INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    uscc           TEXT NOT NULL UNIQUE,
    industry       TEXT NOT NULL CHECK (length(industry) = 1),
    district       TEXT,
    contact_name   TEXT NOT NULL,
    mobile         TEXT NOT NULL UNIQUE,
    -- secret of the personal calendar feed /calendar/{token}.ics
    calendar_token TEXT NOT NULL UNIQUE
);

CREATE TABLE login_sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX login_sessions_user ON login_sessions (user_id);

-- Failed login attempts per scope ("account:<login>" or "ip:<address>") in a fixed window.
CREATE TABLE login_failures (
    scope        TEXT PRIMARY KEY,
    window_start TEXT NOT NULL,
    failures     INTEGER NOT NULL
);
