-- Notifications: a transactional outbox that is also the in-app inbox, deliveries by e-mail and
-- SMS with every attempt recorded, per-account preferences, verified contacts and their codes,
-- and the server's signing secret (unsubscribe links).
--
-- A use case that changes something people must hear about writes the notification rows in the
-- same transaction as the change (src/db/notifications.rs `enqueue`). The row is the inbox
-- entry; its (user_id, key) pair is the idempotency key, so writing the same event twice stores
-- it once. Each external channel the recipient wants (and has a verified address for) gets a
-- `deliveries` row that the delivery workers claim like transcode jobs.

CREATE TABLE notifications (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    -- idempotency key of the event, e.g. "promoted:reg:42"
    key         TEXT NOT NULL,
    title       TEXT NOT NULL,
    body        TEXT NOT NULL,
    -- site-relative link ("/sessions/7"); mails make it absolute with the public URL
    link        TEXT,
    -- SMS template id and parameters (JSON object of strings)
    sms_template TEXT NOT NULL,
    sms_params  TEXT NOT NULL DEFAULT '{}',
    -- the session it is about, if any (organizer filters; reminders dropped on cancel)
    session_id  INTEGER REFERENCES lecture_sessions (id) ON DELETE SET NULL,
    -- after this instant nothing is sent any more (a reminder after the start)
    expires_at  TEXT,
    created_at  TEXT NOT NULL,
    read_at     TEXT,
    UNIQUE (user_id, key)
);
-- The inbox reads an account's rows through the UNIQUE (user_id, key) index and sorts its few
-- dozen rows by id; no second per-account index. Every index here is written by every sign-up
-- (BENCHMARKS.md, "Notifications"): only reminders need finding by session (to drop them when
-- the session moves or is cancelled).
CREATE INDEX notifications_session_reminders ON notifications (session_id) WHERE kind = 'reminder';

CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY,
    notification_id INTEGER NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    channel         TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
    state           TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'failed', 'skipped')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    max_attempts    INTEGER NOT NULL DEFAULT 8,
    -- queued: not before this instant (exponential backoff after a failure)
    next_attempt_at TEXT NOT NULL,
    worker          TEXT,
    -- sending: the worker's lease; a lease that ran out belongs to a dead worker
    lease_until     TEXT,
    last_error      TEXT,
    sent_at         TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (notification_id, channel)
);
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);

CREATE TABLE delivery_attempts (
    id          INTEGER PRIMARY KEY,
    delivery_id INTEGER NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    worker      TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    -- 'sent' or 'error'; NULL while running (or when its worker died)
    outcome     TEXT CHECK (outcome IN ('sent', 'error')),
    error       TEXT
);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id, id);

-- Explicit choices only; a missing row means the kind's default (crate::notify::Kind).
CREATE TABLE notification_prefs (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind    TEXT NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
    enabled INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    PRIMARY KEY (user_id, kind, channel)
);

-- An account's e-mail address and mobile for notifications. Mail and SMS go only to a
-- verified value; changing the value clears the verification.
CREATE TABLE contacts (
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('email', 'mobile')),
    value       TEXT NOT NULL,
    verified_at TEXT,
    -- one-click unsubscribe from all e-mail (signed link in every mail)
    email_unsubscribed_at TEXT,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (user_id, kind)
);

-- Pending verification codes (hashed), one per account and contact kind.
CREATE TABLE contact_codes (
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('email', 'mobile')),
    value      TEXT NOT NULL,
    code_hash  TEXT NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    expires_at TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (user_id, kind)
);

-- Secrets the server signs with, shared by every process on this database.
CREATE TABLE server_secrets (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO server_secrets (name, value) VALUES ('signing', lower(hex(randomblob(32))));
